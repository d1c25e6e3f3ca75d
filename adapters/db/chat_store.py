"""The store behind chat: commands acted on once, acknowledgements, silences, and the reads answers need.

Every write is one transaction: the command's claim row, the state change and its audit
rows commit together, so a redelivered chat message finds its claim and changes nothing.
Every value reaches SQL as a bound parameter.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.engine import is_postgres
from adapters.db.schema import alerts, audit_log, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series, incident_anomaly
from adapters.db.schema_chat import chat_commands, incident_acks, silenced_alerts, silences
from adapters.db.schema_remediation import risk_assessments
from pipeline.audit import AuditRecord
from pipeline.errors import NotFound
from pipeline.events import AlertBatch, AlertReceived, to_utc
from pipeline.silences import Silence, silencing

log = structlog.get_logger("adapters.chat_store")

# Audit kinds that are actions (for `status`' last actions), not alert traffic.
ACTION_KIND_PREFIXES = (
    "chat.",
    "remediation.",
    "silence.",
    "incident.acknowledged",
    "incident.escalated",
    "approval.",
    "step.",
    "run.",
)


@dataclass(frozen=True, slots=True)
class Command:
    """The chat command a write belongs to: its event id is the idempotency key."""

    event_id: str
    user: str
    channel: str
    intent: str
    trace_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Acknowledged:
    incident_id: int
    by: str
    at: datetime
    first: bool  # False: someone (maybe the same user) had already acknowledged it


@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    alertname: str | None
    service: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    alertmanager_id: str | None


class ChatStore:
    """Writes of chat commands and the reads their answers are made of."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._tables: set[str] | None = None

    # -- writes -------------------------------------------------------------------------

    def record(self, command: Command, records: Sequence[AuditRecord]) -> bool:
        """Append the command's audit rows once; False when the command was already recorded."""
        with self._engine.begin() as conn:
            if not _claim(conn, command):
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
            if not _claim(conn, command):
                return Acknowledged(incident_id, actor, command.now, first=False)
            conn.execute(
                incident_acks.update()
                .where(incident_acks.c.id == incident_id)
                .values(acknowledged_by=actor, acknowledged_at=command.now)
            )
            audit_writer.append(
                conn, [_audit(command, "incident.acknowledged", actor, incident_id, {})]
            )
            return Acknowledged(incident_id, actor, command.now, first=True)

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
            _claim(conn, command)
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
                    _audit(
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
            if not _claim(conn, command):
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
                        _audit(
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

    # -- reads --------------------------------------------------------------------------

    def active_silences(self, now: datetime) -> list[SilenceRow]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(silences)
                .where(silences.c.starts_at <= now, silences.c.ends_at > now)
                .order_by(silences.c.id)
            ).all()
        return [_silence_row(row) for row in rows]

    def history(
        self,
        *,
        incident_id: int | None = None,
        service: str | None = None,
        actions_only: bool = False,
        limit: int = 15,
    ) -> list[dict[str, Any]]:
        """Audit rows, newest first: of one incident, of one service (its incidents and actions), or all."""
        query = sa.select(audit_log.c.body).order_by(audit_log.c.seq.desc()).limit(limit)
        if incident_id is not None:
            query = query.where(audit_log.c.incident_id == incident_id)
        elif service is not None:
            of_incidents = (
                sa.select(incidents.c.id).where(incidents.c.service == service).scalar_subquery()
            )
            mentioned = audit_log.c.body.like(
                f'%"service":{_like_escape(json.dumps(service))}%', escape="\\"
            )
            query = query.where(sa.or_(audit_log.c.incident_id.in_(of_incidents), mentioned))
        if actions_only:
            query = query.where(
                sa.or_(*(audit_log.c.kind.startswith(p) for p in ACTION_KIND_PREFIXES))
            )
        with self._engine.connect() as conn:
            return [json.loads(body) for body in conn.execute(query).scalars()]

    def latest_risk(self, incident_id: int) -> dict[str, Any] | None:
        """The newest risk assessment of an incident, when risk scoring's tables exist."""
        if "risk_assessments" not in self._known_tables():
            return None
        table = risk_assessments
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(table.c.score, table.c.decision, table.c.factors, table.c.assessed_at)
                .where(table.c.incident_id == incident_id)
                .order_by(table.c.id.desc())
                .limit(1)
            ).first()
        if row is None:
            return None
        factors = row.factors
        return {
            "score": float(row.score),
            "decision": row.decision,
            "factors": factors,
            "assessed_at": to_utc(row.assessed_at).isoformat() if row.assessed_at else None,
        }

    def anomaly_scores(
        self, service: str | None, since: datetime, limit: int = 10
    ) -> list[tuple[str, float]]:
        """Each series' highest anomaly score since `since`, highest first, when the anomaly tables exist."""
        if not {"anomaly_scores", "anomaly_series"} <= self._known_tables():
            return []
        best = sa.func.max(anomaly_scores.c.score).label("score")
        query = (
            sa.select(anomaly_series.c.name, anomaly_series.c.instance, best)
            .join(anomaly_series, anomaly_series.c.series_key == anomaly_scores.c.series_key)
            .where(anomaly_scores.c.ts >= since)
            .group_by(anomaly_series.c.series_key, anomaly_series.c.name, anomaly_series.c.instance)
            .order_by(best.desc())
            .limit(limit)
        )
        if service is not None:
            query = query.where(anomaly_series.c.service == service)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            (f"{row.name}{{{row.instance}}}" if row.instance else row.name, float(row.score))
            for row in rows
        ]

    def incident_anomaly(self, incident_id: int) -> dict[str, Any] | None:
        """The anomaly evidence gathered for an incident, when the anomaly tables exist."""
        if "incident_anomaly" not in self._known_tables():
            return None
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(incident_anomaly).where(incident_anomaly.c.incident_id == incident_id)
            ).first()
        if row is None:
            return None
        top = row.top_series
        return {
            "max_score": float(row.max_score),
            "mean_score": float(row.mean_score),
            "points": row.points,
            "anomalous_points": row.anomalous_points,
            "series_count": row.series_count,
            "top_series": top,
        }

    def _known_tables(self) -> set[str]:
        if self._tables is None:
            self._tables = set(sa.inspect(self._engine).get_table_names())
        return self._tables


