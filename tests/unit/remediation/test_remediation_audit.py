"""Every remediation decision and outcome becomes an audit record that identifies its step."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from remediation_support import SEARCH_INSTANCES

from pipeline.audit import GENESIS_HASH, chain, verify
from pipeline.remediation import audit, guard_step, plan
from pipeline.risk import IncidentFacts, TargetHistory, assess

AT = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _run(catalog, policy, store):
    facts = IncidentFacts.from_catalog(
        catalog,
        incident_id="5",
        service="search",
        alertname="InstanceDown",
        labels={"severity": "warning"},
        targets=(SEARCH_INSTANCES[0],),
    )
    assessment = assess(facts, TargetHistory(), policy, AT)
    built = plan(facts, assessment, catalog, policy)
    step = built.steps[0]
    decision = guard_step(store, built, step, catalog, policy, approved=False, now=AT)
    return assessment, built, step, decision


def test_records_carry_plan_step_and_key(catalog, policy, store) -> None:
    assessment, built, step, decision = _run(catalog, policy, store)
    dry = {
        "called": "ec2:RebootInstances",
        "request": {"InstanceIds": [SEARCH_INSTANCES[0]]},
        "response_summary": {"before": {"state": "running"}},
        "dry_run": True,
    }
    records = [
        audit.assessed(assessment, incident_id=5, at=AT),
        audit.planned(built, mode="dry_run", incident_id=5, at=AT),
        audit.guarded(built.plan_id, step, decision, incident_id=5, at=AT),
        audit.executed(built.plan_id, step, dry, incident_id=5, at=AT),
        audit.verified(
            built.plan_id, step, {"ok": False, "detail": "timed out"}, incident_id=5, at=AT
        ),
    ]
    assert [r.kind for r in records] == [
        "risk.assessed",
        "remediation.planned",
        "remediation.guard_allowed",
        "remediation.step_dry_run",
        "remediation.step_failed",
    ]
    for record in records[2:]:
        assert record.data["plan_id"] == built.plan_id
        assert record.data["idempotency_key"] == step.idempotency_key
        assert record.data["target"] == f"ec2:{SEARCH_INSTANCES[0]}"
    assert records[1].data["mode"] == "dry_run"
    assert records[3].data["request"] == {"InstanceIds": [SEARCH_INSTANCES[0]]}


def test_records_chain_and_verify(catalog, policy, store) -> None:
    assessment, built, step, decision = _run(catalog, policy, store)
    rows = chain(
        [
            audit.assessed(assessment, incident_id=5, at=AT),
            audit.guarded(built.plan_id, step, decision, incident_id=5, at=AT),
        ],
        0,
        GENESIS_HASH,
    )
    assert verify(rows, (rows[-1].seq, rows[-1].hash)).ok
    assert json.loads(rows[0].body)["data"]["decision"] == assessment.decision.value


def test_approval_names_the_approver_and_roles() -> None:
    record = audit.approval(
        "p1",
        approved=False,
        approver="carol",
        roles={"sre-lead", "dev"},
        reason="not during the sale",
        incident_id=9,
        at=AT,
    )
    assert (record.kind, record.actor) == ("remediation.denied", "carol")
    assert record.data == {
        "plan_id": "p1",
        "approver": "carol",
        "roles": ["dev", "sre-lead"],
        "reason": "not during the sale",
    }
