"""Incidents per second through assess + plan + guard check-and-reserve (dry run: no AWS).

Runs the same stream of incidents twice: guards on the in-memory fake, then on real Redis
(one Lua round trip per step), and prints both rates, their ratio and the machine.
Not a test. Usage: python benchmarks/bench_risk.py [--incidents 5000] [--redis-url ...]
"""

from __future__ import annotations

import argparse
import os
import platform
import time
import uuid
from datetime import UTC, datetime

import redis

from adapters.guard_store import RedisGuardStore
from config.policy import load_remediation_config
from pipeline.remediation import InMemoryGuardStore, RemediationPlan, guard_step, plan
from pipeline.risk import IncidentFacts, TargetHistory, assess

ALERTS = [
    ("InstanceDown", "search", "warning", "i-0b1b2c3d4e5f60011"),
    ("InstanceDown", "orders", "critical", "i-0d1b2c3d4e5f60032"),
    ("HighCPU", "web", "warning", None),
    ("HighErrorRate", "payments", "critical", None),
    ("HighErrorRate", "checkout", "warning", "i-0a1b2c3d4e5f60003"),
    ("DiskFull", "auth", "info", None),
]


def incidents(count: int, catalog) -> list[IncidentFacts]:
    """A deterministic mix of alert kinds, services and anomaly scores."""
    facts = []
    for n in range(count):
        alertname, service, severity, instance = ALERTS[n % len(ALERTS)]
        labels = {"alertname": alertname, "service": service, "severity": severity}
        facts.append(
            IncidentFacts.from_catalog(
                catalog,
                incident_id=f"bench-{n}",
                service=service,
                alertname=alertname,
                labels=labels,
                targets=(instance,) if instance else (),
                anomaly_scores=tuple(((n * 7 + k) % 100) / 100 for k in range(n % 4)),
            )
        )
    return facts


def run(stream, store, catalog, policy, now) -> tuple[float, dict[str, int]]:
    outcomes: dict[str, int] = {}
    started = time.perf_counter()
    for facts in stream:
        assessment = assess(facts, TargetHistory(), policy, now)
        planned = plan(facts, assessment, catalog, policy)
        if not isinstance(planned, RemediationPlan):
            outcomes[planned.reason_code] = outcomes.get(planned.reason_code, 0) + 1
            continue
        for step in planned.steps:
            verdict = guard_step(store, planned, step, catalog, policy, approved=True, now=now)
            outcomes[verdict.reason_code] = outcomes.get(verdict.reason_code, 0) + 1
    elapsed = time.perf_counter() - started
    return len(stream) / elapsed, outcomes


def machine() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    return (
        f"{platform.node()} {platform.machine()} {os.cpu_count()} cpu(s), "
        f"{platform.processor() or platform.platform()}, Python {platform.python_version()}, "
        f"load {load:.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--incidents", type=int, default=5000)
    parser.add_argument(
        "--redis-url", default=os.environ.get("SCO_REDIS_URL", "redis://127.0.0.1:6379/0")
    )
    args = parser.parse_args()

    catalog, policy = load_remediation_config()
    # A fixed Wednesday morning, outside the shipped freeze windows.
    now = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    stream = incidents(args.incidents, catalog)

    fake_rate, fake_outcomes = run(stream, InMemoryGuardStore(), catalog, policy, now)
    client = redis.Redis.from_url(args.redis_url)
    prefix = f"bench-{uuid.uuid4().hex}"
    try:
        redis_rate, redis_outcomes = run(
            stream, RedisGuardStore(client, prefix), catalog, policy, now
        )
    finally:
        for key in client.scan_iter(match="{" + prefix + "}*"):
            client.delete(key)

    print(f"machine: {machine()}")
    print(f"incidents: {args.incidents}")
    print(f"fake store : {fake_rate:10.0f} incidents/s  {dict(sorted(fake_outcomes.items()))}")
    print(f"real Redis : {redis_rate:10.0f} incidents/s  {dict(sorted(redis_outcomes.items()))}")
    print(f"ratio fake/redis: {fake_rate / redis_rate:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
