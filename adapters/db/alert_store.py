"""Recording an alert batch: correlation's decisions and their audit rows, in one transaction."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from services.alerts import BatchOutcome
from adapters.db import audit_writer, outbox
from adapters.db.bulk import insert_rows
from adapters.db.silence_store import mute_silenced
from adapters.db.engine import is_postgres
from adapters.db.schema import alerts, incidents
from pipeline.audit import AuditRecord
from pipeline.correlation import (
    AlertDeduplicated, AlertFired, AlertResolved, CorrelationPolicy, Decision, IncidentBook, IncidentOpened,
    IncidentRef, IncidentResolved, KnownAlert, OpenIncident, TruncationRecorded, correlate_in_order, correlation_key,
    identity,
)
from pipeline.events import AlertBatch, AlertReceived, assessment_follow_ups, check_alert, to_utc


class AlertStore:
    """Writes alerts, incidents, audit rows and their follow-ups (outbox); the only writer of the alert path."""

    def __init__(self, engine: Engine, policy: CorrelationPolicy) -> None:
        self._engine = engine
        self._policy = policy

    def record_batch(self, batch: AlertBatch, *, trace_id: str, now: datetime) -> BatchOutcome:
        """Correlate and persist a batch; a redelivered batch changes nothing.

        An alert outside pipeline.limits (what the edge refuses) raises OutOfLimits before anything is written.
        """
        return self.record_batches([(batch, trace_id)], now=now)

    def record_batches(self, batches: Sequence[tuple[AlertBatch, str]], *, now: datetime) -> BatchOutcome:
        """Correlate and persist many (batch, trace id) in one transaction, as if one after another.

        One lock statement, one silence check, one state load, one write per kind and one append to
        the audit chain, however many batches: what lets a worker commit many broker messages at
        once. Redelivered batches change nothing; any alert outside pipeline.limits raises
        OutOfLimits before anything is written.
        """
        for batch, _ in batches:
            for alert in batch.alerts:
                check_alert(alert, self._policy.labels)
        with self._engine.begin() as conn:
            keys = sorted({correlation_key(alert.labels, self._policy)
                           for batch, _ in batches for alert in batch.alerts})
            _lock_keys(conn, keys)
            # Chat silences: a muted alert is recorded apart, flagged, and correlates into no incident.
            muted = mute_silenced(conn, batches, now=now)
            kept = list(muted.remaining)
            book = _load_book(conn, tuple(alert for batch in kept for alert in batch.alerts), keys)
            decisions = correlate_in_order(kept, book, self._policy)
            if all(isinstance(d, AlertDeduplicated) for batch_decisions in decisions for d in batch_decisions):
                audit_writer.append(conn, muted.audit)
                each = tuple(len(batch_decisions) for batch_decisions in decisions)
                return BatchOutcome(duplicates=sum(each), recorded_each=(0,) * len(each), duplicates_each=each)
            writer = _DecisionWriter(conn, now)
            writer.insert_incidents([(d, trace_id) for (_, trace_id), batch_decisions in zip(batches, decisions)
                                     for d in batch_decisions if isinstance(d, IncidentOpened)])
            for batch, (_, trace_id), batch_decisions in zip(kept, batches, decisions):
                writer.begin(trace_id, batch.receiver)
                for decision in batch_decisions:
                    writer.apply(decision)
            writer.end()
            writer.flush()
            rows = audit_writer.append(conn, [*muted.audit, *writer.audit])
            # The follow-up commits with the incidents it follows: a crash after this commit cannot lose it.
            follow_ups = assessment_follow_ups(writer.opened_by, now)
            for task, event in follow_ups:
                outbox.add(conn, task, [event], now=now)
            return replace(writer.outcome(len(rows)), follow_ups=tuple(event.id for _, event in follow_ups))


def _lock_keys(conn: Connection, keys: list[str]) -> None:
    """Serialise batches that touch the same correlation keys (PostgreSQL; SQLite locks the database).

    One statement takes every lock, in the order of the sorted keys, so two writers never wait on
    each other in a cycle.
    """
    if not is_postgres(conn.engine) or not keys:
        return
    conn.execute(_LOCK_IN_ORDER, {"ids": [_lock_id(key) for key in keys]})


_LOCK_IN_ORDER = sa.text("SELECT pg_advisory_xact_lock(t.id) FROM unnest(CAST(:ids AS bigint[])) "
                         "WITH ORDINALITY AS t(id, n) ORDER BY t.n")


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
    """Applies decisions in order, mapping the batches' new incident refs to stored ids.

    New incidents are inserted first, all in one statement (later decisions need their ids); every
    other change is collected and written by `flush` with one executemany statement per kind, so a
    transaction of many batches costs a handful of round trips, not two per alert.
    """

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn, self.now = conn, now
        self.trace_id, self.actor = "", "alertmanager"
        self.ids: dict[IncidentRef, int] = {}
        self.audit: list[AuditRecord] = []
        self.recorded = self.duplicates = 0
        self.opened: list[int] = []
        self.opened_by: list[tuple[int, str]] = []  # (incident id, trace id of the batch that opened it)
        self.recorded_each: list[int] = []
        self.duplicates_each: list[int] = []
        self._marks: tuple[int, int] | None = None
        self.resolved: list[int] = []
        self.touched: dict[int, None] = {}
        self.new_alerts: list[dict] = []
        self.resolved_alerts: list[dict] = []
        self.deltas: dict[int, _IncidentDelta] = {}
        self.closed: list[dict] = []
        self.truncated: dict[int, int] = {}

    def begin(self, trace_id: str, receiver: str) -> None:
        """The decisions that follow are one batch's: its trace id and actor go on what they write."""
        self.end()
        self._marks = (self.recorded, self.duplicates)
        self.trace_id = trace_id
        self.actor = f"alertmanager:{receiver}" if receiver else "alertmanager"

    def end(self) -> None:
        """Close the current batch's counts (recorded, duplicates)."""
        if self._marks is not None:
            self.recorded_each.append(self.recorded - self._marks[0])
            self.duplicates_each.append(self.duplicates - self._marks[1])
            self._marks = None

    def apply(self, decision: Decision) -> None:
        _DECISION_WRITERS[type(decision)](self, decision)

    def flush(self) -> None:
        """Write what the decisions collected: alerts, then incident counters, then closures."""
        if self.new_alerts:
            insert_rows(self.conn, alerts, self.new_alerts)
        if self.resolved_alerts:
            self.conn.execute(_RESOLVE_ALERT, self.resolved_alerts)
        if self.deltas:
            self.conn.execute(_UPDATE_COUNTERS, [delta.params(incident_id, self.now)
                                                 for incident_id, delta in self.deltas.items()])
        if self.closed:
            self.conn.execute(_CLOSE_INCIDENT, self.closed)
        if self.truncated:
            greatest = sa.func.greatest if is_postgres(self.conn.engine) else sa.func.max
            statement = incidents.update().where(incidents.c.id == sa.bindparam("b_id")).values(
                truncated_alerts=greatest(incidents.c.truncated_alerts, sa.bindparam("b_truncated")),
                updated_at=sa.bindparam("b_now"))
            self.conn.execute(statement, [{"b_id": i, "b_truncated": n, "b_now": self.now}
                                          for i, n in self.truncated.items()])

    def outcome(self, audit_rows: int) -> BatchOutcome:
        return BatchOutcome(self.recorded, self.duplicates, tuple(self.opened), tuple(self.resolved),
                            audit_rows, tuple(self.touched), tuple(self.recorded_each), tuple(self.duplicates_each))

    def _id(self, ref: IncidentRef) -> int:
        incident_id = self.ids.get(ref, ref)
        assert isinstance(incident_id, int), f"incident ref {ref!r} used before it was opened"
        self.touched[incident_id] = None
        return incident_id

    def _delta(self, incident_id: int) -> _IncidentDelta:
        return self.deltas.setdefault(incident_id, _IncidentDelta())

    def _on_AlertDeduplicated(self, decision: AlertDeduplicated) -> None:
        self.duplicates += 1

    def insert_incidents(self, opened: list[tuple[IncidentOpened, str]]) -> None:
        """Insert every incident the batches open, with their batch's trace id, in one statement.

        Later decisions need their ids; the ids come back in the order of the rows.
        """
        if not opened:
            return
        rows = [self._incident_row(decision, trace_id) for decision, trace_id in opened]
        statement = incidents.insert().returning(incidents.c.id, sort_by_parameter_order=True)
        ids = self.conn.execute(statement, rows).scalars().all()
        self.ids.update((decision.ref, incident_id) for (decision, _), incident_id in zip(opened, ids, strict=True))

    def _incident_row(self, decision: IncidentOpened, trace_id: str) -> dict:
        alert = decision.alert
        resolved_at = (alert.ends_at or alert.starts_at) if decision.status == "resolved" else None
        return {"correlation_key": decision.key, "alertname": alert.alertname, "service": alert.service,
                "severity": alert.severity, "status": decision.status, "opened_at": alert.starts_at,
                "last_seen_at": alert.starts_at, "resolved_at": resolved_at, "trace_id": trace_id,
                "created_at": self.now, "updated_at": self.now}

    def _on_IncidentOpened(self, decision: IncidentOpened) -> None:
        alert = decision.alert
        incident_id = self.ids[decision.ref]  # inserted by insert_incidents
        self.opened.append(incident_id)
        self.opened_by.append((incident_id, self.trace_id))
        self._audit("incident.opened", incident_id, alert.event_id, {
            "correlation_key": decision.key, "alertname": alert.alertname, "service": alert.service,
            "severity": alert.severity, "status": decision.status,
        })

    def _on_AlertFired(self, decision: AlertFired) -> None:
        alert, incident_id = decision.alert, self._id(decision.incident)
        self.new_alerts.append(self._alert_row(incident_id, alert, status="firing", ends_at=None,
                                               firing_event_id=alert.event_id, resolved_event_id=None))
        delta = self._delta(incident_id)
        delta.firing += 1
        delta.alerts += 1
        delta.last_seen = max(delta.last_seen or alert.starts_at, alert.starts_at)
        self.recorded += 1
        self._audit("alert.firing", incident_id, alert.event_id, _alert_summary(alert))

    def _on_AlertResolved(self, decision: AlertResolved) -> None:
        alert, incident_id = decision.alert, self._id(decision.incident)
        if decision.first_seen:
            self.new_alerts.append(self._alert_row(incident_id, alert, status="resolved", ends_at=alert.ends_at,
                                                   firing_event_id=None, resolved_event_id=alert.event_id))
            self._delta(incident_id).alerts += 1
        else:
            self.resolved_alerts.append({"b_fingerprint": alert.fingerprint, "b_starts_at": alert.starts_at,
                                         "b_ends_at": alert.ends_at, "b_event_id": alert.event_id,
                                         "b_now": self.now})
            self._delta(incident_id).firing -= 1
        self.recorded += 1
        self._audit("alert.resolved", incident_id, alert.event_id,
                    {**_alert_summary(alert), "first_seen_resolved": decision.first_seen})

    def _on_IncidentResolved(self, decision: IncidentResolved) -> None:
        incident_id = self._id(decision.incident)
        self.closed.append({"b_id": incident_id, "b_at": decision.at, "b_now": self.now})
        self.resolved.append(incident_id)
        self._audit("incident.resolved", incident_id, None, {"resolved_at": decision.at.isoformat()})

    def _on_TruncationRecorded(self, decision: TruncationRecorded) -> None:
        incident_id = self._id(decision.incident)
        self.truncated[incident_id] = max(self.truncated.get(incident_id, 0), decision.truncated_alerts)
        self._audit("incident.alerts_truncated", incident_id, None,
                    {"truncated_alerts": decision.truncated_alerts})

    def _alert_row(self, incident_id: int, alert: AlertReceived, **values: object) -> dict:
        return {"incident_id": incident_id, "fingerprint": alert.fingerprint, "starts_at": alert.starts_at,
                "alertname": alert.alertname, "service": alert.service, "severity": alert.severity,
                "labels": dict(alert.labels), "annotations": dict(alert.annotations),
                "generator_url": alert.generator_url, "received_at": self.now, "updated_at": self.now, **values}

    def _audit(self, kind: str, incident_id: int | None, event_id: str | None, data: dict) -> None:
        self.audit.append(AuditRecord(kind=kind, occurred_at=self.now, actor=self.actor, incident_id=incident_id,
                                      event_id=event_id, trace_id=self.trace_id, data=data))



