"""Chat commands acted on once, and incident acknowledgements.

Every write is one transaction: the command's claim row, the state change and its audit
rows commit together, so a redelivered chat message finds its claim and changes nothing.
Silences (`silence_store`) claim their commands the same way; answers read `chat_queries`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.engine import insert_ignoring_duplicates
from adapters.db.schema_chat import chat_commands, incident_acks
from pipeline.audit import AuditRecord
from pipeline.errors import NotFound
from pipeline.events import to_utc
from services.chat_records import Acknowledged, Command


class CommandStore:
    """Chat commands acted on once, and incident acknowledgements."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record(self, command: Command, records: Sequence[AuditRecord]) -> bool:
        """Append the command's audit rows once; False when the command was already recorded."""
        with self._engine.begin() as conn:
            if not claim(conn, command):
                return False
            audit_writer.append(conn, records)
            return True

    def acknowledge(self, command: Command, incident_id: int, actor: str) -> Acknowledged:
        """Mark an incident acknowledged by `actor` (the first acknowledgement stands) with its audit row."""
        with self._engine.begin() as conn:
            row = conn.execute(
                sa.select(incident_acks.c.acknowledged_by, incident_acks.c.acknowledged_at)
                .where(incident_acks.c.id == incident_id)
                .with_for_update()
            ).first()
            if row is None:
                raise NotFound(f"incident {incident_id} does not exist")
            if row.acknowledged_by is not None:
                return Acknowledged(
                    incident_id, row.acknowledged_by, to_utc(row.acknowledged_at), first=False
                )
            if not claim(conn, command):
                return Acknowledged(incident_id, actor, command.now, first=False)
            conn.execute(
                incident_acks.update()
                .where(incident_acks.c.id == incident_id)
                .values(acknowledged_by=actor, acknowledged_at=command.now)
            )
            audit_writer.append(
                conn, [command_audit(command, "incident.acknowledged", actor, incident_id, {})]
            )
            return Acknowledged(incident_id, actor, command.now, first=True)


def claim(conn: Connection, command: Command) -> bool:
    """Record the command as acted on; False when an earlier delivery already did."""
    inserted = conn.execute(
        insert_ignoring_duplicates(
            conn,
            chat_commands,
            {
                "event_id": command.event_id,
                "user_id": command.user,
                "channel_id": command.channel,
                "intent": command.intent,
                "processed_at": command.now,
            },
            returning=chat_commands.c.event_id,
        )
    )
    return inserted.first() is not None


def command_audit(
    command: Command, kind: str, actor: str, incident_id: int | None, data: dict[str, Any]
) -> AuditRecord:
    """An audit row of this command (its event id and trace id carried)."""
    return AuditRecord(
        kind=kind,
        occurred_at=command.now,
        actor=actor,
        incident_id=incident_id,
        event_id=command.event_id,
        trace_id=command.trace_id,
        data=data,
    )
