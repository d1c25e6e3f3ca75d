"""Silences: stored from chat commands, and honoured when alerts are recorded.

Writes that come from a chat command claim the command in the same transaction, so a
redelivered message creates or ends nothing twice. Every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.chat_store import claim, command_audit
from services.chat_records import Command, SilenceRow
from adapters.db.engine import insert_ignoring_duplicates
from adapters.db.schema import alerts
from adapters.db.schema_chat import silenced_alerts, silences
from pipeline.audit import AuditRecord
from pipeline.events import AlertBatch, AlertReceived, to_utc
from pipeline.silences import Silence, silencing

log = structlog.get_logger("adapters.silence_store")


class SilenceStore:
    """The only writer of silences; `mute_silenced` applies them inside the alert store's transaction."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create_silence(
        self,
        command: Command,
        *,
        alertname: str | None,
        service: str | None,
        ends_at: datetime,
        actor: str,
        reason: str,
    ) -> SilenceRow:
        """Store a silence from now to `ends_at` with its audit row; a redelivery returns the same silence."""
        candidate = Silence(
            0, alertname, service, command.now, ends_at
        )  # validates the matcher and range
        with self._engine.begin() as conn:
            existing = conn.execute(
                sa.select(silences).where(silences.c.event_id == command.event_id)
            ).first()
            if existing is not None:
                return _silence_row(existing)
            claim(conn, command)
            silence_id = conn.execute(
                silences.insert()
                .values(
                    alertname=alertname,
                    service=service,
                    starts_at=candidate.starts_at,
                    ends_at=ends_at,
                    created_by=actor,
                    reason=reason,
                    event_id=command.event_id,
                    created_at=command.now,
                )
                .returning(silences.c.id)
            ).scalar_one()
            audit_writer.append(
                conn,
                [
                    command_audit(
                        command,
                        "silence.created",
                        actor,
                        None,
                        {
                            "silence_id": silence_id,
                            "alertname": alertname,
                            "service": service,
                            "starts_at": command.now.isoformat(),
                            "ends_at": ends_at.isoformat(),
                        },
                    )
                ],
            )
        return SilenceRow(silence_id, alertname, service, command.now, ends_at, actor, None)

    def set_alertmanager_id(self, silence_id: int, alertmanager_id: str) -> None:
        """Remember the id Alertmanager gave the same silence (to expire it there too)."""
        with self._engine.begin() as conn:
            conn.execute(
                silences.update()
                .where(silences.c.id == silence_id)
                .values(alertmanager_id=alertmanager_id)
            )

    def end_silences(
        self, command: Command, *, alertname: str | None, service: str | None, actor: str
    ) -> list[SilenceRow]:
        """End now the active silences on this alertname and/or service; the ended ones, with audit rows."""
        with self._engine.begin() as conn:
            if not claim(conn, command):
                return []
            rows = conn.execute(
                sa.select(silences)
                .where(
                    _covered_by(alertname, service),
                    silences.c.ends_at > command.now,
                    silences.c.starts_at <= command.now,
                )
                .with_for_update()
            ).all()
            ended = [dataclasses.replace(_silence_row(row), ends_at=command.now) for row in rows]
            if ended:
                conn.execute(
                    silences.update()
                    .where(silences.c.id.in_([s.id for s in ended]))
                    .values(ends_at=command.now, ended_by=actor)
                )
                audit_writer.append(
                    conn,
                    [
                        command_audit(
                            command,
                            "silence.ended",
                            actor,
                            None,
                            {"silence_id": s.id, "alertname": s.alertname, "service": s.service},
                        )
                        for s in ended
                    ],
                )
            return ended

    def active_silences(self, now: datetime) -> list[SilenceRow]:
        with self._engine.connect() as conn:
            return [_silence_row(row) for row in _active_rows(conn, now)]


@dataclass(frozen=True, slots=True)
class Muted:
    """The batches with their silenced alerts taken out, and the audit rows of the alerts muted."""

    remaining: tuple[AlertBatch, ...]
    silenced: int
    audit: tuple[AuditRecord, ...] = ()


