"""The estate simulator replayed through the real pipeline, then the learners trained on what it stored.

    python -m benchmarks.estate_replay --weeks 10 --incidents-per-week 40 --train-weeks 6 --seed 7

SIMULATED DATA: every figure here describes `benchmarks/estate_sim.py`, not a real estate.

What runs for real: `smartcloudops serve` and `smartcloudops worker` on PostgreSQL and Redis.
Each incident of the training weeks is posted to the Alertmanager webhook as one firing alert;
the worker records it, assesses the risk, plans, guards and runs the chain in dry run (no AWS
is called: without credentials a dry run records what it would call), and the worker's outcome
sweep judges the run after the verify horizon from the alerts that followed.

What is simulated: which action the on-call tried first (the simulator's history; the replay's
policy has one rule per action, chosen by an alert label) and whether it fixed the incident (the
simulator's draw from its fault model). When it did, the replay posts the alert resolved right
after the run ends, as the estate would; when it did not, only after the run was judged (a person
fixed it later). Simulated time is compressed: incidents of one service are replayed one after
another (a run of one service is never judged on another's alerts), services in parallel.

Then, as production would, learner (a) is fitted on the stored outcomes (`read_outcomes`, the
worker's learner) and the classifier on them joined to the simulator's features (the replay
streams no metrics, so the anomaly and change features are the simulator's, not read back); both
are scored on the later weeks with the simulator's true chances, beside the same learners fitted
on the simulator's own first attempts in memory. The two agree exactly when the pipeline stored
every outcome as the simulator drew it; the report counts where it did not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import redis
import sqlalchemy as sa
import yaml

from benchmarks import estate_sim
from benchmarks.harness import (
    bench_redis_url,
    drop_database,
    fresh_database,
    free_port,
    results_dir,
    start,
    stop,
)
from benchmarks.machine import describe

TOKEN = "estate-replay-webhook-token-0123456789"
REGION = "eu-west-1"
DOCUMENT = "SmartCloudOps-RestartSystemdUnit"
UNIT = "app.service"
HORIZON_S = 4.0


# ------------------------------------------------------------------ the operator's files


def catalog() -> dict[str, Any]:
    services = []
    for n, service in enumerate(estate_sim.SERVICES):
        aws: dict[str, Any] = {
            "region": REGION,
            "instance_ids": [f"i-{n:02x}{k:015x}" for k in range(4)],
            "autoscaling_group": {"name": f"{service.name}-asg", "min_size": 1, "max_size": 40,
                                  "desired_capacity": 4},
            "ecs": {"cluster": "replay", "service": service.name},
        }
        if service.has_database:
            aws["rds_instance_id"] = f"{service.name}-db"
        services.append({"name": service.name, "tier": service.tier, "fleet_size": 4, "aws": aws,
                         "systemd_units": [UNIT]})
    alertnames = sorted({a for fault in estate_sim.FAULTS for a in fault.alerts})
    return {"services": services, "alerts": alertnames}


def policy() -> dict[str, Any]:
    """One rule per action, picked by the alert's `replay_action` label: the on-call's choice.

    Risk never asks for a person and the stateful guards never refuse, because simulated weeks
    are compressed into minutes here; the guards still run on every step."""
    specs = {
        "ec2_reboot": {"action": "ec2_reboot"},
        "ssm_run_command": {"action": "ssm_run_command", "document": DOCUMENT, "unit": UNIT},
        "ecs_force_new_deployment": {"action": "ecs_force_new_deployment"},
        "asg_set_desired_capacity": {"action": "asg_set_desired_capacity", "scale_out_by": 1},
        "rds_reboot": {"action": "rds_reboot"},
    }
    return {
        "risk": {"thresholds": {"auto_below": 100, "notify_at": 100.000001}},
        "approvals": {"roles": ["approver"]},
        "guards": {"rate_limit_max": 1_000_000, "rate_limit_window_s": 1, "cooldown_s": 0,
                   "max_targets_per_plan": 2, "max_fleet_share": 1.0,
                   "breaker_failure_threshold": 1_000_000, "breaker_cooldown_s": 1},
        "actions": {
            "ec2_reboot": {"enabled": True},
            "ssm_run_command": {"enabled": True, "documents": [{"name": DOCUMENT, "unit_parameter": "unit"}]},
            "ecs_force_new_deployment": {"enabled": True},
            "asg_set_desired_capacity": {"enabled": True, "max_step": 2},
            "rds_reboot": {"enabled": True},
        },
        "rules": [{"name": f"replay-{action.replace('_', '-')}", "match": {"labels": {"replay_action": action}},
                   "actions": [spec]} for action, spec in specs.items()],
    }


# ------------------------------------------------------------------ posting and waiting


@dataclass
class Replayed:
    case_id: str
    incident_id: int | None
    run_id: int | None
    run_state: str | None
    fixed_in_sim: bool
    judged: bool


def alert_body(case: dict, at: datetime, *, resolved: bool = False) -> dict[str, Any]:
    context, attempt = case["context"], case["attempts"][0]
    signature = context["signature"]
    n = estate_sim.SERVICES.index(next(s for s in estate_sim.SERVICES if s.name == signature["service"]))
    labels = {"alertname": signature["alertname"], "service": signature["service"],
              "severity": signature["severity"], "instance_id": f"i-{n:02x}{0:015x}",
              "replay_action": attempt["action"], "replay_case": context["incident_id"]}
    fingerprint = hashlib.sha256(context["incident_id"].encode()).hexdigest()[:16]
    body = {"status": "resolved" if resolved else "firing", "labels": labels, "annotations": {},
            "startsAt": at.isoformat(), "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
            "fingerprint": fingerprint}
    if resolved:
        body["endsAt"] = datetime.now(UTC).isoformat()
    return body


def post(client: httpx.Client, body: dict) -> None:
    payload = {"version": "4", "groupKey": "{}:{}", "status": body["status"], "receiver": "sco",
               "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {}, "externalURL": "",
               "alerts": [body]}
    for _ in range(50):
        answer = client.post("/v1/alerts/alertmanager", json=payload)
        if answer.status_code == 202:
            return
        time.sleep(0.2)
    raise RuntimeError(f"webhook answered {answer.status_code}: {answer.text}")


def wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


def replay_service(base: str, engine: sa.Engine, cases: list[dict]) -> list[Replayed]:
    """This service's incidents one after another: fire, let the chain run, resolve as the sim says."""
    done = []
    with httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        for case in cases:
            done.append(replay_one(client, engine, case))
    return done


