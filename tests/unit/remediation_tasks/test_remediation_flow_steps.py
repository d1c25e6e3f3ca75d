"""One step's life through the handlers: guard, execute once, verify, record; redeliveries never act twice."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from remediation_tasks_support import INSTANCE, NOW, open_incident

from adapters.aws.errors import AwsOutcomeUnknown, AwsRequestRejected, AwsTransientError
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_anomaly import incident_anomaly
from services import remediation as flow


def kinds(rt) -> list[str]:  # type: ignore[no-untyped-def]
    with rt.runs._engine.connect() as conn:
        return [
            json.loads(b)["kind"]
            for b in conn.execute(sa.select(audit_log.c.body).order_by(audit_log.c.seq)).scalars()
        ]


def planned_run(rt, alertname: str = "InstanceDown"):  # type: ignore[no-untyped-def]
    incident_id = open_incident(rt, alertname)
    started = flow.assess_incident(
        rt, incident_id=incident_id, event_id=f"assess-{incident_id}", trace_id="t" * 32, now=NOW
    )
    return incident_id, started


def run_step(rt, run_id: int, stages=("guard", "execute", "verify", "record")) -> list[str]:  # type: ignore[no-untyped-def]
    return [getattr(flow, stage)(rt, run_id=run_id, index=0, now=NOW) for stage in stages]


def test_an_auto_plan_runs_guard_execute_verify_record_and_closes(make_runtime, action) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    assert started.state == "running"

    assert run_step(rt, started.run_id) == ["allowed", "executed", "verified", "succeeded"]

    run = rt.runs.run(started.run_id)
    assert (run.state, run.steps[0].state) == ("succeeded", "succeeded")
    assert action.calls == [("execute", False), ("verify", False)]
    assert rt.guards.breaker("ec2_reboot", rt.policy.guards, NOW).consecutive_failures == 0


def test_verification_says_whether_the_incidents_alert_resolved(make_runtime, action) -> None:
    """Issue 13 #7: no step ever looked at the alert the run was for."""
    rt = make_runtime()
    incident_id, started = planned_run(rt)
    run_step(rt, started.run_id, ("guard", "execute", "verify"))
    observed = rt.runs.run(started.run_id).steps[0].observed
    assert observed["alert"] == "still firing at verification: InstanceDown"



def test_verification_of_a_resolved_incident_says_so(make_runtime, action) -> None:
    rt = make_runtime()
    incident_id, started = planned_run(rt)
    run_step(rt, started.run_id, ("guard", "execute"))
    with rt.runs._engine.begin() as conn:
        conn.execute(incidents.update().where(incidents.c.id == incident_id).values(status="resolved"))
    run_step(rt, started.run_id, ("verify",))
    assert rt.runs.run(started.run_id).steps[0].observed["alert"] == f"resolved: incident #{incident_id} is resolved"


def test_a_redelivered_assessment_plans_once(make_runtime) -> None:
    rt = make_runtime()
    incident_id, first = planned_run(rt)
    again = flow.assess_incident(
        rt, incident_id=incident_id, event_id=f"assess-{incident_id}", trace_id="t" * 32, now=NOW
    )
    assert (again.run_id, again.state, again.next_step) == (first.run_id, "running", 0)
    assert kinds(rt).count("risk.assessed") == 1


def test_a_redelivered_execute_after_acting_does_not_act_again_and_says_so(
    make_runtime, action
) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    run_step(rt, started.run_id, ("guard", "execute"))

    assert flow.execute(rt, run_id=started.run_id, index=0, now=NOW) == "duplicate"

    assert action.sent == 1
    assert kinds(rt)[-1] == "remediation.step_skipped_duplicate"


def test_a_crash_after_marking_executing_recovers_and_verifies_instead_of_sending_again(
    make_runtime, action
) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    flow.guard(rt, run_id=started.run_id, index=0, now=NOW)
    # The worker died after `executing` was committed: whether the call went out is unknown.
    assert rt.runs.step_executing(rt.runs.run(started.run_id), 0, now=NOW)

    assert flow.execute(rt, run_id=started.run_id, index=0, now=NOW) == "recovered"
    assert run_step(rt, started.run_id, ("verify", "record")) == ["verified", "succeeded"]

    assert action.sent == 0
    assert action.calls[0][0] == "recover"
    assert "remediation.step_not_repeated" in kinds(rt)


