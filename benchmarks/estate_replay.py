"""The estate simulator replayed through the real pipeline, then the learners trained on what it stored.

    python -m benchmarks.estate_replay --weeks 16 --train-weeks 10 --seed 1
    python -m benchmarks.estate_replay --evaluate-from .bench/estate_replay_seed1.json   # figures again

SIMULATED DATA: every figure here describes `benchmarks/estate_sim.py`, not a real estate.

What runs for real: `smartcloudops serve` and `smartcloudops worker` on PostgreSQL and Redis.
Each incident of the training weeks is posted to the Alertmanager webhook as one firing alert;
the worker records it, assesses the risk, plans, guards and runs the chain in dry run (no AWS
is called: without credentials a dry run records what it would call), and the worker's outcome
sweep judges the run after the verify horizon from the alerts that followed. When the simulator's
on-call tried another action after that one failed, the replay asks for it as a person does: the
on-call's chat request on the same incident (`POST /v1/chat/command`, the API token as an
operator: "reboot checkout on i-… for incident 42"), approved by a lead (an approver API key made
with `smartcloudops apikey create`, `POST /v1/incidents/42/approve`), after the earlier run was
judged. The chat has no verb for an RDS reboot: such a later attempt (and any after it) is not
asked for, and counted.

What is simulated: which action the on-call tried first (the simulator's history; the replay's
policy has one rule per action, chosen by an alert label), which ones next, and whether each fixed
the incident (the simulator's draw from its fault model). When one did, the replay posts the alert
resolved right after its run ends, as the estate would; when the last one did not, only after it
was judged (a person fixed it later). Simulated time is compressed: incidents of one service are
replayed one after another (a run of one service is never judged on another's alerts), services
in parallel.

Then, as production would, learner (a) is fitted on the stored outcomes (`read_outcomes`, the
worker's reader, first attempts as `LearnedRates` takes them) and the classifier on every stored
run of each incident in the order they finished (the runs before one are its "already failed"
actions), joined to the simulator's features (the replay streams no metrics); `choose` picks among
the playbook's order and the two learners on the training weeks alone; all are scored on the later
weeks with the simulator's true chances, beside the same learners fitted in memory. The stored and
the in-memory figures agree exactly when the pipeline stored every outcome as the simulator drew
it; the report counts where it did not.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
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
from adapters.db.outcome_store import read_outcomes
from pipeline.learning.outcomes import Outcome, Signature

TOKEN = "estate-replay-webhook-token-0123456789"
ONCALL_TOKEN = "estate-replay-oncall-api-token-0123456789"
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
    """One attempt of one simulated incident, as the pipeline ran it (or why it did not)."""

    case_id: str
    attempt: int  # 0: the alert-driven first attempt; 1, 2: the on-call's requests in chat
    action: str
    incident_id: int | None
    run_id: int | None
    run_state: str | None
    fixed_in_sim: bool
    judged: bool
    not_asked: str | None = None  # why the replay could not ask for this attempt


# What the on-call types in chat for a later attempt. The chat has no verb for an RDS reboot, so a
# later rds_reboot is not asked for (counted as not replayed, with the attempts after it).
CHAT_TEXT = {
    "ec2_reboot": "reboot {service} on {instance} for incident {incident}",
    "ssm_run_command": "restart {service} on {instance} for incident {incident}",
    "ecs_force_new_deployment": "redeploy {service} for incident {incident}",
    "asg_set_desired_capacity": "scale {service} to 5 for incident {incident}",
}


def _instance(service: str) -> str:
    n = estate_sim.SERVICES.index(next(s for s in estate_sim.SERVICES if s.name == service))
    return f"i-{n:02x}{0:015x}"


def alert_body(case: dict, at: datetime, *, resolved: bool = False) -> dict[str, Any]:
    context, attempt = case["context"], case["attempts"][0]
    signature = context["signature"]
    labels = {"alertname": signature["alertname"], "service": signature["service"],
              "severity": signature["severity"], "instance_id": _instance(signature["service"]),
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
    _accepted(lambda: client.post("/v1/alerts/alertmanager", json=payload), "webhook")


def _accepted(send, what: str) -> None:  # type: ignore[no-untyped-def]
    for _ in range(50):
        answer = send()
        if answer.status_code == 202:
            return
        time.sleep(0.2)
    raise RuntimeError(f"{what} answered {answer.status_code}: {answer.text}")


def wait(condition, timeout: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(what)


@dataclass
class People:
    """The clients the replay acts through: Alertmanager, the on-call (operator) and a lead (approver)."""

    alertmanager: httpx.Client
    oncall: httpx.Client
    lead: httpx.Client
    channel: str


def replay_service(base: str, engine: sa.Engine, cases: list[dict], keys: dict[str, str], channel: str
                   ) -> list[Replayed]:
    """This service's incidents one after another: fire, let the chain run, ask again as the sim did."""
    done: list[Replayed] = []

    def client(token: str) -> httpx.Client:
        return httpx.Client(base_url=base, timeout=10, headers={"Authorization": f"Bearer {token}"})

    with client(TOKEN) as am, client(keys["oncall"]) as oncall, client(keys["lead"]) as lead:
        people = People(am, oncall, lead, channel)
        for case in cases:
            done.extend(replay_one(people, engine, case))
    return done