def replay_one(client: httpx.Client, engine: sa.Engine, case: dict) -> Replayed:
    fixed = bool(case["attempts"][0]["fixed"])
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    post(client, alert_body(case, started))
    fingerprint = alert_body(case, started)["fingerprint"]
    case_id = case["context"]["incident_id"]

    def incident() -> int | None:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT incident_id FROM alerts WHERE fingerprint = :f"),
                                {"f": fingerprint}).scalar()

    def ended_run() -> Any:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT id, state FROM remediation_runs WHERE incident_id = :i "
                "AND state IN ('succeeded', 'failed', 'refused', 'expired', 'cancelled') ORDER BY id LIMIT 1"
            ), {"i": incident_id}).first()

    def outcome() -> bool:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1 FROM remediation_outcomes WHERE run_id = :r"),
                                {"r": run.id}).first() is not None

    try:
        incident_id = wait(incident, 60, f"{case_id}: no incident")
        run = wait(ended_run, 60, f"{case_id}: no run ended")
    except TimeoutError:
        post(client, alert_body(case, started, resolved=True))
        return Replayed(case_id, None, None, None, fixed, False)
    if fixed:  # the estate recovered: the alert resolves inside the horizon
        post(client, alert_body(case, started, resolved=True))
    try:
        judged = bool(wait(outcome, 30 + HORIZON_S, f"{case_id}: not judged"))
    except TimeoutError:
        judged = False
    if not fixed:  # fixed by a person after the run was judged, so the next incident opens anew
        post(client, alert_body(case, started, resolved=True))
        wait(lambda: _resolved(engine, incident_id), 30, f"{case_id}: never resolved")
    return Replayed(case_id, incident_id, run.id, run.state, fixed, judged)


