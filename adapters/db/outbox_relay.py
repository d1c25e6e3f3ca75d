"""Relaying the outbox to the broker: right after a commit, and by a periodic sweep for rows a crash left."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone

import structlog
from sqlalchemy.engine import Engine

from adapters.periodic import PeriodicJob
from adapters.db import outbox
from pipeline.events import CloudEvent

log = structlog.get_logger("outbox")

Publish = Callable[[str, CloudEvent], None]
PublishMany = Callable[[Sequence[tuple[str, CloudEvent]]], None]


class OutboxRelay:
    """Publishes outbox rows, then deletes them; a row whose publish fails stays for the next sweep.

    With `publish_many` (all or none, as Redis's MULTI), the rows of one relay go in one round trip.
    """

    def __init__(self, engine: Engine, publish: Publish, *, batch: int = 100,
                 publish_many: PublishMany | None = None) -> None:
        self._engine, self._publish, self._batch = engine, publish, batch
        self._publish_many = publish_many

    def relay(self, event_ids: Sequence[str]) -> int:
        """Publish these rows now (the ones a transaction just committed); how many were published."""
        if not event_ids:
            return 0
        with self._engine.connect() as conn:
            rows = outbox.pending(conn, event_ids=event_ids, limit=len(event_ids))
        return self._send(rows)

    def sweep(self, older_than_s: float, now: datetime | None = None) -> int:
        """Publish rows older than `older_than_s` (left by a crash between commit and relay)."""
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(seconds=older_than_s)
        sent = 0
        while True:
            with self._engine.connect() as conn:
                rows = outbox.pending(conn, created_before=cutoff, limit=self._batch)
            sent += self._send(rows)
            if len(rows) < self._batch:
                break
        if sent:
            log.warning("outbox.swept", published=sent)
        return sent

    def _send(self, rows: Sequence) -> int:
        if self._publish_many is not None and rows:
            self._publish_many([(row.task, CloudEvent.from_dict(row.event)) for row in rows])
            with self._engine.begin() as conn:
                outbox.remove(conn, [row.id for row in rows])
            return len(rows)
        published: list[int] = []
        try:
            for row in rows:
                self._publish(row.task, CloudEvent.from_dict(row.event))
                published.append(row.id)
        finally:
            # Delete what the broker has even if a later publish failed; a crash before this line
            # only means those rows are published again, which consumers dedupe by event id.
            if published:
                with self._engine.begin() as conn:
                    outbox.remove(conn, published)
        return len(published)


class OutboxSweeper:
    """A worker-side thread that sweeps the outbox every interval."""

    def __init__(self, relay: OutboxRelay, *, interval_s: float, older_than_s: float) -> None:
        # Broker or database down: the sweep fails, is logged, and runs again next interval.
        self._job = PeriodicJob(lambda: relay.sweep(older_than_s), interval_s=interval_s,
                                name="outbox-sweeper", log=log, failure_event="outbox.sweep_failed")

    def start(self) -> threading.Thread:
        return self._job.start()

    def stop(self) -> None:
        self._job.stop()
