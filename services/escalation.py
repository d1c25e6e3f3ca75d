"""Escalating an unacknowledged incident, tier by tier: check, claim, page, audit, say what is next.

A tier is claimed before anyone is paged (one claim per incident and tier), so a redelivered or
duplicated countdown task never pages twice; an acknowledgement or a resolution found when the
tier comes due cancels it and every later tier (Celery cannot reliably revoke a countdown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pipeline.escalation import EscalationBook, PagedIncident, PageTarget, page_message

SYSTEM = "system"


class EscalationState(Protocol):
    """Incident state and the page log (adapters.pager_log)."""

    def incident(self, incident_id: int) -> dict[str, Any]:
        """id, service, alertname, severity, status, acknowledged_by; NotFound when missing."""

    def paged_tiers(self, incident_id: int) -> set[int]:
        """Tiers already claimed for the incident."""

    def claim_tier(self, incident_id: int, tier: int, *, by: str, now: datetime, trace_id: str) -> bool:
        """Claim a tier (audited); False when it was claimed before."""

    def record_page(
        self, incident_id: int, tier: int, target: PageTarget, *, ok: bool, detail: str, by: str,
        now: datetime, trace_id: str,
    ) -> None:
        """One audit row per page sent (or failed)."""


class Pager(Protocol):
    def send(self, target: PageTarget, message: dict[str, Any]) -> None:
        """Deliver a page; raises on failure."""


@dataclass(frozen=True, slots=True)
class EscalationOutcome:
    """What a tier did, and the tier due next with its delay (None: nothing more to schedule)."""

    status: str
    tier: int | None = None
    paged: tuple[str, ...] = ()
    next_tier: int | None = None
    next_after_s: float | None = None


def first_tier_delay(book: EscalationBook, service: str) -> float | None:
    """When the first tier of a newly opened incident is due; None when no policy applies."""
    policy = book.for_service(service)
    return policy.tiers[0].after_s if policy else None


def escalate(
    state: EscalationState,
    pager: Pager,
    book: EscalationBook,
    *,
    incident_id: int,
    tier: int | None,
    by: str = SYSTEM,
    now: datetime,
    trace_id: str = "",
) -> EscalationOutcome:
    """Page `tier` (None: the next unpaged tier, at once: a person's `escalate`)."""
    incident = state.incident(incident_id)
    if incident["status"] != "open":
        return EscalationOutcome("cancelled_resolved", tier)
    if by == SYSTEM and incident.get("acknowledged_by"):
        return EscalationOutcome("cancelled_acknowledged", tier)
    policy = book.for_service(incident["service"])
    if policy is None:
        return EscalationOutcome("no_policy", tier)
    if tier is None:
        claimed = state.paged_tiers(incident_id)
        tier = next((i for i in range(len(policy.tiers)) if i not in claimed), len(policy.tiers))
    if tier >= len(policy.tiers):
        return EscalationOutcome("exhausted", tier)
    if not state.claim_tier(incident_id, tier, by=by, now=now, trace_id=trace_id):
        return EscalationOutcome("duplicate", tier)
    subject = PagedIncident(
        incident_id, incident["service"], incident.get("alertname") or "", incident.get("severity") or ""
    )
    paged = []
    for target in policy.tiers[tier].targets:
        try:
            pager.send(target, page_message(subject, tier, target, by))
        except Exception as exc:  # noqa: BLE001 - one unreachable target must not silence the others
            state.record_page(incident_id, tier, target, ok=False, detail=str(exc)[:300], by=by, now=now,
                              trace_id=trace_id)
            continue
        state.record_page(incident_id, tier, target, ok=True, detail="", by=by, now=now, trace_id=trace_id)
        paged.append(target.name)
    following = tier + 1
    if following >= len(policy.tiers):
        return EscalationOutcome("paged", tier, tuple(paged))
    return EscalationOutcome("paged", tier, tuple(paged), following, policy.tiers[following].after_s)
