"""Audit records of remediation: one builder per decision or outcome, so every row of a run
carries the same identifying fields (plan, step, action, target, idempotency key, mode)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from pipeline.audit import AuditRecord
from pipeline.remediation.guards import BreakerSnapshot, GuardDecision
from pipeline.remediation.plan import PlanRefused, PlanStep, RemediationPlan
from pipeline.risk import RiskAssessment

SYSTEM_ACTOR = "smartcloudops"


def _record(
    kind: str,
    at: datetime,
    actor: str,
    incident_id: int | None,
    trace_id: str | None,
    data: Mapping[str, Any],
) -> AuditRecord:
    return AuditRecord(
        kind=kind,
        occurred_at=at,
        actor=actor,
        incident_id=incident_id,
        trace_id=trace_id,
        data=dict(data),
    )


def _step(plan_id: str, step: PlanStep) -> dict[str, Any]:
    return {
        "plan_id": plan_id,
        "step_index": step.index,
        "action": step.action.value,
        "target": step.target,
        "idempotency_key": step.idempotency_key,
    }


def assessed(
    assessment: RiskAssessment,
    *,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """The score, every factor with its contribution, and the decision."""
    return _record("risk.assessed", at, SYSTEM_ACTOR, incident_id, trace_id, assessment.as_dict())


def planned(
    plan: RemediationPlan,
    *,
    mode: str,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """The plan with every step's validated parameters, and whether it runs dry."""
    actor = plan.requested_by or SYSTEM_ACTOR
    return _record(
        "remediation.planned", at, actor, incident_id, trace_id, {**plan.as_dict(), "mode": mode}
    )


def refused(
    refusal: PlanRefused,
    *,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
    request: Mapping[str, Any] | None = None,
) -> AuditRecord:
    """A plan refused (foreign instance, bad parameter, blast radius ...), with what was asked."""
    data = {
        "reason_code": refusal.reason_code,
        "detail": refusal.detail,
        "request": dict(request or {}),
    }
    return _record(
        "remediation.refused", at, refusal.requested_by or SYSTEM_ACTOR, incident_id, trace_id, data
    )


def guarded(
    plan_id: str,
    step: PlanStep,
    decision: GuardDecision,
    *,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """A guard's verdict on one step: allowed, or why not and when to try again."""
    kind = "remediation.guard_allowed" if decision.allowed else "remediation.guard_refused"
    return _record(
        kind,
        at,
        SYSTEM_ACTOR,
        incident_id,
        trace_id,
        {**_step(plan_id, step), **decision.as_dict()},
    )


def executed(
    plan_id: str,
    step: PlanStep,
    result: Mapping[str, Any],
    *,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """The API call made, or in a dry run the exact call and parameters that would be made."""
    kind = "remediation.step_dry_run" if result.get("dry_run") else "remediation.step_executed"
    return _record(
        kind, at, SYSTEM_ACTOR, incident_id, trace_id, {**_step(plan_id, step), **result}
    )


def not_repeated(
    plan_id: str,
    step: PlanStep,
    state: str,
    *,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """A redelivered step that had already acted (or may have): it is verified, not re-sent."""
    data = {**_step(plan_id, step), "stored_state": state}
    return _record("remediation.step_not_repeated", at, SYSTEM_ACTOR, incident_id, trace_id, data)


def verified(
    plan_id: str,
    step: PlanStep,
    result: Mapping[str, Any],
    *,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """What the real API showed after the step; a failure stops the chain."""
    kind = "remediation.step_verified" if result.get("ok") else "remediation.step_failed"
    return _record(
        kind, at, SYSTEM_ACTOR, incident_id, trace_id, {**_step(plan_id, step), **result}
    )


def breaker(
    snapshot: BreakerSnapshot, *, incident_id: int | None, at: datetime, trace_id: str | None = None
) -> AuditRecord:
    """The circuit breaker of an action type after an outcome was recorded."""
    data = {
        "action": snapshot.action,
        "phase": snapshot.phase.value,
        "consecutive_failures": snapshot.consecutive_failures,
        "opened_at": snapshot.opened_at,
    }
    return _record("remediation.breaker", at, SYSTEM_ACTOR, incident_id, trace_id, data)


def approval(
    plan_id: str,
    *,
    approved: bool,
    approver: str,
    roles: Iterable[str],
    reason: str,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    """A human's approval or denial, with who and under which roles."""
    kind = "remediation.approved" if approved else "remediation.denied"
    data = {"plan_id": plan_id, "approver": approver, "roles": sorted(roles), "reason": reason}
    return _record(kind, at, approver, incident_id, trace_id, data)


def approval_expired(
    plan_id: str,
    *,
    waited_s: float,
    incident_id: int | None,
    at: datetime,
    trace_id: str | None = None,
) -> AuditRecord:
    data = {"plan_id": plan_id, "waited_s": waited_s}
    return _record("remediation.approval_expired", at, SYSTEM_ACTOR, incident_id, trace_id, data)


def kill_switch(
    engaged: bool, *, by: str, reason: str, at: datetime, trace_id: str | None = None
) -> AuditRecord:
    data = {"engaged": engaged, "reason": reason}
    return _record("remediation.kill_switch", at, by, None, trace_id, data)
