"""Alert batches from the webhook: correlate into incidents and record them with their audit rows."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import structlog

from celery import shared_task

from pipeline.events import AlertBatch, CloudEvent
from tasks.anomaly_evidence import attach_anomaly_evidence
from tasks.base import PipelineTask
from tasks.remediation import publish_assessments
from tasks.runtime import runtime

log = structlog.get_logger("tasks.alerts")


@shared_task(name="alerts.record_batch", base=PipelineTask, bind=True, max_retries=None)
def record_alert_batch(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Record every alert of one webhook request; a redelivered batch is a no-op."""
    envelope = CloudEvent.from_dict(event)
    batch = AlertBatch.from_data(envelope.data)
    now = datetime.now(timezone.utc)
    outcome = runtime().alert_store.record_batch(batch, trace_id=envelope.traceid, now=now)
    attach_anomaly_evidence(batch, envelope.traceid, now)  # before any follow-up reads the incident
    log.info("alerts.recorded", alerts=len(batch.alerts), recorded=outcome.recorded, duplicates=outcome.duplicates,
             opened=list(outcome.opened), resolved=list(outcome.resolved), audit_rows=outcome.audit_rows)
    # After the commit: each incident this batch opened gets its risk assessed (and maybe remediated).
    publish_assessments(outcome.opened, envelope.traceid)
    return {"recorded": outcome.recorded, "duplicates": outcome.duplicates,
            "opened": list(outcome.opened), "resolved": list(outcome.resolved)}
