"""A simulated estate whose incidents have hidden causes, for judging learners on outcomes.

    python -m benchmarks.estate_sim --weeks 16 --seed 7 --out .bench/estate.jsonl

SIMULATED DATA. Every figure computed from this file is a statement about this simulator,
not about any real estate. It exists because learning which action fixes which incident
cannot be judged without knowing, for each incident, what every allowed action would have
done, and no production log records that.

The model, stated so it can be argued with:
- Services have a tier, instances, a deploy cadence and a database or not.
- Faults have a hidden kind (disk full, memory leak, bad deploy, hung instance, connection
  pool exhaustion, noisy neighbour, traffic surge). Each kind fires one of a few alert
  names, so the alert alone does not say which fault it is; it shows in the anomaly scores
  of some series kinds only sometimes (a detector misses some episodes) and a bad deploy
  follows a recent change.
- Each action has a chance of fixing each fault kind (resolved and not back within 24 h);
  services differ a little (a multiplier per service and action).
- History: the on-call follows the written playbook for the alert name most of the time,
  otherwise tries what they think best; they stop after a fix or three attempts.
Each line is one incident: the context a learner may see, the allowed actions, the
attempts made and their outcomes, and each allowed action's true chance (the oracle).
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

REBOOT, RESTART, REDEPLOY, SCALE, DB_REBOOT = (
    "ec2_reboot",
    "ssm_run_command",
    "ecs_force_new_deployment",
    "asg_set_desired_capacity",
    "rds_reboot",
)
ACTIONS = (REBOOT, RESTART, REDEPLOY, SCALE, DB_REBOOT)

# The written playbook: what an on-call is told to try first for each alert name.
PLAYBOOK = {
    "HighLatency": [SCALE, RESTART],
    "HighErrorRate": [REDEPLOY, RESTART],
    "InstanceDown": [REBOOT],
    "DiskAlmostFull": [RESTART],
    "DatabaseConnectionsHigh": [DB_REBOOT, RESTART],
}


@dataclass(frozen=True)
class FaultKind:
    name: str
    weight: float  # relative frequency
    alerts: dict[str, float]  # alert name -> share of this fault's incidents
    reveals: dict[str, float]  # series kind -> chance the detector sees it
    fixes: dict[str, float]  # action -> chance of a lasting fix
    after_change: bool = False
    daytime: bool = False


FAULTS = (
    FaultKind("disk_full", 1.0, {"DiskAlmostFull": 0.7, "HighErrorRate": 0.3}, {"disk": 0.8},
              {RESTART: 0.8, REBOOT: 0.35, REDEPLOY: 0.2, SCALE: 0.1, DB_REBOOT: 0.02}),
    FaultKind("memory_leak", 1.4, {"HighLatency": 0.5, "InstanceDown": 0.3, "HighErrorRate": 0.2},
              {"memory": 0.7, "latency": 0.4},
              {RESTART: 0.7, REBOOT: 0.75, REDEPLOY: 0.6, SCALE: 0.2, DB_REBOOT: 0.02}),
    FaultKind("bad_deploy", 1.2, {"HighErrorRate": 0.7, "HighLatency": 0.3}, {"errors": 0.75},
              {REDEPLOY: 0.85, RESTART: 0.1, REBOOT: 0.05, SCALE: 0.08, DB_REBOOT: 0.02},
              after_change=True),
    FaultKind("hung_instance", 0.9, {"InstanceDown": 0.7, "HighLatency": 0.3}, {"cpu": 0.3},
              {REBOOT: 0.9, RESTART: 0.45, REDEPLOY: 0.4, SCALE: 0.3, DB_REBOOT: 0.01}),
    FaultKind("connection_pool", 0.8,
              {"DatabaseConnectionsHigh": 0.5, "HighLatency": 0.3, "HighErrorRate": 0.2},
              {"connections": 0.75, "latency": 0.5},
              {RESTART: 0.75, DB_REBOOT: 0.5, REBOOT: 0.55, REDEPLOY: 0.5, SCALE: 0.25}),
    FaultKind("noisy_neighbour", 0.7, {"HighLatency": 0.8, "InstanceDown": 0.2}, {"cpu": 0.6},
              {SCALE: 0.7, REBOOT: 0.25, RESTART: 0.05, REDEPLOY: 0.3, DB_REBOOT: 0.01}),
    FaultKind("traffic_surge", 1.0, {"HighLatency": 0.7, "HighErrorRate": 0.3},
              {"cpu": 0.7, "latency": 0.6},
              {SCALE: 0.9, REDEPLOY: 0.1, RESTART: 0.05, REBOOT: 0.03, DB_REBOOT: 0.02},
              daytime=True),
)
SERIES_KINDS = ("cpu", "memory", "latency", "errors", "connections", "disk")


@dataclass(frozen=True)
class Service:
    name: str
    tier: int
    deploys_per_week: float
    has_database: bool


SERVICES = (
    Service("checkout", 1, 6.0, True), Service("payments", 1, 3.0, True),
    Service("auth", 1, 2.0, True), Service("search", 2, 8.0, False),
    Service("catalog", 2, 4.0, True), Service("recommendations", 3, 10.0, False),
    Service("email", 3, 1.0, False), Service("reports", 3, 2.0, True),
)


def simulate(weeks: int, seed: int, incidents_per_week: float = 70.0) -> list[dict]:
    rng = np.random.default_rng(seed)
    start = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
    affinity = {  # services differ a little in how well each action works for them
        (s.name, a): float(rng.uniform(0.85, 1.1)) for s in SERVICES for a in ACTIONS
    }
    weights = np.array([f.weight for f in FAULTS])
    n = int(rng.poisson(incidents_per_week * weeks))
    cases = []
    for i in range(n):
        fault = FAULTS[rng.choice(len(FAULTS), p=weights / weights.sum())]
        service = SERVICES[rng.integers(len(SERVICES))]
        opened = start + timedelta(seconds=float(rng.uniform(0, weeks * 7 * 86400)))
        if fault.daytime:  # surges come with the day's traffic
            opened = opened.replace(hour=int(rng.integers(9, 21)))
        alerts = list(fault.alerts)
        alertname = str(rng.choice(alerts, p=np.array([fault.alerts[a] for a in alerts])))
        allowed = [a for a in ACTIONS if a != DB_REBOOT or service.has_database]
        truth = {a: min(0.97, fault.fixes[a] * affinity[(service.name, a)]) for a in allowed}
        anomaly = {kind: float(rng.beta(1, 8)) for kind in SERIES_KINDS}
        for kind, seen in fault.reveals.items():
            if rng.random() < seen:
                anomaly[kind] = float(rng.beta(6, 2))
        if fault.after_change:
            since_change = float(rng.exponential(2.0))
        else:
            since_change = float(rng.exponential(7 * 24 / service.deploys_per_week))
        context = {
            "incident_id": f"sim-{i:06d}",
            "opened_at": opened.isoformat(),
            "signature": {"alertname": alertname, "service": service.name,
                          "severity": "critical" if service.tier == 1 else "warning",
                          "tier": service.tier},
            "anomaly": {k: round(v, 4) for k, v in anomaly.items()},
            "hours_since_change": round(since_change, 3),
            "recent_actions": int(rng.poisson(0.4)),
            "flaps_last_hour": int(rng.poisson(1.5 if fault.name in ("hung_instance", "connection_pool") else 0.3)),
        }
        attempts = _history(rng, alertname, allowed, truth, opened)
        cases.append({"context": context, "allowed": allowed, "attempts": attempts,
                      "truth": {a: round(p, 4) for a, p in truth.items()}, "fault": fault.name})
    cases.sort(key=lambda c: c["context"]["opened_at"])
    return cases


def _history(rng, alertname, allowed, truth, opened) -> list[dict]:
    """What the on-call tried: the playbook most of the time, their own guess otherwise."""
    tried, attempts = set(), []
    playbook = [a for a in PLAYBOOK.get(alertname, []) if a in allowed]
    for step in range(3):
        options = [a for a in allowed if a not in tried]
        follow = [a for a in playbook if a not in tried]
        action = follow[0] if follow and rng.random() < 0.7 else str(rng.choice(options))
        tried.add(action)
        fixed = bool(rng.random() < truth[action])
        at = opened + timedelta(minutes=15 * (step + 1))
        attempts.append({"action": action, "fixed": fixed, "finished_at": at.isoformat()})
        if fixed:
            break
    return attempts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--incidents-per-week", type=float, default=70.0)
    parser.add_argument("--out", type=Path, default=Path(".bench/estate.jsonl"))
    args = parser.parse_args()
    cases = simulate(args.weeks, args.seed, args.incidents_per_week)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as out:
        out.write(json.dumps({"simulated": True, "playbook": PLAYBOOK, "weeks": args.weeks,
                              "seed": args.seed}) + "\n")
        for case in cases:
            out.write(json.dumps(case) + "\n")
    print(f"{len(cases)} simulated incidents over {args.weeks} weeks -> {args.out}")


if __name__ == "__main__":
    main()
