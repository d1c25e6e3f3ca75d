"""Escalation tasks: each tier is a countdown task; it pages, audits and schedules the next tier.

With a Redis broker a countdown task waits in a worker's memory and is redelivered after the
visibility timeout when that worker dies; the tier claim (services.escalation) makes that
redelivery, or any duplicate, a no-op.
"""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

import httpx
import structlog
from celery import current_app, shared_task

from adapters.pager import HttpPager
from adapters.pager_log import PageLog
from config.escalation import DEFAULT_ESCALATION_FILE, load_escalation
from pipeline.errors import InvalidInput
from pipeline.escalation import EscalationBook
from pipeline.events import CloudEvent
from services import escalation as flow
from tasks.base import PipelineTask
from tasks.runtime import runtime

log = structlog.get_logger("tasks.escalation")

ESCALATE = "escalation.page_tier"


@functools.cache
def _book(path: str) -> EscalationBook:
    return load_escalation(path)


def escalation_book() -> EscalationBook:
    path = getattr(runtime().settings, "escalation_path", None) or DEFAULT_ESCALATION_FILE
    return _book(str(path))


@functools.cache
def _pager() -> HttpPager:
    token = getattr(runtime().settings, "slack_bot_token", None)
    return HttpPager(httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0), follow_redirects=False),
                     token.get_secret_value() if token is not None else None)


def schedule_tier(incident_id: int, tier: int | None, countdown_s: float, *, by: str = flow.SYSTEM,
                  trace_id: str = "") -> None:
    """Send the tier's task to run after `countdown_s` (0: now)."""
    current_app.send_task(
        ESCALATE,
        args=[{"incident_id": incident_id, "tier": tier, "by": by, "trace_id": trace_id}],
        countdown=max(0.0, countdown_s),
        queue=runtime().settings.queues.remediation,
    )


def start_escalation(incident_id: int, service: str, trace_id: str = "") -> None:
    """A newly opened incident: schedule its policy's first tier, when it has a policy."""
    delay = flow.first_tier_delay(escalation_book(), service)
    if delay is not None:
        schedule_tier(incident_id, 0, delay, trace_id=trace_id)


@shared_task(name=ESCALATE, base=PipelineTask, bind=True, max_retries=None)
def page_tier(self: PipelineTask, data: dict[str, Any]) -> dict[str, Any]:
    """Page one tier unless the incident was acknowledged or resolved; schedule the next."""
    if isinstance(data, dict) and "specversion" in data:  # a CloudEvent from the API or chat
        envelope = CloudEvent.from_dict(data)
        data = {**envelope.data, "trace_id": envelope.traceid}
    incident_id = data.get("incident_id") if isinstance(data, dict) else None
    if not isinstance(incident_id, int) or isinstance(incident_id, bool) or incident_id < 1:
        raise InvalidInput(f"incident_id must be a positive integer, got {incident_id!r}")
    tier = data.get("tier")
    if tier is not None and (not isinstance(tier, int) or isinstance(tier, bool) or tier < 0):
        raise InvalidInput(f"tier must be a non-negative integer or null, got {tier!r}")
    by = str(data.get("by") or flow.SYSTEM)[:128]
    trace_id = str(data.get("trace_id") or "")[:64]
    outcome = flow.escalate(
        PageLog(runtime().engine), _pager(), escalation_book(),
        incident_id=incident_id, tier=tier, by=by, now=datetime.now(UTC), trace_id=trace_id,
    )
    if outcome.next_tier is not None and outcome.next_after_s is not None:
        schedule_tier(incident_id, outcome.next_tier, outcome.next_after_s, trace_id=trace_id)
    log.info("escalation.tier", incident_id=incident_id, tier=outcome.tier, status=outcome.status,
             paged=list(outcome.paged))
    return {"incident_id": incident_id, "tier": outcome.tier, "status": outcome.status,
            "paged": list(outcome.paged)}