def replay_one(people: People, engine: sa.Engine, case: dict) -> list[Replayed]:
    """Every attempt the simulator made on one incident, through the product's own ways in.

    The first is the alert-driven plan (the policy's rule for the alert's `replay_action` label).
    Each later one is the on-call asking for that action on the same incident in chat, and a lead
    approving it (a person's request needs an approval from someone else). After each run the
    alert resolves if the simulator says the action fixed it; otherwise the replay waits until the
    sweep has judged the run before asking for the next action.
    """
    case_id, attempts = case["context"]["incident_id"], case["attempts"]
    service = case["context"]["signature"]["service"]
    started = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=1)
    post(people.alertmanager, alert_body(case, started))
    fingerprint = alert_body(case, started)["fingerprint"]

    def incident() -> int | None:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT incident_id FROM alerts WHERE fingerprint = :f"),
                                {"f": fingerprint}).scalar()

    def run_after(last: int, states: tuple[str, ...]) -> Any:
        with engine.connect() as conn:
            return conn.execute(sa.text(
                "SELECT id, state FROM remediation_runs WHERE incident_id = :i AND id > :last "
                "AND state = ANY(:states) ORDER BY id LIMIT 1"
            ), {"i": incident_id, "last": last, "states": list(states)}).first()

    def outcome(run_id: int) -> bool:
        with engine.connect() as conn:
            return conn.execute(sa.text("SELECT 1 FROM remediation_outcomes WHERE run_id = :r"),
                                {"r": run_id}).first() is not None

    def missed(k: int, attempt: dict, why: str) -> Replayed:
        return Replayed(case_id, k, attempt["action"], incident_id, None, None, bool(attempt["fixed"]), False, why)

    done: list[Replayed] = []
    incident_id: int | None = None
    last_run, fixed = 0, False
    try:
        incident_id = wait(incident, 60, f"{case_id}: no incident")
        for k, attempt in enumerate(attempts):
            fixed = bool(attempt["fixed"])
            if k:
                if attempt["action"] not in CHAT_TEXT:
                    done += [missed(j, a, "the chat has no verb for it" if j == k else "after one not asked")
                             for j, a in enumerate(attempts[k:], k)]
                    fixed = False
                    break
                ask(people, engine, case, incident_id, attempt["action"], run_after, last_run)
            run = wait(lambda: run_after(last_run, ENDED), 60, f"{case_id}/{k}: no run ended")
            last_run = run.id
            if fixed:  # the estate recovered: the alert resolves inside the horizon
                post(people.alertmanager, alert_body(case, started, resolved=True))
            try:
                judged = bool(wait(lambda: outcome(run.id), 30 + HORIZON_S, f"{case_id}/{k}: not judged"))
            except TimeoutError:
                judged = False
            done.append(Replayed(case_id, k, attempt["action"], incident_id, run.id, run.state, fixed, judged))
            if fixed:
                break
    except TimeoutError as error:
        print(f"replay: {error} ({service})", flush=True)
        replayed = {r.attempt for r in done}
        done += [missed(j, a, f"timed out: {error}") for j, a in enumerate(attempts) if j not in replayed]
        fixed = False
    if not fixed:  # fixed by a person after the last run was judged, so the next incident opens anew
        post(people.alertmanager, alert_body(case, started, resolved=True))
        if incident_id is not None:
            wait(lambda: _resolved(engine, incident_id), 30, f"{case_id}: never resolved")
    return done


