"""Guards that stand before every step: what may act now, and why not.

Plan-level guards (blast radius, change freeze, approval) are pure functions of the plan, the
policy and the time. Stateful guards (kill switch, circuit breaker, rate limit, cooldown) are
decided by `reserve`, a pure function over a state snapshot; a `GuardStore` applies it
atomically (the in-memory fake in Python, Redis in one Lua script with the same rules).
Refusals are values with a reason code, never exceptions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum

from pipeline.catalog import Catalog
from pipeline.policy import ActionName, Decision, GuardLimits, Policy


class Reason(StrEnum):
    ALLOWED = "allowed"
    ALREADY_RESERVED = "already_reserved"
    KILL_SWITCH = "kill_switch"
    CIRCUIT_OPEN = "circuit_open"
    CIRCUIT_HALF_OPEN = "circuit_half_open_trial_in_flight"
    RATE_LIMITED = "rate_limited"
    COOLDOWN = "cooldown"
    BLAST_RADIUS_TARGETS = "blast_radius_targets"
    BLAST_RADIUS_SHARE = "blast_radius_share"
    CHANGE_FREEZE = "change_freeze"
    APPROVAL_REQUIRED = "approval_required"
    NOTIFY_ONLY = "notify_only"


@dataclass(frozen=True)
class GuardDecision:
    allowed: bool
    reason_code: str
    detail: str = ""
    retry_after_s: float | None = None

    def as_dict(self) -> dict:
        return {
            "allowed": self.allowed,
            "reason_code": self.reason_code,
            "detail": self.detail,
            "retry_after_s": self.retry_after_s,
        }


def _allow(reason: Reason = Reason.ALLOWED, detail: str = "") -> GuardDecision:
    return GuardDecision(True, reason.value, detail)


def _refuse(reason: Reason, detail: str, retry_after_s: float | None = None) -> GuardDecision:
    return GuardDecision(False, reason.value, detail, retry_after_s)


@dataclass(frozen=True)
class GuardRequest:
    """One step asking to act on one target; the idempotency key makes asking twice harmless."""

    idempotency_key: str
    action: str
    target: str


class BreakerPhase(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerState:
    """Circuit breaker of one action type; `opened_at` set means open (or half-open once cool)."""

    consecutive_failures: int = 0
    opened_at: float | None = None
    trial_key: str | None = None
    trial_at: float | None = None

    def phase(self, limits: GuardLimits, now: float) -> BreakerPhase:
        if self.opened_at is None:
            return BreakerPhase.CLOSED
        if now - self.opened_at < limits.breaker_cooldown_s:
            return BreakerPhase.OPEN
        return BreakerPhase.HALF_OPEN


@dataclass(frozen=True)
class BreakerSnapshot:
    action: str
    phase: BreakerPhase
    consecutive_failures: int
    opened_at: float | None


@dataclass(frozen=True)
class TargetState:
    """Reservations on one target: their times (within the rate window) and the latest one."""

    reserved_at: tuple[float, ...] = ()
    last_reserved_at: float | None = None


@dataclass(frozen=True)
class Reservation:
    decision: GuardDecision
    breaker: BreakerState
    target: TargetState


def reserve(
    request: GuardRequest,
    *,
    kill_switch: bool,
    already_reserved: bool,
    breaker: BreakerState,
    target: TargetState,
    limits: GuardLimits,
    now: float,
) -> Reservation:
    """Decide one check-and-reserve: kill switch, breaker, rate limit, cooldown, then record."""
    unchanged = Reservation(_allow(), breaker, target)
    if kill_switch:
        return replace(
            unchanged, decision=_refuse(Reason.KILL_SWITCH, "global kill switch engaged")
        )
    breaker_verdict, breaker = _pass_breaker(request, breaker, limits, now)
    if not breaker_verdict.allowed:
        return replace(unchanged, decision=breaker_verdict)
    if already_reserved:
        detail = "this step passed its guards before; not counted again"
        return Reservation(_allow(Reason.ALREADY_RESERVED, detail), breaker, target)
    window_start = now - limits.rate_limit_window_s
    recent = tuple(t for t in target.reserved_at if t > window_start)
    if len(recent) >= limits.rate_limit_max:
        wait = min(recent) + limits.rate_limit_window_s - now
        detail = f"{len(recent)} actions on {request.target} within {limits.rate_limit_window_s:g}s"
        return replace(unchanged, decision=_refuse(Reason.RATE_LIMITED, detail, _ceil(wait)))
    last = target.last_reserved_at
    if last is not None and now - last < limits.cooldown_s:
        wait = last + limits.cooldown_s - now
        detail = f"{request.target} acted on {now - last:.0f}s ago; cooldown {limits.cooldown_s:g}s"
        return replace(unchanged, decision=_refuse(Reason.COOLDOWN, detail, _ceil(wait)))
    return Reservation(_allow(), breaker, TargetState((*recent, now), now))


def _pass_breaker(
    request: GuardRequest, breaker: BreakerState, limits: GuardLimits, now: float
) -> tuple[GuardDecision, BreakerState]:
    phase = breaker.phase(limits, now)
    if phase is BreakerPhase.CLOSED:
        return _allow(), breaker
    if phase is BreakerPhase.OPEN:
        wait = breaker.opened_at + limits.breaker_cooldown_s - now  # type: ignore[operator]
        detail = f"{request.action} failed {breaker.consecutive_failures} times in a row"
        return _refuse(Reason.CIRCUIT_OPEN, detail, _ceil(wait)), breaker
    trial_busy = (
        breaker.trial_key is not None
        and breaker.trial_key != request.idempotency_key
        and now - (breaker.trial_at or 0.0) < limits.breaker_cooldown_s
    )
    if trial_busy:
        detail = f"one trial of {request.action} is in flight"
        return _refuse(Reason.CIRCUIT_HALF_OPEN, detail, None), breaker
    # Half-open: this step is the one trial; its outcome closes or re-opens the breaker.
    return _allow(), replace(breaker, trial_key=request.idempotency_key, trial_at=now)


def record_outcome(
    breaker: BreakerState, succeeded: bool, limits: GuardLimits, now: float
) -> BreakerState:
    """A success closes the breaker; the Nth consecutive failure, or a failed trial, opens it."""
    if succeeded:
        return BreakerState()
    failures = breaker.consecutive_failures + 1
    was_open = breaker.opened_at is not None
    if was_open or failures >= limits.breaker_failure_threshold:
        return BreakerState(failures, now, None, None)
    return BreakerState(failures, None, None, None)


def _ceil(seconds: float) -> float:
    return float(max(0, math.ceil(seconds)))


# ------------------------------------------------------------ plan-level guards


def check_blast_radius(plan, catalog: Catalog, limits: GuardLimits) -> GuardDecision:
    """Refuse plans touching too many targets or too large a share of the service's fleet."""
    targets = {step.target for step in plan.steps}
    if len(targets) > limits.max_targets_per_plan:
        detail = f"{len(targets)} targets exceed the cap of {limits.max_targets_per_plan} per plan"
        return _refuse(Reason.BLAST_RADIUS_TARGETS, detail)
    service = catalog.service(plan.service)
    fleet = service.effective_fleet_size if service else 1
    instances = {t for t in targets if t.startswith("ec2:")}
    share = len(instances) / fleet
    if instances and share > limits.max_fleet_share:
        cap = limits.max_fleet_share
        detail = f"{len(instances)} of {fleet} instances ({share:.0%}) exceed {cap:.0%}"
        return _refuse(Reason.BLAST_RADIUS_SHARE, detail)
    return _allow()