@dataclass(frozen=True, slots=True)
class Muted:
    """A batch with the silenced alerts taken out, and how many were."""

    remaining: AlertBatch
    silenced: int


def mute_silenced(conn: Connection, batch: AlertBatch, *, now: datetime, trace_id: str) -> Muted:
    """Take out of `batch` the alerts an active silence mutes, recording them flagged `silenced`.

    An alert already correlated into an incident stays in (its resolution must resolve the
    incident); an alert muted before stays muted until it resolves, even after its silence ends.
    """
    active = [
        _silence(row)
        for row in conn.execute(
            sa.select(silences).where(silences.c.starts_at <= now, silences.c.ends_at > now)
        ).all()
    ]
    fingerprints = sorted({alert.fingerprint for alert in batch.alerts})
    muted_before = _identities(conn, silenced_alerts, fingerprints)
    if not active and not muted_before:
        return Muted(batch, 0)
    correlated = _identities(conn, alerts, fingerprints)
    kept: list[AlertReceived] = []
    records: list[AuditRecord] = []
    for alert in batch.alerts:
        ident = (alert.fingerprint, alert.starts_at)
        silence = None if ident in correlated else silencing(alert.labels, active, now)
        if ident not in muted_before and silence is None:
            kept.append(alert)
            continue
        if _store_muted(conn, alert, silence, now, known=ident in muted_before):
            records.append(
                AuditRecord(
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
            )
    audit_writer.append(conn, records)
    silenced = len(batch.alerts) - len(kept)
    if silenced:
        log.info("alerts.silenced", silenced=silenced, audit_rows=len(records))
    return Muted(dataclasses.replace(batch, alerts=tuple(kept)), silenced)


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
        _insert_ignoring_duplicates(
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


def _insert_ignoring_duplicates(
    conn: Connection, table: sa.Table, values: dict[str, Any], returning: sa.Column
):  # type: ignore[no-untyped-def]
    # RETURNING tells whether the row went in; rowcount is not reliable for ON CONFLICT on every driver.
    dialect = postgresql if is_postgres(conn.engine) else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing().returning(returning)


def _claim(conn: Connection, command: Command) -> bool:
    inserted = conn.execute(
        _insert_ignoring_duplicates(
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


def _audit(
    command: Command, kind: str, actor: str, incident_id: int | None, data: dict[str, Any]
) -> AuditRecord:
    return AuditRecord(
        kind=kind,
        occurred_at=command.now,
        actor=actor,
        incident_id=incident_id,
        event_id=command.event_id,
        trace_id=command.trace_id,
        data=data,
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


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
