"""Recording alerts: what a recorded batch changed, and the port that records one."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from pipeline.events import AlertBatch


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a batch changed; `opened`/`resolved` are incident ids, for follow-up messages."""

    recorded: int = 0
    duplicates: int = 0
    opened: tuple[int, ...] = ()
    resolved: tuple[int, ...] = ()
    audit_rows: int = 0
    touched: tuple[int, ...] = field(default=())
    # Batches recorded together (AlertStore.record_batches): alerts recorded and duplicates, batch by batch.
    recorded_each: tuple[int, ...] = ()
    duplicates_each: tuple[int, ...] = ()
    # Event ids of the outbox rows the transaction wrote (the assessments of what it opened): relayed after it.
    follow_ups: tuple[str, ...] = ()


class AlertRecorder(Protocol):
    """Correlates a batch into incidents and stores it with its audit rows in one transaction.

    A redelivered batch changes nothing (adapters.db.alert_store.AlertStore).
    """

    def record_batch(self, batch: AlertBatch, *, trace_id: str, now: datetime) -> BatchOutcome: ...
