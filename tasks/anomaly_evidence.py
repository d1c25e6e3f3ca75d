"""The alert-enrichment hook: attach recent anomaly scores to a recorded alert batch's incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Collection

import structlog

from pipeline.events import AlertBatch
from adapters.faults import is_transient
from tasks.runtime import runtime

log = structlog.get_logger("tasks.anomaly_evidence")


def attach_anomaly_evidence(
    batch: AlertBatch, trace_id: str, now: datetime, only: Collection[int] | None = None
) -> list[int]:
    """Record anomaly evidence for the batch's incidents (or `only` these); call it after recording.

    A transient failure propagates (the task retries, and the recorder's digest makes the retry
    write once). A permanent one is logged and swallowed: enrichment must never dead-letter an
    alert batch that is already recorded.
    """
    recorder = runtime().anomaly_evidence
    if recorder is None:
        return []
    try:
        updated = recorder.record(batch, trace_id, now, only)
    except Exception as exc:
        if is_transient(exc):
            raise
        log.error("anomaly_evidence.failed", error=repr(exc), alerts=len(batch.alerts))
        return []
    if updated:
        log.info("anomaly_evidence.attached", incidents=updated)
    return updated