def test_a_call_that_never_left_is_sent_on_retry_but_a_lost_answer_is_recovered(
    make_runtime, action
) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    flow.guard(rt, run_id=started.run_id, index=0, now=NOW)
    action.execute_errors = [
        AwsTransientError("throttled 5 times"),
        AwsOutcomeUnknown("connection reset"),
    ]

    for expected in (AwsTransientError, AwsOutcomeUnknown):
        try:
            flow.execute(rt, run_id=started.run_id, index=0, now=NOW)
        except expected:
            pass
        else:
            raise AssertionError(f"{expected.__name__} was swallowed")
    assert (
        rt.runs.run(started.run_id).steps[0].state == "executing"
    )  # may have acted: never re-sent
    assert flow.execute(rt, run_id=started.run_id, index=0, now=NOW) == "recovered"
    assert [name for name, _ in action.calls] == ["execute", "execute", "recover"]


def test_a_rejected_call_fails_the_run_flags_the_incident_and_feeds_the_breaker(
    make_runtime, action
) -> None:
    rt = make_runtime()
    incident_id, started = planned_run(rt)
    action.execute_errors = [AwsRequestRejected("ec2:RebootInstances: IncorrectInstanceState")]

    assert run_step(rt, started.run_id) == ["allowed", "failed", "skipped", "skipped"]

    run = rt.runs.run(started.run_id)
    assert (run.state, run.steps[0].state) == ("failed", "failed")
    with rt.runs._engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(incidents.c.flagged).where(incidents.c.id == incident_id)
            ).scalar()
            is True
        )
    assert rt.guards.breaker("ec2_reboot", rt.policy.guards, NOW).consecutive_failures == 1
    assert kinds(rt)[-2:] == ["remediation.step_failed", "remediation.breaker"]


def test_a_failed_verification_stops_the_run(make_runtime, action) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    action.verify_ok = False

    assert run_step(rt, started.run_id) == ["allowed", "executed", "failed", "skipped"]
    assert rt.runs.run(started.run_id).state == "failed"


def test_dry_run_hands_the_adapter_dry_run_and_leaves_the_breaker_alone(
    make_runtime, action
) -> None:
    rt = make_runtime("dry_run")
    _, started = planned_run(rt)

    assert run_step(rt, started.run_id) == ["allowed", "executed", "verified", "succeeded"]

    assert action.calls == [("execute", True), ("verify", True)]
    assert action.sent == 0
    assert "remediation.breaker" not in kinds(rt)
    assert rt.runs.run(started.run_id).mode == "dry_run"


def test_a_run_planned_dry_stays_dry_when_the_mode_later_becomes_execute(
    make_runtime, action
) -> None:
    dry = make_runtime("dry_run")
    _, started = planned_run(dry)
    real = make_runtime("execute")
    run_step(real, started.run_id)
    assert action.sent == 0


def test_a_guard_refusal_stops_the_chain_and_records_why(make_runtime, action) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    rt.guards.set_kill_switch(True)

    assert run_step(rt, started.run_id) == ["kill_switch", "skipped", "skipped", "skipped"]

    run = rt.runs.run(started.run_id)
    assert run.state == "failed" and run.steps[0].state == "refused"
    assert action.calls == []


def test_history_of_acted_steps_feeds_flapping(make_runtime) -> None:
    rt = make_runtime()
    _, started = planned_run(rt)
    run_step(rt, started.run_id)

    history = rt.incident_facts.target_history([f"ec2:{INSTANCE}"], NOW - timedelta(hours=1))

    assert [(a.action, a.succeeded) for a in history.actions] == [("ec2_reboot", True)]


@pytest.mark.parametrize(
    ("peak", "mean"), [(0.9, 0.4), (0.8, 0.8), (0.95, 0.01), (0.5, 0.0), (0.0, 0.0)]
)
def test_anomaly_evidence_reaches_the_score_with_its_peak_and_mean(
    peak: float, mean: float
) -> None:
    scores = flow.anomaly_scores((peak, mean))
    assert max(scores) == pytest.approx(peak)
    assert sum(scores) / len(scores) == pytest.approx(mean, abs=1e-3)


def test_an_incident_with_anomaly_evidence_is_scored_with_the_anomaly_factor(make_runtime) -> None:
    rt = make_runtime()
    incident_id = open_incident(rt)
    with rt.runs._engine.begin() as conn:
        conn.execute(
            incident_anomaly.insert().values(
                incident_id=incident_id,
                max_score=0.9,
                mean_score=0.5,
                points=30,
                anomalous_points=4,
                series_count=2,
                top_series=[],
                window_start=NOW,
                window_end=NOW,
                digest="d" * 64,
                updated_at=NOW,
            )
        )

    flow.assess_incident(rt, incident_id=incident_id, event_id="a", trace_id="t", now=NOW)

    [risk] = rt.queries.for_incident(incident_id)["risk"]
    [anomaly] = [f for f in risk["factors"] if f["name"] == "anomaly"]
    assert anomaly["value"] == pytest.approx(
        0.6 * 0.9 + 0.4 * 0.5, abs=1e-3
    )  # anomaly_max_share 0.6