# Which write serves which correlation decision: one explicit table.
_DECISION_WRITERS: dict[type, Callable[[_DecisionWriter, Any], None]] = {
    AlertDeduplicated: _DecisionWriter._on_AlertDeduplicated,
    IncidentOpened: _DecisionWriter._on_IncidentOpened,
    AlertFired: _DecisionWriter._on_AlertFired,
    AlertResolved: _DecisionWriter._on_AlertResolved,
    IncidentResolved: _DecisionWriter._on_IncidentResolved,
    TruncationRecorded: _DecisionWriter._on_TruncationRecorded,
}


@dataclass(slots=True)
class _IncidentDelta:
    """How one batch changes an incident's counters."""

    firing: int = 0
    alerts: int = 0
    last_seen: datetime | None = None

    def params(self, incident_id: int, now: datetime) -> dict:
        return {"b_id": incident_id, "b_firing": self.firing, "b_alerts": self.alerts,
                "b_last_seen": self.last_seen, "b_now": now}


_RESOLVE_ALERT = alerts.update().where(
    alerts.c.fingerprint == sa.bindparam("b_fingerprint"), alerts.c.starts_at == sa.bindparam("b_starts_at"),
).values(status="resolved", ends_at=sa.bindparam("b_ends_at"), resolved_event_id=sa.bindparam("b_event_id"),
         updated_at=sa.bindparam("b_now"))

_UPDATE_COUNTERS = incidents.update().where(incidents.c.id == sa.bindparam("b_id")).values(
    firing_count=incidents.c.firing_count + sa.bindparam("b_firing"),
    alert_count=incidents.c.alert_count + sa.bindparam("b_alerts"),
    # NULL when the batch fired nothing here: keep the stored value.
    last_seen_at=sa.case(
        (sa.bindparam("b_last_seen", type_=sa.DateTime(timezone=True)) > incidents.c.last_seen_at,
         sa.bindparam("b_last_seen", type_=sa.DateTime(timezone=True))),
        else_=incidents.c.last_seen_at),
    updated_at=sa.bindparam("b_now"),
)

_CLOSE_INCIDENT = incidents.update().where(incidents.c.id == sa.bindparam("b_id")).values(
    status="resolved", resolved_at=sa.bindparam("b_at"), updated_at=sa.bindparam("b_now"))


def _alert_summary(alert: AlertReceived) -> dict:
    return {"fingerprint": alert.fingerprint, "alertname": alert.alertname, "service": alert.service,
            "severity": alert.severity, "starts_at": alert.starts_at.isoformat(),
            "ends_at": alert.ends_at.isoformat() if alert.ends_at else None, "labels": dict(alert.labels)}
