"""The chat's "why?" quotes the advice the incident page carries: the ranked actions, counts, intervals."""

from __future__ import annotations

import itertools
import json
from datetime import timedelta

from types import SimpleNamespace

from chat_bench import NOW, VIEWER
from test_chat_flow import open_incident

from adapters.db.outcome_store import LearnedRates
from adapters.db.remediation_queries import RemediationQueries
from adapters.db.schema_learning import remediation_outcomes
from adapters.db.schema_remediation import remediation_runs
from config.policy import load_remediation_config
from smartcloudops.bootstrap import advisor_for


_plans = itertools.count(1)


def a_run(bench, incident_id: int, *, state: str = "succeeded", mode: str = "execute") -> int:
    with bench.engine.begin() as conn:
        return conn.execute(remediation_runs.insert().values(
            plan_id=f"plan-{next(_plans)}", incident_id=incident_id, service="checkout",
            decision="auto", mode=mode, plan={"steps": []}, state=state, created_at=NOW, updated_at=NOW,
        )).inserted_primary_key[0]


def judged(bench, action: str, fixed: bool, service: str = "checkout") -> None:
    """An executed run of `action` on a HighCPU incident of `service`, judged fixed or not: the first
    attempt on an earlier incident of its own (the row carries the signature; the incident is for
    the foreign key, and learners count each incident's first attempt only)."""
    incident_id = open_incident(bench, "DiskFull", f"past-{next(_plans)}")
    run_id = a_run(bench, incident_id)
    with bench.engine.begin() as conn:
        conn.execute(remediation_outcomes.insert().values(
            run_id=run_id, incident_id=incident_id, alertname="HighCPU", service=service,
            severity="", tier=1, action=action, mode="execute", run_state="succeeded",
            finished_at=NOW - timedelta(hours=2), horizon_s=900.0, resolved=fixed,
            resolved_at=NOW - timedelta(hours=1) if fixed else None, worsened=False,
            recurred=False if fixed else None, final=True, judged_at=NOW,
        ))


def with_advisor(bench) -> None:
    """The handler reads through the queries the worker's composition root builds (with advice)."""
    catalog, policy = load_remediation_config(None, None)
    bench.handler.remediation = RemediationQueries(
        bench.engine, advisor=advisor_for(catalog, policy, LearnedRates(bench.engine)))


def test_why_quotes_the_ranked_actions_with_their_counts_and_intervals(bench) -> None:
    with_advisor(bench)
    for fixed in (True, True, True, False):
        judged(bench, "asg_set_desired_capacity", fixed)
    judged(bench, "ec2_reboot", False)
    incident_id = open_incident(bench, "HighCPU", "checkout")
    a_run(bench, incident_id, state="awaiting_approval", mode="dry_run")

    answer = bench.say(f"why {incident_id}", user=VIEWER)

    text = json.dumps(answer.message)
    assert "What fixed similar incidents" in text
    assert "1. asg_set_desired_capacity fixed 3 of 4 similar HighCPU incidents on checkout (73%, 95% interval" in text
    # Ranked as the page ranks them: never tried is the prior (55%), ahead of a failed reboot.
    assert "ec2_start: never tried on incidents of any kind" in text
    assert "4. ec2_reboot fixed 0 of 1 similar HighCPU incidents on checkout" in text
    # Only what the policy enables and checkout can take: no ECS or RDS on an EC2 service.
    assert "ecs_force_new_deployment" not in text and "rds_reboot" not in text


def test_why_says_nothing_of_advice_without_a_record_and_show_never_quotes_it(bench) -> None:
    with_advisor(bench)
    incident_id = open_incident(bench, "HighCPU", "checkout")
    a_run(bench, incident_id, state="awaiting_approval", mode="dry_run")
    assert "What fixed similar incidents" not in json.dumps(bench.say(f"why {incident_id}").message)

    judged(bench, "ec2_reboot", True, "payments")
    assert "What fixed similar incidents" in json.dumps(bench.say(f"why {incident_id}").message)
    assert "What fixed similar incidents" not in json.dumps(bench.say(f"show incident {incident_id}").message)


def test_the_worker_builds_the_chat_handler_on_the_queries_that_carry_the_advice(bench, monkeypatch) -> None:
    from config.settings import load_settings
    from smartcloudops.bootstrap import build_remediation
    from tasks import chat as chat_task
    from tasks import runtime

    settings = load_settings()
    worker = SimpleNamespace(settings=settings, engine=bench.engine, chat=bench.handler.chat,
                             incidents=bench.handler.incidents,
                             remediation=build_remediation(settings, bench.engine))
    monkeypatch.setattr(runtime, "_runtime", worker)
    judged(bench, "asg_set_desired_capacity", True)
    current = open_incident(bench, "HighCPU", "checkout")
    a_run(bench, current, state="awaiting_approval", mode="dry_run")

    advice = chat_task._handler().remediation.for_incident(current)["advice"]

    assert advice[0]["action"] == "asg_set_desired_capacity" and advice[0]["tried"] == 1


class CannedReads:
    def __init__(self, page: dict) -> None:
        self.page = page

    def for_incident(self, incident_id: int) -> dict:
        return self.page


def test_why_says_when_the_classifier_ranked_the_advice_and_what_it_gives_each_action(bench) -> None:
    entry = {"action": "ec2_reboot", "probability": 0.3, "low": 0.05, "high": 0.7, "fixed": 0, "tried": 1,
             "explanation": "ec2_reboot fixed 0 of 1 similar HighCPU incidents on checkout (30%, …)",
             "ranked_by": "classifier", "classifier_probability": 0.81}
    bench.handler.remediation = CannedReads({"advice": [entry], "remediation": []})
    text = json.dumps(bench.say(f"why {open_incident(bench, 'HighCPU', 'checkout')}").message)
    assert "Ranked by the outcome classifier; counts from the rates:" in text
    assert "1. ec2_reboot fixed 0 of 1 similar HighCPU incidents on checkout (30%, \\u2026); classifier 81%" in text


def test_history_says_what_became_of_each_judged_run(bench) -> None:
    from adapters.db import audit_writer
    from pipeline.audit import AuditRecord

    incident_id = open_incident(bench, "HighCPU", "checkout")
    rows = [AuditRecord(kind=kind, occurred_at=NOW, actor="worker:outcomes", incident_id=incident_id,
                        data={"action": "ec2_reboot", "resolved": resolved, "worsened": worsened, "fixed": fixed})
            for kind, resolved, worsened, fixed in [("remediation.outcome", True, False, None),
                                                   ("remediation.outcome_final", True, False, True),
                                                   ("remediation.outcome", False, True, False)]]
    with bench.engine.begin() as conn:
        audit_writer.append(conn, rows)

    text = json.dumps(bench.say(f"history {incident_id}").message)

    assert "worker:outcomes: ec2_reboot: resolved; recurrence known after 24 h" in text
    assert "worker:outcomes: ec2_reboot: fixed" in text
    assert "worker:outcomes: ec2_reboot: not fixed, a new alert fired on the service (worse)" in text
