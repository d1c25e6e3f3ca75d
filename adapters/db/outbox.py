"""The transactional outbox: follow-up messages written in the transaction of the state they follow.

A row is added inside the transaction that commits the state change (an alert batch that opened
incidents), so the follow-up exists exactly when the state does. `adapters.db.outbox_relay`
publishes rows after the commit and deletes them once the broker has them; a crash in between
leaves the row for the sweep, and consumers are idempotent on the event id, so a message published
twice is handled once.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Row

from adapters.db.engine import is_postgres
from adapters.db.schema import BigId, Json, Time, metadata
from pipeline.events import CloudEvent

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("task", sa.String(128), nullable=False),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("event", Json, nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.UniqueConstraint("event_id", name="uq_outbox_event"),
    sa.Index("ix_outbox_created", "created_at"),
)


def add(conn: Connection, task: str, events: Sequence[CloudEvent], *, now: datetime) -> None:
    """Queue `events` for `task` inside the caller's transaction; an event already queued is kept once."""
    if not events:
        return
    dialect_insert = postgresql.insert if is_postgres(conn.engine) else sqlite.insert
    rows = [{"task": task, "event_id": event.id, "event": event.to_dict(), "created_at": now} for event in events]
    conn.execute(dialect_insert(outbox).on_conflict_do_nothing(index_elements=["event_id"]), rows)


def pending(conn: Connection, *, event_ids: Sequence[str] | None = None, created_before: datetime | None = None,
            limit: int = 100) -> list[Row]:
    """Rows not yet relayed: the given ones, or the oldest ones created before a moment."""
    query = sa.select(outbox.c.id, outbox.c.task, outbox.c.event).order_by(outbox.c.id).limit(limit)
    if event_ids is not None:
        query = query.where(outbox.c.event_id.in_(list(event_ids)))
    if created_before is not None:
        query = query.where(outbox.c.created_at < created_before)
    return list(conn.execute(query).all())


def remove(conn: Connection, ids: Sequence[int]) -> None:
    """Forget rows the broker has taken."""
    if ids:
        conn.execute(outbox.delete().where(outbox.c.id.in_(list(ids))))
