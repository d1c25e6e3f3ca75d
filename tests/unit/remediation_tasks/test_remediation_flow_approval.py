"""Approvals: the role is checked, approval resumes at the paused step, denial and expiry end the run."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import sqlalchemy as sa
from remediation_tasks_support import APPROVER, NOW, OPERATOR, open_incident

from adapters.db.schema import audit_log
from pipeline.errors import InvalidInput, NotFound
from services import remediation as flow


def waiting_run(rt):  # type: ignore[no-untyped-def]
    incident_id = open_incident(rt, "DiskFull")
    started = flow.assess_incident(
        rt, incident_id=incident_id, event_id="assess", trace_id="t" * 32, now=NOW
    )
    assert started.state == "awaiting_approval"
    return incident_id, started.run_id


def decision(incident_id: int, approver: str, approve: bool = True) -> dict:
    return {
        "incident_id": incident_id,
        "approve": approve,
        "approver": approver,
        "reason": "checked the graphs",
    }


def last_audit(rt) -> dict:  # type: ignore[no-untyped-def]
    with rt.runs._engine.connect() as conn:
        return json.loads(
            conn.execute(sa.select(audit_log.c.body).order_by(audit_log.c.seq.desc()))
            .scalars()
            .first()
        )


def test_an_approver_resumes_the_run_at_the_paused_step(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)

    outcome = flow.decide(
        rt, data=decision(incident_id, APPROVER), trace_id="t", now=NOW + timedelta(minutes=1)
    )

    assert (outcome.status, outcome.run_id, outcome.resume_from, outcome.steps) == (
        "approved",
        run_id,
        0,
        1,
    )
    run = rt.runs.run(run_id)
    assert (run.state, run.approved) == ("running", True)
    row = last_audit(rt)
    assert (row["kind"], row["actor"], row["data"]["roles"]) == (
        "remediation.approved",
        APPROVER,
        ["approver"],
    )
    assert flow.guard(rt, run_id=run_id, index=0, now=NOW) == "allowed"


def test_an_operator_may_not_approve_and_the_attempt_is_audited(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)

    outcome = flow.decide(rt, data=decision(incident_id, OPERATOR), trace_id="t", now=NOW)

    assert outcome.status == "forbidden"
    assert rt.runs.run(run_id).state == "awaiting_approval"
    row = last_audit(rt)
    assert (row["kind"], row["actor"]) == ("remediation.decision_refused", OPERATOR)
    assert row["data"]["reason"] == "approve needs approver; you hold operator"


def test_a_denial_ends_the_run_and_a_second_decision_changes_nothing(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)

    assert (
        flow.decide(
            rt, data=decision(incident_id, APPROVER, approve=False), trace_id="t", now=NOW
        ).status
        == "denied"
    )
    assert (
        flow.decide(rt, data=decision(incident_id, APPROVER), trace_id="t", now=NOW).status
        == "nothing_waiting"
    )

    run = rt.runs.run(run_id)
    assert run.state == "denied"
    assert flow.guard(rt, run_id=run_id, index=0, now=NOW) == "skipped"


def test_an_approval_after_the_deadline_expires_the_run_instead(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = waiting_run(rt)

    late = NOW + timedelta(seconds=rt.policy.approvals.timeout_s + 1)
    assert (
        flow.decide(rt, data=decision(incident_id, APPROVER), trace_id="t", now=late).status
        == "expired"
    )

    assert rt.runs.run(run_id).state == "expired"
    assert last_audit(rt)["kind"] == "remediation.approval_expired"


def test_the_expire_sweep_ends_only_runs_past_their_deadline(make_runtime) -> None:
    rt = make_runtime()
    _, run_id = waiting_run(rt)

    assert flow.expire_due(rt, now=NOW + timedelta(seconds=10)) == []
    assert flow.expire_due(rt, now=NOW + timedelta(seconds=601)) == [run_id]
    assert rt.runs.run(run_id).state == "expired"


def test_a_decision_without_an_approver_is_invalid(make_runtime) -> None:
    rt = make_runtime()
    with pytest.raises(InvalidInput, match="approver"):
        flow.decide(
            rt, data={"incident_id": 1, "approve": True, "approver": " "}, trace_id="t", now=NOW
        )


def test_a_chat_request_tied_to_an_incident_waits_and_an_approval_of_that_incident_runs_it(
    make_runtime,
) -> None:
    rt = make_runtime()
    incident_id = open_incident(rt, "HighLatency")  # no rule: nothing planned from the alert itself
    request = {
        "request_id": "r1",
        "service": "search",
        "action": "reboot",
        "requested_by": "U03BOB00003",
        "instance": "i-0b1b2c3d4e5f60011",
        "capacity": None,
        "incident_id": incident_id,
        "source": "chat",
    }

    started = flow.request_remediation(rt, data=request, trace_id="t", now=NOW)

    assert started.state == "awaiting_approval"
    outcome = flow.decide(rt, data=decision(incident_id, APPROVER), trace_id="t", now=NOW)
    assert (outcome.status, outcome.run_id) == ("approved", started.run_id)


def test_a_request_naming_an_unknown_incident_is_refused(make_runtime) -> None:
    rt = make_runtime()
    request = {
        "request_id": "r2",
        "service": "search",
        "action": "reboot",
        "requested_by": "U03BOB00003",
        "instance": "i-0b1b2c3d4e5f60011",
        "incident_id": 999,
    }
    with pytest.raises(NotFound):
        flow.request_remediation(rt, data=request, trace_id="t", now=NOW)


def test_a_chat_request_without_an_incident_gets_one_that_can_be_approved(make_runtime) -> None:
    """Issue 13 #3: `scale checkout to 6` was keyed `request-…`; nothing could approve it."""
    rt = make_runtime()
    request = {
        "request_id": "r3",
        "service": "search",
        "action": "reboot",
        "requested_by": "U03BOB00003",
        "instance": "i-0b1b2c3d4e5f60011",
        "source": "chat",
    }

    started = flow.request_remediation(rt, data=request, trace_id="t", now=NOW)

    assert started.state == "awaiting_approval"
    run = rt.runs.run(started.run_id)
    assert isinstance(run.incident_id, int)
    assert rt.incident_facts.incident(run.incident_id).status == "open"
    outcome = flow.decide(rt, data=decision(run.incident_id, APPROVER), trace_id="t", now=NOW)
    assert (outcome.status, outcome.run_id) == ("approved", started.run_id)
    again = flow.request_remediation(rt, data=request, trace_id="t", now=NOW)  # a redelivery
    assert again.run_id == started.run_id
