"""Four eyes: whoever asked for a remediation may not approve it, unless the policy says so."""

from __future__ import annotations

import json

import sqlalchemy as sa
from remediation_tasks_support import APPROVER, NOW, open_incident

from adapters.db.schema import audit_log
from pipeline.nlu.authz import Role
from pipeline.policy import Policy
from services import remediation as flow


def requested_run(rt, requester: str):  # type: ignore[no-untyped-def]
    incident_id = open_incident(rt, "HighLatency")
    request = {
        "request_id": "r-four-eyes", "service": "search", "action": "reboot", "requested_by": requester,
        "instance": "i-0b1b2c3d4e5f60011", "capacity": None, "incident_id": incident_id, "source": "chat",
    }
    started = flow.request_remediation(rt, data=request, trace_id="t", now=NOW)
    assert started.state == "awaiting_approval"
    return incident_id, started.run_id


def approval(incident_id: int, approver: str, **extra: object) -> dict:
    return {"incident_id": incident_id, "approve": True, "approver": approver, "reason": "mine", **extra}


def last_audit(rt) -> dict:  # type: ignore[no-untyped-def]
    with rt.runs._engine.connect() as conn:
        body = conn.execute(sa.select(audit_log.c.body).order_by(audit_log.c.seq.desc())).scalars().first()
    return json.loads(body)


def test_the_requester_may_not_approve_their_own_remediation_and_the_attempt_is_audited(make_runtime) -> None:
    rt = make_runtime()
    incident_id, run_id = requested_run(rt, APPROVER)

    outcome = flow.decide(rt, data=approval(incident_id, APPROVER), trace_id="t", now=NOW)

    assert outcome.status == "forbidden"
    assert rt.runs.run(run_id).state == "awaiting_approval"
    row = last_audit(rt)
    assert (row["kind"], row["actor"]) == ("remediation.decision_refused", APPROVER)
    assert row["data"]["reason"] == "four eyes: the requester of a remediation may not approve it"


def test_the_requester_may_still_deny_their_own_request(make_runtime) -> None:
    rt = make_runtime()
    incident_id, _ = requested_run(rt, APPROVER)
    outcome = flow.decide(rt, data=approval(incident_id, APPROVER, approve=False), trace_id="t", now=NOW)
    assert outcome.status == "denied"


def test_another_approver_may_approve(make_runtime) -> None:
    rt = make_runtime()
    incident_id, _ = requested_run(rt, "U03BOB00003")
    outcome = flow.decide(rt, data=approval(incident_id, APPROVER), trace_id="t", now=NOW)
    assert outcome.status == "approved"


def test_a_policy_that_allows_self_approval_lets_the_requester_approve(make_runtime) -> None:
    rt = make_runtime()
    rt.policy = Policy.model_validate({**rt.policy.model_dump(mode="json"), "requests": {"self_approval": True}})
    incident_id, _ = requested_run(rt, APPROVER)
    outcome = flow.decide(rt, data=approval(incident_id, APPROVER), trace_id="t", now=NOW)
    assert outcome.status == "approved"


def test_an_api_key_approver_is_rechecked_with_the_role_its_key_grants(make_runtime) -> None:
    rt = make_runtime()
    incident_id, _ = requested_run(rt, "U03BOB00003")
    granted = approval(incident_id, "apikey:release-bot", granted_roles=[Role.APPROVER.label])
    assert flow.decide(rt, data=granted, trace_id="t", now=NOW).status == "approved"


def test_an_api_key_of_too_low_a_role_is_refused_by_the_worker_too(make_runtime) -> None:
    rt = make_runtime()
    incident_id, _ = requested_run(rt, "U03BOB00003")
    ingest = approval(incident_id, "apikey:alertmanager", granted_roles=["ingest"])
    assert flow.decide(rt, data=ingest, trace_id="t", now=NOW).status == "forbidden"


def test_the_chat_is_told_why_a_decision_was_refused(make_runtime) -> None:
    """The reply names the reason (four eyes), not only 'you may not decide'."""
    from tasks.remediation import _decision_text

    rt = make_runtime()
    incident_id, _ = requested_run(rt, APPROVER)
    data = approval(incident_id, APPROVER)
    outcome = flow.decide(rt, data=data, trace_id="t", now=NOW)
    text = _decision_text(outcome, data)
    assert text.startswith("Refused:") and "four eyes: the requester of a remediation may not approve it" in text
