"""The guard state port and its in-memory fake.

`GuardStore.check_and_reserve` must be atomic: between checking a limit and recording the
reservation no other worker may slip in. The Redis adapter does it in one Lua script;
this fake does it under a lock with the same pure rules (`guards.reserve`).
"""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Protocol

from pipeline.policy import GuardLimits
from pipeline.remediation.guards import (
    BreakerSnapshot,
    BreakerState,
    GuardDecision,
    GuardRequest,
    Reason,
    TargetState,
    record_outcome,
    reserve,
)


class GuardStore(Protocol):
    def check_and_reserve(
        self, request: GuardRequest, limits: GuardLimits, now: datetime
    ) -> GuardDecision:
        """Atomically check kill switch, breaker, rate limit and cooldown, then reserve."""

    def record_outcome(
        self, action: str, succeeded: bool, limits: GuardLimits, now: datetime
    ) -> BreakerSnapshot:
        """Feed a step's outcome to the breaker of its action type."""

    def breaker(self, action: str, limits: GuardLimits, now: datetime) -> BreakerSnapshot:
        """The breaker of one action type as it stands."""

    def set_kill_switch(self, engaged: bool) -> None:
        """Engage or release the global kill switch."""

    def kill_switch_engaged(self) -> bool:
        """Whether the global kill switch is engaged."""


def snapshot(action: str, state: BreakerState, limits: GuardLimits, now: float) -> BreakerSnapshot:
    return BreakerSnapshot(
        action, state.phase(limits, now), state.consecutive_failures, state.opened_at
    )


class InMemoryGuardStore:
    """Guard state in process memory; for unit tests and single-process development."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kill_switch = False
        self._breakers: dict[str, BreakerState] = {}
        self._targets: dict[str, TargetState] = {}
        self._reserved: set[str] = set()

    def check_and_reserve(
        self, request: GuardRequest, limits: GuardLimits, now: datetime
    ) -> GuardDecision:
        with self._lock:
            outcome = reserve(
                request,
                kill_switch=self._kill_switch,
                already_reserved=request.idempotency_key in self._reserved,
                breaker=self._breakers.get(request.action, BreakerState()),
                target=self._targets.get(request.target, TargetState()),
                limits=limits,
                now=now.timestamp(),
            )
            if outcome.decision.allowed:
                self._breakers[request.action] = outcome.breaker
                self._targets[request.target] = outcome.target
            if outcome.decision.reason_code == Reason.ALLOWED:
                self._reserved.add(request.idempotency_key)
            return outcome.decision

    def record_outcome(
        self, action: str, succeeded: bool, limits: GuardLimits, now: datetime
    ) -> BreakerSnapshot:
        with self._lock:
            state = record_outcome(
                self._breakers.get(action, BreakerState()), succeeded, limits, now.timestamp()
            )
            self._breakers[action] = state
            return snapshot(action, state, limits, now.timestamp())

    def breaker(self, action: str, limits: GuardLimits, now: datetime) -> BreakerSnapshot:
        with self._lock:
            return snapshot(
                action, self._breakers.get(action, BreakerState()), limits, now.timestamp()
            )

    def set_kill_switch(self, engaged: bool) -> None:
        with self._lock:
            self._kill_switch = engaged

    def kill_switch_engaged(self) -> bool:
        with self._lock:
            return self._kill_switch