ENDED = ("succeeded", "failed", "refused", "expired", "cancelled")


def ask(people: People, engine: sa.Engine, case: dict, incident_id: int, action: str, run_after, last_run: int
        ) -> None:  # type: ignore[no-untyped-def]
    """The on-call asks for `action` on the incident in chat; a lead approves the run it plans."""
    service = case["context"]["signature"]["service"]
    text = CHAT_TEXT[action].format(service=service, instance=_instance(service), incident=incident_id)
    _accepted(lambda: people.oncall.post("/v1/chat/command", json={"channel": people.channel, "text": text}),
              "chat")
    waiting = wait(lambda: run_after(last_run, ("awaiting_approval", *ENDED)), 60,
                   f"{case['context']['incident_id']}: no run planned for {text!r}")
    if waiting.state != "awaiting_approval":
        return  # refused or failed before any approval: counted from the run's state
    _accepted(lambda: people.lead.post(f"/v1/incidents/{incident_id}/approve",
                                       json={"reason": "replay: the on-call's next attempt"}), "approve")


def _resolved(engine: sa.Engine, incident_id: int) -> bool:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT status FROM incidents WHERE id = :i"),
                            {"i": incident_id}).scalar() == "resolved"


# ------------------------------------------------------------------ learning from what was stored


def evaluate(cases: list[dict], train_weeks: float, replayed: list[Replayed], outcomes: list[Outcome]) -> dict:
    """The learners fitted on the pipeline's stored outcomes and on the simulator's, scored alike.

    Every learner is fitted and chosen on the training weeks only; the held-out weeks score them."""
    from adapters.replay_files import _case
    from pipeline.learning import evaluation as ev
    from pipeline.learning.outcomes import first_attempts
    from pipeline.learning.rates import OutcomeRates

    every = [_case(Path("replay"), n, row) for n, row in enumerate(cases, 2)]
    first = min(c.context.opened_at for c in every)
    train, test = ev.split(every, first + timedelta(weeks=train_weeks))
    ran = defaultdict(int)
    for r in replayed:
        if r.run_id is not None:
            ran[r.case_id] += 1
    # The simulator's draws for exactly the attempts the pipeline ran (the storage check's twin).
    as_replayed = [replace(c, attempts=c.attempts[:ran[c.context.incident_id]]) for c in train
                   if ran[c.context.incident_id]]
    first_only = [replace(c, attempts=c.attempts[:1]) for c in train]
    piped = pipeline_cases(train, replayed, outcomes)
    playbook = ev.playbook_ranker(estate_sim.PLAYBOOK)
    report: dict[str, Any] = {"train": len(train), "held_out": len(test),
                              "rule only (playbook)": ev.score(test, playbook).row()}
    for name, training in (("in memory, every attempt", train),
                           ("in memory, the attempts replayed", as_replayed),
                           ("in memory, first attempts", first_only),
                           ("through the pipeline", piped)):
        report[name] = learners(training, test)
    # The worker's own learner: the rates as `LearnedRates` fits them, first_attempts(read_outcomes(...))
    # (dry runs included here, since every replayed run is one), with the prior strength chosen above.
    piped_report = report["through the pipeline"]
    stored_rates = OutcomeRates.fit(first_attempts(outcomes), piped_report["strength"])
    piped_report["learner (a) as the worker fits it"] = ev.score(test, ev.rates_ranker(stored_rates)).row()
    return report


