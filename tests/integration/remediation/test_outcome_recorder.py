"""Outcomes of finished runs, judged from the alert stream after the verify horizon, on both stores."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from adapters.db import audit_writer
from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.outcome_store import LearnedRates, OutcomeRecorder
from adapters.db.schema import audit_log
from adapters.db.schema_learning import remediation_outcomes
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from pipeline.audit import verify
from pipeline.correlation import CorrelationPolicy
from pipeline.learning.outcomes import Signature
from tests.factories import T0, batch, make_alert, resolved

HORIZON = timedelta(minutes=15)
FINISHED = T0 + timedelta(minutes=10)  # the run's last step ended here


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    engine = create_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    yield engine
    engine.dispose()


@pytest.fixture
def alerts(engine):
    return AlertStore(engine, CorrelationPolicy(window=timedelta(minutes=15)))


@pytest.fixture
def recorder(engine):
    return OutcomeRecorder(engine, horizon_s=HORIZON.total_seconds(), tier_of=lambda service: 1)


def open_incident(alerts, alert) -> int:
    outcome = alerts.record_batch(batch(alert), trace_id="t", now=alert.starts_at)
    (incident_id,) = outcome.opened
    return incident_id


def finished_run(engine, incident_id: int, *, state="succeeded", actions=("reboot",), mode="execute",
                 at=FINISHED, plan_id="plan-1") -> int:
    with engine.begin() as conn:
        run_id = conn.execute(
            remediation_runs.insert().values(
                plan_id=plan_id, incident_id=incident_id, service="billing", decision="auto",
                mode=mode, plan={}, state=state, created_at=T0, updated_at=at,
            ).returning(remediation_runs.c.id)
        ).scalar_one()
        for index, action in enumerate(actions):
            conn.execute(remediation_steps.insert().values(
                run_id=run_id, step_index=index, action=action, target="i-0abc12345678", params={},
                idempotency_key=f"{plan_id}-{index}", state="succeeded", created_at=T0, updated_at=at,
            ))
    return run_id


def stored(engine):
    with engine.connect() as conn:
        return {row.run_id: row for row in conn.execute(sa.select(remediation_outcomes))}


def audit_kinds(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.kind, audit_log.c.body).order_by(audit_log.c.seq)).all()
    return [(row.kind, json.loads(row.body)) for row in rows if row.kind.startswith("remediation.outcome")]


def test_a_run_is_judged_only_after_its_horizon_and_only_once(engine, alerts, recorder):
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=12))), trace_id="t", now=T0)
    run = finished_run(engine, incident)

    assert recorder.sweep(FINISHED + HORIZON - timedelta(seconds=1)).judged == ()
    assert recorder.sweep(FINISHED + HORIZON).judged == (run,)
    assert recorder.sweep(FINISHED + HORIZON + timedelta(minutes=5)).judged == ()

    row = stored(engine)[run]
    assert row.resolved and not row.worsened and row.recurred is None and not row.final
    assert row.action == "reboot" and row.alertname == "HighCPU" and row.tier == 1
    (kind, body), = audit_kinds(engine)
    assert kind == "remediation.outcome" and body["incident_id"] == incident
    assert body["data"]["resolved"] is True and body["data"]["fixed"] is None
    with engine.connect() as conn:
        assert verify(audit_writer.read_chain(conn), audit_writer.read_head(conn)).ok


def test_an_alert_still_firing_after_the_horizon_is_a_final_failure(engine, alerts, recorder):
    incident = open_incident(alerts, make_alert())
    run = finished_run(engine, incident, actions=("reboot", "scale"))
    recorder.sweep(FINISHED + HORIZON)
    row = stored(engine)[run]
    assert not row.resolved and row.final and row.recurred is False
    assert row.action == "reboot+scale"
    assert audit_kinds(engine)[0][1]["data"]["fixed"] is False


def test_an_alert_that_cleared_while_the_run_verified_counts_one_that_cleared_before_it_planned_not(
    engine, alerts, recorder
):
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=7))), trace_id="t", now=T0)
    during = finished_run(engine, incident)  # planned at T0, finished at T0 + 10 min
    other_alert = make_alert(instance="i-0def")
    other = open_incident(alerts, other_alert)
    alerts.record_batch(batch(resolved(other_alert, timedelta(minutes=1))), trace_id="t", now=T0)
    late = finished_run(engine, other, plan_id="plan-late")
    with engine.begin() as conn:
        conn.execute(remediation_runs.update().where(remediation_runs.c.id == late)
                     .values(created_at=T0 + timedelta(minutes=3)))
    recorder.sweep(FINISHED + HORIZON)
    rows = stored(engine)
    assert rows[during].resolved and not rows[late].resolved


def test_resolving_after_the_horizon_does_not_count_as_fixed(engine, alerts, recorder):
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=40))), trace_id="t", now=T0)
    run = finished_run(engine, incident)
    recorder.sweep(FINISHED + timedelta(hours=1))
    assert not stored(engine)[run].resolved


def test_a_new_alert_on_the_service_within_the_horizon_is_worse(engine, alerts, recorder):
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=12))), trace_id="t", now=T0)
    alerts.record_batch(
        batch(make_alert("HighErrorRate", starts_at=FINISHED + timedelta(minutes=3))), trace_id="t", now=T0
    )
    run = finished_run(engine, incident)
    recorder.sweep(FINISHED + HORIZON)
    row = stored(engine)[run]
    assert row.resolved and row.worsened


def test_recurrence_is_known_a_day_after_resolution(engine, alerts, recorder):
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=12))), trace_id="t", now=T0)
    resolved_at = T0 + timedelta(minutes=12)
    run = finished_run(engine, incident)
    other_alert = make_alert(instance="i-0def")
    other = open_incident(alerts, other_alert)
    alerts.record_batch(batch(resolved(other_alert, timedelta(minutes=12))), trace_id="t", now=T0)
    quiet = finished_run(engine, other, plan_id="plan-2")
    recorder.sweep(FINISHED + HORIZON)
    # The same alert fires again six hours later on the service: the first fix did not hold.
    alerts.record_batch(
        batch(make_alert(starts_at=resolved_at + timedelta(hours=6))), trace_id="t", now=T0
    )

    assert recorder.sweep(resolved_at + timedelta(hours=23)).finalised == ()
    result = recorder.sweep(resolved_at + timedelta(hours=24, minutes=1))
    assert set(result.finalised) == {run, quiet}
    rows = stored(engine)
    # Both are on billing: a recurrence of the alert name on the service counts for either.
    assert rows[run].final and rows[run].recurred is True
    assert recorder.sweep(resolved_at + timedelta(days=3)).finalised == ()
    finals = [body for kind, body in audit_kinds(engine) if kind == "remediation.outcome_final"]
    assert len(finals) == 2 and all(body["data"]["fixed"] is False for body in finals)


def test_outcomes_read_back_as_learning_facts_of_executed_runs_only(engine, alerts, recorder):
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=12))), trace_id="t", now=T0)
    finished_run(engine, incident)
    finished_run(engine, incident, mode="dry_run", plan_id="plan-dry")
    recorder.sweep(FINISHED + HORIZON)
    facts = recorder.outcomes()
    assert len(facts) == 1 and facts[0].action == "reboot" and facts[0].resolved
    assert facts[0].signature.describe() == "HighCPU on billing"
    assert len(recorder.outcomes(mode=None)) == 2


def test_a_run_without_steps_or_not_ended_is_not_judged(engine, alerts, recorder):
    incident = open_incident(alerts, make_alert())
    finished_run(engine, incident, actions=())
    finished_run(engine, incident, state="running", plan_id="plan-running")
    assert recorder.sweep(FINISHED + timedelta(days=2)).judged == ()


def test_learned_rates_explain_the_planned_action_and_refit_after_their_refresh(engine, alerts, recorder):
    clock = [0.0]
    learning = LearnedRates(engine, strength=2.0, refresh_s=60, clock=lambda: clock[0])
    signature = Signature("HighCPU", "billing", "critical", 1)
    assert learning.learned_fix(signature, "reboot") is None  # nothing recorded yet
    alert = make_alert()
    incident = open_incident(alerts, alert)
    alerts.record_batch(batch(resolved(alert, timedelta(minutes=12))), trace_id="t", now=T0)
    finished_run(engine, incident)
    stuck = open_incident(alerts, make_alert(instance="i-0def", starts_at=T0 + timedelta(hours=1)))
    finished_run(engine, stuck, plan_id="plan-2", at=FINISHED + timedelta(hours=1))
    recorder.sweep(FINISHED + timedelta(hours=1) + HORIZON)

    assert learning.learned_fix(signature, "reboot") is None  # the empty fit holds for a minute
    clock[0] = 61.0
    fix = learning.learned_fix(signature, "reboot")
    # One resolved (recurrence still open counts as none yet), one not: 1 of 2, pulled to the prior.
    assert fix is not None and fix.tried == 2 and 0.3 < fix.probability < 0.7
    assert fix.explanation.startswith("reboot fixed 1 of 2 similar HighCPU incidents on billing")
    assert learning.learned_fix(signature, "scale") is None