def _resolved(engine: sa.Engine, incident_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT status FROM incidents WHERE id = :i"),
                            {"i": incident_id}).scalar() == "resolved"


# ------------------------------------------------------------------ learning from what was stored


def evaluate(cases: list[dict], train_weeks: float, stored: dict[str, bool], engine: sa.Engine) -> dict:
    """The learners fitted on the pipeline's stored outcomes and on the simulator's, scored alike."""
    from adapters.db.outcome_store import read_outcomes
    from adapters.replay_files import _case
    from pipeline.learning import evaluation as ev
    from pipeline.learning.rates import OutcomeRates

    every = [_case(Path("replay"), n, row) for n, row in enumerate(cases, 2)]
    first = min(c.context.opened_at for c in every)
    train, test = ev.split(every, first + timedelta(weeks=train_weeks))
    first_only = [replace(c, attempts=c.attempts[:1]) for c in train]
    # The pipeline's view: the same incidents, each first attempt as the sweep judged it.
    piped = [replace(c, attempts=(replace(c.attempts[0], fixed=stored[c.context.incident_id]),))
             for c in first_only if c.context.incident_id in stored]
    playbook = ev.playbook_ranker(estate_sim.PLAYBOOK)
    report: dict[str, Any] = {"train": len(train), "held_out": len(test),
                              "rule only (playbook)": ev.score(test, playbook).row()}
    for name, training in (("in memory, every attempt", train), ("in memory, first attempts", first_only),
                           ("through the pipeline", piped)):
        choice = ev.choose(training)
        rates = ev.fit_rates(training, choice.strength)
        report[name] = {
            "incidents": len(training),
            "learner (a) rates": ev.score(test, ev.rates_ranker(rates)).row(),
            "learner (b) classifier": ev.score(test, ev.classifier_ranker(ev.fit_classifier(training))).row(),
            "chosen": choice.learner, "strength": choice.strength,
        }
    # The worker's own learner: the rates fitted by `read_outcomes` (dry runs included here, since
    # every replayed run is one) with the prior strength chosen above.
    stored_rates = OutcomeRates.fit(read_outcomes(engine, mode=None), report["through the pipeline"]["strength"])
    report["through the pipeline"]["learner (a) from read_outcomes"] = ev.score(
        test, ev.rates_ranker(stored_rates)).row()
    return report


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=10)
    parser.add_argument("--incidents-per-week", type=float, default=40.0)
    parser.add_argument("--train-weeks", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()

    cases = estate_sim.simulate(args.weeks, args.seed, args.incidents_per_week)
    start_at = min(datetime.fromisoformat(c["context"]["opened_at"]) for c in cases)
    cut = start_at + timedelta(weeks=args.train_weeks)
    training = [c for c in cases if datetime.fromisoformat(c["context"]["opened_at"]) < cut]
    per_service: dict[str, list[dict]] = defaultdict(list)
    for case in training:
        per_service[case["context"]["signature"]["service"]].append(case)

    work = Path(tempfile.mkdtemp(prefix="sco-estate-replay-"))
    (work / "catalog.yaml").write_text(yaml.safe_dump(catalog()))
    (work / "policies.yaml").write_text(yaml.safe_dump(policy()))
    redis_url = bench_redis_url(default_db=12)
    redis.Redis.from_url(redis_url).flushdb()
    database, url = fresh_database("sco_replay", migrate=True)
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
           # No AWS credentials anywhere: a dry run then records what it would call, and calls nothing.
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_EC2_METADATA_DISABLED": "true",
           "SCO_BROKER_URL": redis_url, "SCO_REDIS_URL": redis_url, "SCO_DATABASE_URL": url,
           "SCO_WEBHOOK_TOKEN": TOKEN, "SCO_DATA_DIR": str(work), "SCO_LOG_LEVEL": "WARNING",
           "SCO_HTTP_PORT": str(port), "SCO_WORKER_METRICS_PORT": "0", "SCO_WORKER_PREFETCH": "1",
           "SCO_CATALOG_PATH": str(work / "catalog.yaml"), "SCO_POLICY_PATH": str(work / "policies.yaml"),
           "SCO_REMEDIATION_MODE": "dry_run", "SCO_CORRELATION_WINDOW_S": "1",
           "SCO_OUTCOME_HORIZON_S": str(HORIZON_S), "SCO_OUTCOME_SWEEP_INTERVAL_S": "0.5",
           "SCO_REMEDIATION_VERIFY_TIMEOUT_S": "5", "SCO_REMEDIATION_VERIFY_POLL_S": "0.2",
           "SCO_REMEDIATION_VERIFY_SETTLE_S": "0"}
    procs = [start(["serve"], env, work / "serve.log"),
             start(["worker", "--concurrency", str(args.concurrency)], env, work / "worker.log")]
    base = f"http://127.0.0.1:{port}"
    engine = sa.create_engine(url, pool_size=len(per_service) + 2)
    began = time.monotonic()
    try:
        wait(lambda: _ready(base), 90, "server not ready")
        time.sleep(3)  # the worker's pool
        with ThreadPoolExecutor(max_workers=len(per_service)) as pool:
            replayed = [r for done in pool.map(lambda cs: replay_service(base, engine, cs), per_service.values())
                        for r in done]
        elapsed = time.monotonic() - began
        with engine.connect() as conn:
            rows = conn.execute(sa.text(
                "SELECT o.run_id, o.resolved, o.worsened, o.action, o.mode FROM remediation_outcomes o")).all()
        by_run = {row.run_id: row for row in rows}
        stored = {r.case_id: bool(by_run[r.run_id].resolved and not by_run[r.run_id].worsened)
                  for r in replayed if r.run_id in by_run}
        action_of = {c["context"]["incident_id"]: c["attempts"][0]["action"] for c in training}
        wrong_action = sum(1 for r in replayed if r.run_id in by_run and by_run[r.run_id].action != action_of[r.case_id])
        report = {
            "simulated": True,
            "machine": describe(("celery", "kombu", "SQLAlchemy", "psycopg", "scikit-learn", "onnxruntime")),
            "args": vars(args),
            "replayed": {
                "incidents_posted": len(replayed),
                "runs_ended": sum(1 for r in replayed if r.run_id is not None),
                "run_states": _count(r.run_state for r in replayed),
                "outcomes_stored": len(stored),
                "judged_as_simulated": sum(1 for r in replayed if r.case_id in stored and stored[r.case_id] == r.fixed_in_sim),
                "judged_otherwise": sum(1 for r in replayed if r.case_id in stored and stored[r.case_id] != r.fixed_in_sim),
                "action_differs_from_the_on_call": wrong_action,
                "wall_seconds": round(elapsed, 1),
            },
            "figures": evaluate(cases, args.train_weeks, stored, engine),
        }
    finally:
        for proc in reversed(procs):
            stop(proc)
        engine.dispose()
        drop_database(database)
        redis.Redis.from_url(redis_url).flushdb()
    print(json.dumps(report, indent=2))
    (results_dir() / "estate_replay.json").write_text(json.dumps(report, indent=2) + "\n")


def _count(values) -> dict[str, int]:  # type: ignore[no-untyped-def]
    counts: dict[str, int] = defaultdict(int)
    for value in values:
        counts[str(value)] += 1
    return dict(counts)


def _ready(base: str) -> bool:
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


if __name__ == "__main__":
    main()