def mute_silenced(conn: Connection, batches: Sequence[tuple[AlertBatch, str]], *, now: datetime) -> Muted:
    """Take out of each (batch, trace id) the alerts an active silence mutes, recording them flagged `silenced`.

    An alert already correlated into an incident stays in (its resolution must resolve the
    incident); an alert muted before stays muted until it resolves, even after its silence ends.
    The batches are taken in order, each seeing what the ones before it stored, as if each were
    its own transaction. The audit rows are the caller's to append with the rest of its
    transaction's rows (one lock of the audit head).
    """
    active = [_silence(row) for row in _active_rows(conn, now)]
    fingerprints = sorted({alert.fingerprint for batch, _ in batches for alert in batch.alerts})
    muted_before = _identities(conn, silenced_alerts, fingerprints)
    if not active and not muted_before:
        return Muted(tuple(batch for batch, _ in batches), 0)
    correlated = _identities(conn, alerts, fingerprints)
    remaining: list[AlertBatch] = []
    records: list[AuditRecord] = []
    silenced = 0
    for batch, trace_id in batches:
        kept: list[AlertReceived] = []
        for alert in batch.alerts:
            ident = (alert.fingerprint, alert.starts_at)
            silence = None if ident in correlated else silencing(alert.labels, active, now)
            if ident not in muted_before and silence is None:
                kept.append(alert)
                correlated.add(ident)  # correlation stores it in this transaction
                continue
            if _store_muted(conn, alert, silence, now, known=ident in muted_before):
                records.append(_silenced_audit(alert, silence, now, trace_id))
            muted_before.add(ident)
        silenced += len(batch.alerts) - len(kept)
        remaining.append(dataclasses.replace(batch, alerts=tuple(kept)))
    if silenced:
        log.info("alerts.silenced", silenced=silenced, audit_rows=len(records))
    return Muted(tuple(remaining), silenced, tuple(records))


def _silenced_audit(alert: AlertReceived, silence: Silence | None, now: datetime, trace_id: str) -> AuditRecord:
    return AuditRecord(
        kind="alert.silenced",
        occurred_at=now,
        actor="silence",
        event_id=alert.event_id,
        trace_id=trace_id,
        data={
            "fingerprint": alert.fingerprint,
            "status": alert.status,
            "alertname": alert.alertname,
            "service": alert.service,
            "silence_id": silence.id if silence else None,
        },
    )


def _store_muted(
    conn: Connection, alert: AlertReceived, silence: Silence | None, now: datetime, known: bool
) -> bool:
    """Insert or update the silenced alert; True when that changed something (worth an audit row)."""
    if known:
        changed = conn.execute(
            silenced_alerts.update()
            .where(
                silenced_alerts.c.fingerprint == alert.fingerprint,
                silenced_alerts.c.starts_at == alert.starts_at,
                silenced_alerts.c.status != alert.status,
            )
            .values(status=alert.status, updated_at=now)
        )
        return changed.rowcount > 0
    assert silence is not None
    inserted = conn.execute(
        insert_ignoring_duplicates(
            conn,
            silenced_alerts,
            {
                "silence_id": silence.id,
                "fingerprint": alert.fingerprint,
                "starts_at": alert.starts_at,
                "status": alert.status,
                "alertname": alert.alertname,
                "service": alert.service,
                "labels": dict(alert.labels),
                "silenced": True,
                "received_at": now,
                "updated_at": now,
            },
            returning=silenced_alerts.c.id,
        )
    )
    return inserted.first() is not None


def _identities(
    conn: Connection, table: sa.Table, fingerprints: list[str]
) -> set[tuple[str, datetime]]:
    rows = conn.execute(
        sa.select(table.c.fingerprint, table.c.starts_at).where(
            table.c.fingerprint.in_(fingerprints)
        )
    ).all()
    return {(row.fingerprint, to_utc(row.starts_at)) for row in rows}


def _active_rows(conn: Connection, now: datetime) -> list[Any]:
    return list(
        conn.execute(
            sa.select(silences)
            .where(silences.c.starts_at <= now, silences.c.ends_at > now)
            .order_by(silences.c.id)
        ).all()
    )


def _covered_by(alertname: str | None, service: str | None):  # type: ignore[no-untyped-def]
    # `unsilence ledger` ends every silence on ledger; `unsilence HighCPU on ledger` only that one.
    conditions = [
        column == value
        for column, value in ((silences.c.alertname, alertname), (silences.c.service, service))
        if value is not None
    ]
    return sa.and_(*conditions)


def _silence(row: Any) -> Silence:
    return Silence(row.id, row.alertname, row.service, to_utc(row.starts_at), to_utc(row.ends_at))


def _silence_row(row: Any) -> SilenceRow:
    return SilenceRow(
        row.id,
        row.alertname,
        row.service,
        to_utc(row.starts_at),
        to_utc(row.ends_at),
        row.created_by,
        row.alertmanager_id,
    )