def learners(training: list, test: list) -> dict[str, Any]:
    """Both learners fitted on `training`, the one `choose` picks, each scored on the held-out weeks."""
    from pipeline.learning import evaluation as ev

    choice = ev.choose(training, estate_sim.PLAYBOOK)
    rankers = {"learner (a) rates": ev.rates_ranker(ev.fit_rates(training, choice.strength)),
               "learner (b) classifier": ev.classifier_ranker(ev.fit_classifier(training)),
               "rule only (playbook)": ev.playbook_ranker(estate_sim.PLAYBOOK)}
    scored = {name: ev.score(test, ranker).row() for name, ranker in rankers.items()}
    chosen = {"rates": "learner (a) rates", "classifier": "learner (b) classifier"}.get(
        choice.learner, "rule only (playbook)")
    return {
        "incidents": len(training),
        "runs": sum(len(c.attempts) for c in training),
        "learner (a) rates": scored["learner (a) rates"],
        "learner (b) classifier": scored["learner (b) classifier"],
        "chosen": choice.learner, "strength": choice.strength, "reason": choice.reason,
        "validation": choice.validation(),
        "chosen learner": scored[chosen],
    }


def pipeline_cases(train: list, replayed: list[Replayed], outcomes: list[Outcome]) -> list:
    """The training incidents as the pipeline stored them: each incident's judged runs in the order
    they finished (so a later run's "already failed" actions are the runs before it), joined to the
    simulator's context (the replay streams no metrics) by the incident the replay opened."""
    from pipeline.learning.evaluation import Attempt

    case_of = {str(r.incident_id): r.case_id for r in replayed if r.incident_id is not None}
    runs: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in sorted(outcomes, key=lambda o: o.finished_at):
        if outcome.incident_id in case_of:
            runs[case_of[outcome.incident_id]].append(outcome)
    return [replace(c, attempts=tuple(Attempt(o.action, o.fixed, o.finished_at)
                                      for o in runs[c.context.incident_id]))
            for c in train if runs.get(c.context.incident_id)]


def storage_check(replayed: list[Replayed], outcomes: list[Outcome], training: list[dict]) -> dict[str, Any]:
    """How many runs ended and were judged, and where a stored judgement differs from the sim's draw."""
    by_run = {o.run_id: o for o in outcomes}
    ran = [r for r in replayed if r.run_id is not None]
    stored = [r for r in ran if str(r.run_id) in by_run]
    later = [r for r in replayed if r.attempt > 0]
    return {
        "incidents_posted": len(training),
        "attempts_in_the_simulator": sum(len(c["attempts"]) for c in training),
        "later_attempts_in_the_simulator": sum(len(c["attempts"]) - 1 for c in training),
        "later_attempts_asked_in_chat": sum(1 for r in later if r.not_asked is None),
        "attempts_not_replayed": _count(r.not_asked for r in replayed if r.not_asked is not None),
        "runs_ended": len(ran),
        "run_states": _count(r.run_state for r in ran),
        "outcomes_stored": len(stored),
        "judged_as_simulated": sum(1 for r in stored if by_run[str(r.run_id)].fixed == r.fixed_in_sim),
        "judged_otherwise": sum(1 for r in stored if by_run[str(r.run_id)].fixed != r.fixed_in_sim),
        "judged_otherwise_later_attempts": sum(1 for r in stored if r.attempt > 0
                                               and by_run[str(r.run_id)].fixed != r.fixed_in_sim),
        "action_differs_from_the_on_call": sum(1 for r in stored if by_run[str(r.run_id)].action != r.action),
        "outcomes_of_no_replayed_run": len(set(by_run) - {str(r.run_id) for r in ran}),
    }