def check_change_freeze(policy: Policy, now: datetime, approved: bool) -> GuardDecision:
    """During a freeze only approved steps run, and none when the policy says notify only."""
    window = policy.change_freeze.active_window(now)
    if window is None:
        return _allow()
    if policy.change_freeze.decision is Decision.NOTIFY_ONLY:
        return _refuse(Reason.CHANGE_FREEZE, f"change freeze {window!r}: notify only")
    if not approved:
        return _refuse(Reason.CHANGE_FREEZE, f"change freeze {window!r}: needs an approval")
    return _allow(detail=f"change freeze {window!r}, approved")


def check_approval(plan, approved: bool) -> GuardDecision:
    """A plan that needs approval acts only once approved; a notify-only plan never acts."""
    if plan.decision is Decision.NOTIFY_ONLY:
        return _refuse(Reason.NOTIFY_ONLY, "the plan's decision is notify only")
    if plan.decision is Decision.NEEDS_APPROVAL and not approved:
        return _refuse(Reason.APPROVAL_REQUIRED, "the plan needs an approval from an allowed role")
    return _allow()


def guard_step(
    store, plan, step, catalog: Catalog, policy: Policy, *, approved: bool, now: datetime
) -> GuardDecision:
    """Every guard for one step, cheapest first; reserves the step's slot only if all pass."""
    for verdict in (
        check_approval(plan, approved),
        check_blast_radius(plan, catalog, policy.guards),
        check_change_freeze(policy, now, approved),
    ):
        if not verdict.allowed:
            return verdict
    request = GuardRequest(step.idempotency_key, ActionName(step.action).value, step.target)
    return store.check_and_reserve(request, policy.guards.for_action(step.action), now)
