"""What a finished remediation run achieved, as facts, and the signature it is learnt under.

A run's outcome is judged after the verify horizon from three facts, each observable from
the alert stream alone:
- resolved: every alert of the incident resolved within the horizon after the last step;
- recurred: the same alert fired again on the same target within 24 hours;
- worsened: an alert the incident did not have fired on the target within the horizon.
A run *fixed* its incident when it resolved it, and it neither recurred nor worsened.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from pipeline.errors import InvalidInput

RECURRENCE_SECONDS = 24 * 3600


@dataclass(frozen=True, order=True)
class Signature:
    """The kind of incident outcomes are pooled under: alert name, service, severity, tier.

    Coarser levels (`widen`) let a rare signature borrow strength from its alert name and
    from every incident: a new service's InstanceDown starts from what reboots did for
    InstanceDown elsewhere, not from nothing.
    """

    alertname: str
    service: str
    severity: str
    tier: int

    def widen(self) -> tuple[tuple[str, ...], ...]:
        """Keys from the most specific to the widest, each a prefix-free tuple."""
        return (
            ("signature", self.alertname, self.service, self.severity, str(self.tier)),
            ("alert", self.alertname, self.severity),
            ("alert-name", self.alertname),
            ("any",),
        )

    def describe(self) -> str:
        return f"{self.alertname} on {self.service}"


@dataclass(frozen=True)
class Outcome:
    """One finished run, judged: which action on which kind of incident, and what happened."""

    run_id: str
    incident_id: str
    signature: Signature
    action: str
    finished_at: datetime
    resolved: bool
    recurred: bool
    worsened: bool

    def __post_init__(self) -> None:
        if not self.action:
            raise InvalidInput("an outcome needs the action that ran")
        if self.recurred and not self.resolved:
            raise InvalidInput("an incident that never resolved cannot recur")

    @property
    def fixed(self) -> bool:
        return self.resolved and not self.recurred and not self.worsened


def judge(
    *,
    last_step_at: datetime,
    horizon_seconds: float,
    resolved_at: datetime | None,
    refired_at: datetime | None,
    new_alert_at: datetime | None,
    acted_at: datetime | None = None,
) -> tuple[bool, bool, bool]:
    """(resolved, recurred, worsened) from the alert stream's timestamps around a run.

    Resolving counts from `acted_at` (when the run began to act; the last step if not given),
    so an alert that cleared while the run was still verifying counts, and one that cleared
    before anything was done does not.
    """
    if horizon_seconds <= 0:
        raise InvalidInput("the verify horizon must be positive")
    start = last_step_at if acted_at is None else min(acted_at, last_step_at)
    resolved = (
        resolved_at is not None
        and start <= resolved_at
        and (resolved_at - last_step_at).total_seconds() <= horizon_seconds
    )
    recurred = (
        resolved
        and refired_at is not None
        and resolved_at is not None
        and 0 < (refired_at - resolved_at).total_seconds() <= RECURRENCE_SECONDS
    )
    worsened = (
        new_alert_at is not None
        and 0 <= (new_alert_at - last_step_at).total_seconds() <= horizon_seconds
    )
    return resolved, recurred, worsened


def first_attempts(outcomes: Iterable[Outcome]) -> list[Outcome]:
    """The first judged run of each incident, in the given order (oldest first).

    A later run acted on an incident the first did not fix: a biased sample for judging which
    action to try first, so learner (a) learns from first attempts only, as it is evaluated.
    """
    seen: set[str] = set()
    firsts = []
    for outcome in sorted(outcomes, key=lambda o: o.finished_at):
        if outcome.incident_id not in seen:
            seen.add(outcome.incident_id)
            firsts.append(outcome)
    return firsts