# ------------------------------------------------------------------ main


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--weeks", type=int, default=16)
    parser.add_argument("--incidents-per-week", type=float, default=70.0)
    parser.add_argument("--train-weeks", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    parser.add_argument("--evaluate-from", type=Path, metavar="JSON",
                        help="score again from a saved run's stored outcomes (no processes started)")
    args = parser.parse_args()

    if args.evaluate_from is not None:
        saved = json.loads(args.evaluate_from.read_text())
        args = argparse.Namespace(**{**saved["args"], "evaluate_from": str(args.evaluate_from)})
        cases = estate_sim.simulate(args.weeks, args.seed, args.incidents_per_week)
        replayed = [Replayed(**r) for r in saved["replayed_attempts"]]
        outcomes = [_outcome(o) for o in saved["stored_outcomes"]]
        report = {**{k: v for k, v in saved.items() if k not in ("figures",)},
                  "figures": evaluate(cases, args.train_weeks, replayed, outcomes),
                  "evaluated_again_at": datetime.now(UTC).isoformat()}
        _write(report, args.seed)
        return

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
           # The on-call's chat requests: the API token as an operator (the chat endpoint takes the
           # caller as the chat user, and an API key's `apikey:<name>` is not a plain chat id).
           "SCO_API_TOKEN": ONCALL_TOKEN, "SCO_API_TOKEN_ROLE": "operator",
           "SCO_HTTP_PORT": str(port), "SCO_WORKER_METRICS_PORT": "0", "SCO_WORKER_PREFETCH": "1",
           "SCO_CATALOG_PATH": str(work / "catalog.yaml"), "SCO_POLICY_PATH": str(work / "policies.yaml"),
           "SCO_REMEDIATION_MODE": "dry_run", "SCO_CORRELATION_WINDOW_S": "1",
           "SCO_OUTCOME_HORIZON_S": str(HORIZON_S), "SCO_OUTCOME_SWEEP_INTERVAL_S": "0.5",
           "SCO_REMEDIATION_VERIFY_TIMEOUT_S": "5", "SCO_REMEDIATION_VERIFY_POLL_S": "0.2",
           "SCO_REMEDIATION_VERIFY_SETTLE_S": "0"}
    # The lead who approves the on-call's requests: an API key bound to the approver role.
    keys = {"oncall": ONCALL_TOKEN, "lead": _api_key(env, "replay-lead", "approver")}
    procs = [start(["serve"], env, work / "serve.log"),
             start(["worker", "--concurrency", str(args.concurrency)], env, work / "worker.log")]
    base = f"http://127.0.0.1:{port}"
    engine = sa.create_engine(url, pool_size=len(per_service) + 2)
    began = time.monotonic()
    try:
        wait(lambda: _ready(base), 90, "server not ready")
        time.sleep(3)  # the worker's pool
        with ThreadPoolExecutor(max_workers=len(per_service)) as pool:
            replayed = [r for done in pool.map(
                lambda n_cs: replay_service(base, engine, n_cs[1], keys, f"C0REPLAY{n_cs[0]}"),
                enumerate(per_service.values())) for r in done]
        elapsed = time.monotonic() - began
        outcomes = read_outcomes(engine, mode=None)  # the worker's own reader
        report = {
            "simulated": True,
            "machine": describe(("celery", "kombu", "SQLAlchemy", "psycopg", "scikit-learn", "onnxruntime")),
            "args": {k: v for k, v in vars(args).items() if k != "evaluate_from"},
            "replayed": {**storage_check(replayed, outcomes, training), "wall_seconds": round(elapsed, 1)},
            "figures": evaluate(cases, args.train_weeks, replayed, outcomes),
            "replayed_attempts": [asdict(r) for r in replayed],
            "stored_outcomes": [_saved(o) for o in outcomes],
        }
    finally:
        for proc in reversed(procs):
            stop(proc)
        engine.dispose()
        drop_database(database)
        redis.Redis.from_url(redis_url).flushdb()
    _write(report, args.seed)


def _write(report: dict, seed: int) -> None:
    shown = {k: v for k, v in report.items() if k not in ("replayed_attempts", "stored_outcomes")}
    print(json.dumps(shown, indent=2))
    (results_dir() / f"estate_replay_seed{seed}.json").write_text(json.dumps(report, indent=2) + "\n")


def _api_key(env: dict[str, str], name: str, role: str) -> str:
    """A key made as an operator makes one: `smartcloudops apikey create` (printed once)."""
    made = subprocess.run([sys.executable, "-m", "smartcloudops", "apikey", "create", "--name", name,
                           "--role", role], env=env, capture_output=True, text=True, check=True, timeout=60)
    return made.stdout.splitlines()[0].strip()


def _saved(outcome: Outcome) -> dict[str, Any]:
    return {**{k: v for k, v in asdict(outcome).items() if k not in ("signature", "finished_at")},
            "signature": asdict(outcome.signature), "finished_at": outcome.finished_at.isoformat()}


def _outcome(saved: dict[str, Any]) -> Outcome:
    return Outcome(**{**saved, "signature": Signature(**saved["signature"]),
                      "finished_at": datetime.fromisoformat(saved["finished_at"])})


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
