"""Recording an alert batch: correlation's decisions and their audit rows, in one transaction."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.chat_store import mute_silenced
from adapters.db.engine import is_postgres
from adapters.db.schema import alerts, incidents
from pipeline.audit import AuditRecord
from pipeline.correlation import (
    AlertDeduplicated, AlertFired, AlertResolved, CorrelationPolicy, Decision, IncidentBook, IncidentOpened,
    IncidentRef, IncidentResolved, KnownAlert, OpenIncident, TruncationRecorded, correlate, correlation_key,
    identity,
)
from pipeline.events import AlertBatch, AlertReceived, to_utc


@dataclass(frozen=True, slots=True)
class BatchOutcome:
    """What a batch changed; `opened`/`resolved` are incident ids, for follow-up messages."""

    recorded: int = 0
    duplicates: int = 0
    opened: tuple[int, ...] = ()
    resolved: tuple[int, ...] = ()
    audit_rows: int = 0
    touched: tuple[int, ...] = field(default=())


class AlertStore:
    """Writes alerts, incidents and audit rows; the only writer of the alert path."""

    def __init__(self, engine: Engine, policy: CorrelationPolicy) -> None:
        self._engine = engine
        self._policy = policy

    def record_batch(self, batch: AlertBatch, *, trace_id: str, now: datetime) -> BatchOutcome:
        """Correlate and persist a batch; a redelivered batch changes nothing."""
        with self._engine.begin() as conn:
            keys = sorted({correlation_key(alert.labels, self._policy) for alert in batch.alerts})
            _lock_keys(conn, keys)
            # Chat silences: a muted alert is recorded apart, flagged, and correlates into no incident.
            batch = mute_silenced(conn, batch, now=now, trace_id=trace_id).remaining
            book = _load_book(conn, batch.alerts, keys)
            decisions = correlate(batch, book, self._policy)
            if all(isinstance(d, AlertDeduplicated) for d in decisions):
                return BatchOutcome(duplicates=len(decisions))
            writer = _DecisionWriter(conn, now, trace_id, batch.receiver)
            for decision in decisions:
                writer.apply(decision)
            rows = audit_writer.append(conn, writer.audit)
            return writer.outcome(len(rows))


def _lock_keys(conn: Connection, keys: list[str]) -> None:
    """Serialise batches that touch the same correlation keys (PostgreSQL; SQLite locks the database)."""
    if not is_postgres(conn.engine):
        return
    for key in keys:  # sorted, so two batches never wait on each other in a cycle
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": _lock_id(key)})


def _lock_id(key: str) -> int:
    return int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)


def _load_book(conn: Connection, batch_alerts: tuple[AlertReceived, ...], keys: list[str]) -> IncidentBook:
    fingerprints = sorted({alert.fingerprint for alert in batch_alerts})
    wanted = {identity(alert) for alert in batch_alerts}
    known_rows = conn.execute(
        sa.select(alerts.c.fingerprint, alerts.c.starts_at, alerts.c.incident_id, alerts.c.status)
        .where(alerts.c.fingerprint.in_(fingerprints))
    ).all()
    book = IncidentBook()
    for row in known_rows:
        ident = (row.fingerprint, to_utc(row.starts_at))
        if ident in wanted:
            book.alerts[ident] = KnownAlert(row.incident_id, row.status)
    open_rows = conn.execute(
        sa.select(incidents.c.id, incidents.c.correlation_key, incidents.c.last_seen_at, incidents.c.firing_count)
        .where(incidents.c.correlation_key.in_(keys), incidents.c.status == "open")
    ).all()
    for row in open_rows:
        book.open_by_key.setdefault(row.correlation_key, []).append(
            OpenIncident(row.id, row.correlation_key, to_utc(row.last_seen_at), row.firing_count))
    return book


class _DecisionWriter:
    """Applies decisions in order, mapping this batch's new incident refs to stored ids."""

    def __init__(self, conn: Connection, now: datetime, trace_id: str, receiver: str) -> None:
        self.conn, self.now, self.trace_id = conn, now, trace_id
        self.actor = f"alertmanager:{receiver}" if receiver else "alertmanager"
        self.ids: dict[IncidentRef, int] = {}
        self.audit: list[AuditRecord] = []
        self.recorded = self.duplicates = 0
        self.opened: list[int] = []
        self.resolved: list[int] = []
        self.touched: dict[int, None] = {}

    def apply(self, decision: Decision) -> None:
        handler = getattr(self, f"_on_{type(decision).__name__}")
        handler(decision)

    def outcome(self, audit_rows: int) -> BatchOutcome:
        return BatchOutcome(self.recorded, self.duplicates, tuple(self.opened), tuple(self.resolved),
                            audit_rows, tuple(self.touched))

    def _id(self, ref: IncidentRef) -> int:
        incident_id = self.ids.get(ref, ref)
        assert isinstance(incident_id, int), f"incident ref {ref!r} used before it was opened"
        self.touched[incident_id] = None
        return incident_id

    def _on_AlertDeduplicated(self, decision: AlertDeduplicated) -> None:
        self.duplicates += 1

    def _on_IncidentOpened(self, decision: IncidentOpened) -> None:
        alert = decision.alert
        resolved_at = (alert.ends_at or alert.starts_at) if decision.status == "resolved" else None
        incident_id = self.conn.execute(incidents.insert().values(
            correlation_key=decision.key, alertname=alert.alertname, service=alert.service,
            severity=alert.severity, status=decision.status, opened_at=alert.starts_at,
            last_seen_at=alert.starts_at, resolved_at=resolved_at, trace_id=self.trace_id,
            created_at=self.now, updated_at=self.now,
        ).returning(incidents.c.id)).scalar_one()
        self.ids[decision.ref] = incident_id
        self.opened.append(incident_id)
        self._audit("incident.opened", incident_id, alert.event_id, {
            "correlation_key": decision.key, "alertname": alert.alertname, "service": alert.service,
            "severity": alert.severity, "status": decision.status,
        })

    def _on_AlertFired(self, decision: AlertFired) -> None:
        alert, incident_id = decision.alert, self._id(decision.incident)
        self.conn.execute(alerts.insert().values(
            incident_id=incident_id, fingerprint=alert.fingerprint, starts_at=alert.starts_at, ends_at=None,
            status="firing", alertname=alert.alertname, service=alert.service, severity=alert.severity,
            labels=dict(alert.labels), annotations=dict(alert.annotations), generator_url=alert.generator_url,
            firing_event_id=alert.event_id, received_at=self.now, updated_at=self.now,
        ))
        self.conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
            firing_count=incidents.c.firing_count + 1, alert_count=incidents.c.alert_count + 1,
            last_seen_at=sa.case((incidents.c.last_seen_at < alert.starts_at, alert.starts_at),
                                 else_=incidents.c.last_seen_at),
            updated_at=self.now,
        ))
        self.recorded += 1
        self._audit("alert.firing", incident_id, alert.event_id, _alert_summary(alert))

    def _on_AlertResolved(self, decision: AlertResolved) -> None:
        alert, incident_id = decision.alert, self._id(decision.incident)
        if decision.first_seen:
            self.conn.execute(alerts.insert().values(
                incident_id=incident_id, fingerprint=alert.fingerprint, starts_at=alert.starts_at,
                ends_at=alert.ends_at, status="resolved", alertname=alert.alertname, service=alert.service,
                severity=alert.severity, labels=dict(alert.labels), annotations=dict(alert.annotations),
                generator_url=alert.generator_url, resolved_event_id=alert.event_id, received_at=self.now,
                updated_at=self.now,
            ))
            self.conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
                alert_count=incidents.c.alert_count + 1, updated_at=self.now))
        else:
            self.conn.execute(alerts.update().where(
                alerts.c.fingerprint == alert.fingerprint, alerts.c.starts_at == alert.starts_at,
            ).values(status="resolved", ends_at=alert.ends_at, resolved_event_id=alert.event_id, updated_at=self.now))
            self.conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
                firing_count=incidents.c.firing_count - 1, updated_at=self.now))
        self.recorded += 1
        self._audit("alert.resolved", incident_id, alert.event_id,
                    {**_alert_summary(alert), "first_seen_resolved": decision.first_seen})

    def _on_IncidentResolved(self, decision: IncidentResolved) -> None:
        incident_id = self._id(decision.incident)
        self.conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
            status="resolved", resolved_at=decision.at, updated_at=self.now))
        self.resolved.append(incident_id)
        self._audit("incident.resolved", incident_id, None, {"resolved_at": decision.at.isoformat()})

    def _on_TruncationRecorded(self, decision: TruncationRecorded) -> None:
        incident_id = self._id(decision.incident)
        self.conn.execute(incidents.update().where(incidents.c.id == incident_id).values(
            truncated_alerts=sa.func.max(incidents.c.truncated_alerts, decision.truncated_alerts)
            if not is_postgres(self.conn.engine)
            else sa.func.greatest(incidents.c.truncated_alerts, decision.truncated_alerts),
            updated_at=self.now))
        self._audit("incident.alerts_truncated", incident_id, None,
                    {"truncated_alerts": decision.truncated_alerts})

    def _audit(self, kind: str, incident_id: int | None, event_id: str | None, data: dict) -> None:
        self.audit.append(AuditRecord(kind=kind, occurred_at=self.now, actor=self.actor, incident_id=incident_id,
                                      event_id=event_id, trace_id=self.trace_id, data=data))


def _alert_summary(alert: AlertReceived) -> dict:
    return {"fingerprint": alert.fingerprint, "alertname": alert.alertname, "service": alert.service,
            "severity": alert.severity, "starts_at": alert.starts_at.isoformat(),
            "ends_at": alert.ends_at.isoformat() if alert.ends_at else None, "labels": dict(alert.labels)}
