"""Remediation planning and safety rules (pure): parameters, plans, guards and the guard port."""

from pipeline.remediation.guards import (
    BreakerPhase,
    BreakerSnapshot,
    GuardDecision,
    GuardRequest,
    Reason,
    check_approval,
    check_blast_radius,
    check_change_freeze,
    guard_step,
)
from pipeline.remediation.params import ActionParams, RefusedParameter, parse_params
from pipeline.remediation.plan import (
    PlanRefused,
    PlanStep,
    RemediationPlan,
    RemediationRequested,
    plan,
    plan_request,
)
from pipeline.remediation.store import GuardStore, InMemoryGuardStore

__all__ = [
    "ActionParams",
    "BreakerPhase",
    "BreakerSnapshot",
    "GuardDecision",
    "GuardRequest",
    "GuardStore",
    "InMemoryGuardStore",
    "PlanRefused",
    "PlanStep",
    "RefusedParameter",
    "Reason",
    "RemediationPlan",
    "RemediationRequested",
    "check_approval",
    "check_blast_radius",
    "check_change_freeze",
    "guard_step",
    "parse_params",
    "plan",
    "plan_request",
]
