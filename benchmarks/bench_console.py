"""Console pages against the JSON API's same queries, on 10,000 incidents and 200,000 audit rows.

    python -m benchmarks.bench_console [--incidents 10000] [--audit-rows 200000] [--requests 300]

A fresh PostgreSQL database is filled in bulk (incidents, one alert each, hash-chained audit rows
spread over the incidents, a risk assessment and a run for every 10th), then `smartcloudops serve`
answers over real HTTP: the incident list (first page, and a filtered page further back) and
incident pages at random, signed in as a console user, and the JSON API's list and incident with an
API key. Prints p50/p95/p99 in milliseconds and writes benchmarks/results/bench_console.json.
Targets (issue #17): list p95 <= 100 ms, incident page p95 <= 150 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import sqlalchemy as sa

from benchmarks.harness import ROOT, drop_database, free_port, fresh_database, start, stop
from benchmarks.machine import describe

RESULTS = ROOT / "benchmarks" / "results" / "bench_console.json"
SERVICES = ("checkout", "payments", "search", "catalog", "auth", "ledger", "mail", "media")
SEVERITIES = ("critical", "warning", "info")
T0 = datetime(2026, 11, 1, tzinfo=UTC)


def fill(url: str, incidents_n: int, audit_n: int) -> None:
    """Incidents, alerts, a verified audit chain, and risk + runs for some incidents, in bulk."""
    from adapters.db.engine import create_engine
    from adapters.db.schema import alerts, audit_head, audit_log, incidents
    from adapters.db.schema_remediation import remediation_runs, remediation_steps, risk_assessments
    from pipeline.audit import GENESIS_HASH, AuditRecord, canonical_body, link_hash

    engine = create_engine(url)
    rng = random.Random(17)
    with engine.begin() as conn:
        rows, alert_rows = [], []
        for n in range(1, incidents_n + 1):
            opened = T0 + timedelta(minutes=4 * n)
            service, severity = SERVICES[n % len(SERVICES)], SEVERITIES[n % 3]
            resolved = n < incidents_n * 0.9
            rows.append({"id": n, "correlation_key": f"HighLatency|{service}|{n}", "alertname": "HighLatency",
                         "service": service, "severity": severity, "status": "resolved" if resolved else "open",
                         "opened_at": opened, "last_seen_at": opened + timedelta(minutes=10),
                         "resolved_at": opened + timedelta(minutes=20) if resolved else None,
                         "firing_count": 0 if resolved else 1, "alert_count": 1, "trace_id": f"{n:032x}",
                         "created_at": opened, "updated_at": opened})
            alert_rows.append({"incident_id": n, "fingerprint": f"{n:016x}", "starts_at": opened,
                               "status": "resolved" if resolved else "firing", "alertname": "HighLatency",
                               "service": service, "severity": severity,
                               "labels": {"alertname": "HighLatency", "service": service, "instance": f"{service}-{n % 7}"},
                               "annotations": {"summary": "p99 latency above 2 s"}, "received_at": opened,
                               "updated_at": opened})
        for chunk in range(0, len(rows), 2000):
            conn.execute(incidents.insert(), rows[chunk:chunk + 2000])
            conn.execute(alerts.insert(), alert_rows[chunk:chunk + 2000])
        prev, batch = GENESIS_HASH, []
        for seq in range(1, audit_n + 1):
            incident_id = rng.randint(1, incidents_n)
            record = AuditRecord(kind=rng.choice(("alert.firing", "alert.resolved", "risk.assessed",
                                                  "remediation.guard_allowed")),
                                 occurred_at=T0 + timedelta(seconds=12 * seq), actor="system",
                                 incident_id=incident_id, trace_id=f"{incident_id:032x}",
                                 data={"n": seq, "service": SERVICES[incident_id % len(SERVICES)]})
            body = canonical_body(record, seq)
            digest = link_hash(prev, body)
            batch.append({"seq": seq, "occurred_at": record.occurred_at, "kind": record.kind,
                          "incident_id": incident_id, "body": body, "prev_hash": prev, "hash": digest})
            prev = digest
            if len(batch) == 5000:
                conn.execute(audit_log.insert(), batch)
                batch = []
        if batch:
            conn.execute(audit_log.insert(), batch)
        conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=audit_n, hash=prev))
        for n in range(10, incidents_n + 1, 10):
            at = T0 + timedelta(minutes=4 * n + 1)
            conn.execute(risk_assessments.insert().values(
                incident_id=n, event_id=f"assess-{n}", score=42.0, decision="needs_approval",
                factors=[{"name": "severity", "value": 1.0, "weight": 0.3, "contribution": 23.1,
                          "explanation": "severity maps to 1.00"}],
                freeze_window=None, assessed_at=at))
    engine.dispose()


def _percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
    return {"p50_ms": round(statistics.median(ordered), 1), "p95_ms": round(pick(0.95), 1),
            "p99_ms": round(pick(0.99), 1), "n": len(ordered)}


def timed(client: httpx.Client, paths: list[str], headers: dict[str, str]) -> dict[str, float]:
    for path in paths[:10]:  # warm the pool and the caches
        client.get(path, headers=headers).raise_for_status()
    samples = []
    for path in paths:
        started = time.perf_counter()
        answer = client.get(path, headers=headers)
        samples.append((time.perf_counter() - started) * 1000)
        answer.raise_for_status()
    return _percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=10_000)
    parser.add_argument("--audit-rows", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=300)
    args = parser.parse_args()

    from adapters.db.api_key_store import ApiKeyStore
    from adapters.db.console_store import ConsoleUserStore
    from adapters.db.engine import create_engine

    name, url = fresh_database("sco_bench_console", migrate=True)
    workdir = Path(f"/tmp/{name}")
    workdir.mkdir(parents=True, exist_ok=True)
    server = None
    try:
        started = time.perf_counter()
        fill(url, args.incidents, args.audit_rows)
        filled_s = time.perf_counter() - started
        engine = create_engine(url)
        with engine.begin() as conn:
            conn.execute(sa.text("ANALYZE"))
        now = datetime.now(UTC)
        ConsoleUserStore(engine).create("bench", "viewer", "bench-password-0123", actor="bench", now=now)
        key = ApiKeyStore(engine).create("bench", "viewer", actor="bench", now=now)
        engine.dispose()
        port = free_port()
        env = {**os.environ, "SCO_DATABASE_URL": url, "SCO_DATA_DIR": str(workdir), "SCO_HTTP_PORT": str(port),
               "SCO_HTTP_HOST": "127.0.0.1", "SCO_LOG_LEVEL": "WARNING"}
        server = start(["serve"], env, workdir / "serve.log")
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=30) as client:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    if client.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.3)
            session = _sign_in(client)
            rng = random.Random(5)
            ids = [rng.randint(1, args.incidents) for _ in range(args.requests)]
            middle = args.incidents // 2
            api = {"Authorization": f"Bearer {key}"}
            results = {
                "console_list_first_page": timed(client, ["/console"] * args.requests, session),
                "api_list_first_page": timed(client, ["/v1/incidents?limit=50"] * args.requests, api),
                "console_list_filtered_deep": timed(
                    client, [f"/console?service=search&state=resolved&before={middle}"] * args.requests, session),
                "api_list_filtered_deep": timed(
                    client, [f"/v1/incidents?service=search&status=resolved&before={middle}&limit=50"]
                    * args.requests, api),
                "console_incident": timed(client, [f"/console/incidents/{i}" for i in ids], session),
                "api_incident": timed(client, [f"/v1/incidents/{i}" for i in ids], api),
            }
    finally:
        if server is not None:
            stop(server)
        drop_database(name)
    report = {
        "benchmark": "console pages vs the JSON API, PostgreSQL, one `smartcloudops serve`, sequential requests",
        "incidents": args.incidents, "audit_rows": args.audit_rows, "fill_s": round(filled_s, 1),
        "results": results,
        "targets": {"console_list_p95_ms": 100, "console_incident_p95_ms": 150},
        "load_average": os.getloadavg(),
        "machine": describe(("sqlalchemy", "psycopg", "starlette", "jinja2")),
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps(report, indent=2))


def _sign_in(client: httpx.Client) -> dict[str, str]:
    """Sign in through the form; the session cookie is Secure, so it is sent by hand over plain HTTP."""
    page = client.get("/console/login")
    pre = page.cookies.get("sco_console_pre") or _cookie(page, "sco_console_pre")
    csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    answer = client.post("/console/login", data={"csrf": csrf, "username": "bench", "password": "bench-password-0123"},
                         headers={"Cookie": f"sco_console_pre={pre}"})
    assert answer.status_code == 303, answer.text[:300]
    return {"Cookie": f"sco_console={_cookie(answer, 'sco_console')}"}


def _cookie(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header.split(";", 1)[0].split("=", 1)[1]
    raise AssertionError(f"no {name} cookie in {response.headers}")


if __name__ == "__main__":
    main()
