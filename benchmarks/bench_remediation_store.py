"""Incidents per second through the persisted risk path: load incident + history (PostgreSQL),
assess, plan, store assessment/run/steps with audit rows, then the guard step (Redis Lua) and
its audit row. Dry run, no AWS, no Celery: the handlers the tasks call, in one process.

Not a test. Usage: python -m benchmarks.bench_remediation_store [--incidents 300]
    [--pg-admin-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres] [--redis-url redis://127.0.0.1:6379/15]
"""

from __future__ import annotations

import argparse
import json
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import redis
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade
from adapters.guard_store import RedisGuardStore
from benchmarks.machine import describe
from config.settings import load_settings
from pipeline.correlation import CorrelationPolicy
from pipeline.events import AlertBatch, AlertReceived, alert_event_id
from smartcloudops.bootstrap import build_remediation
from services import remediation as flow

# (alertname, service, severity, instance) from the shipped catalog: auto, approval and refused plans.
ALERTS = [
    ("InstanceDown", "search", "warning", "i-0b1b2c3d4e5f60011"),
    ("InstanceDown", "orders", "critical", "i-0d1b2c3d4e5f60032"),
    ("HighCPU", "web", "warning", None),
    ("HighErrorRate", "payments", "critical", None),
    ("InstanceDown", "search", "warning", "i-0ffffffffffff0001"),  # foreign instance: refused
]
NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)  # a Wednesday morning: no freeze window


def alert(n: int) -> AlertReceived:
    alertname, service, severity, instance = ALERTS[n % len(ALERTS)]
    labels = {"alertname": alertname, "service": service, "severity": severity}
    if instance:
        labels["instance_id"] = instance
    starts = NOW - timedelta(hours=3) + timedelta(seconds=10 * n)  # far apart: one incident each
    fingerprint = f"bench{n:08d}"
    return AlertReceived(
        alert_event_id(fingerprint, "firing", starts),
        fingerprint,
        "firing",
        labels,
        {},
        starts,
        None,
        "",
        "bench",
        "bench",
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--incidents", type=int, default=300)
    parser.add_argument(
        "--pg-admin-url",
        default=os.environ.get(
            "SCO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
    )
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args()

    name = f"sco_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(args.pg_admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = args.pg_admin_url.rsplit("/", 1)[0] + f"/{name}"
    client = redis.Redis.from_url(args.redis_url)
    client.flushdb()
    try:
        engine = create_engine(url)
        upgrade(engine)
        store = AlertStore(
            engine, CorrelationPolicy(labels=("alertname", "service"), window=timedelta(seconds=1))
        )
        opened = []
        for n in range(args.incidents):
            outcome = store.record_batch(
                AlertBatch((alert(n),), "g", "bench", 0, ""), trace_id="b" * 32, now=NOW
            )
            opened.extend(outcome.opened)
        rt = build_remediation(load_settings(), engine, guards=RedisGuardStore(client))
        started = time.perf_counter()
        states: dict[str, int] = {}
        for incident_id in opened:
            run = flow.assess_incident(
                rt,
                incident_id=incident_id,
                event_id=f"assess-{incident_id}",
                trace_id="b" * 32,
                now=NOW,
            )
            states[run.state] = states.get(run.state, 0) + 1
            if run.state == "running":
                flow.guard(rt, run_id=run.run_id, index=0, now=NOW)
        elapsed = time.perf_counter() - started
        engine.dispose()
    finally:
        client.flushdb()
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(
        json.dumps(
            {
                "benchmark": "assess+plan+store (+guard when auto), PostgreSQL + Redis, dry run",
                "incidents": len(opened),
                "seconds": round(elapsed, 3),
                "incidents_per_s": round(len(opened) / elapsed, 1),
                "outcomes": states,
                "load_average": os.getloadavg(),
                "machine": describe(("sqlalchemy", "psycopg", "redis")),
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
