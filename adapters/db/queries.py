"""Read-only queries behind the HTTP API (consumers read through here, never write)."""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db.engine import reading
from adapters.db.schema import alerts, audit_log, incidents
from pipeline.errors import NotFound
from pipeline.events import to_utc

INCIDENT_COLUMNS = (
    incidents.c.id, incidents.c.status, incidents.c.service, incidents.c.alertname, incidents.c.severity,
    incidents.c.correlation_key, incidents.c.opened_at, incidents.c.last_seen_at, incidents.c.resolved_at,
    incidents.c.firing_count, incidents.c.alert_count, incidents.c.truncated_alerts, incidents.c.flagged,
    incidents.c.trace_id,
)


class IncidentQueries:
    """Incidents, their alerts and audit timelines, as JSON-ready dicts."""

    def __init__(self, engine: Engine) -> None:
        self._engine = reading(engine)

    def list(self, *, status: str | None = None, service: str | None = None, limit: int = 50,
             before: int | None = None) -> dict[str, Any]:
        """Newest first, keyset-paginated: pass `next` back as `before` for the following page."""
        query = _list_statement(bool(status), bool(service), bool(before))
        with self._engine.connect() as conn:
            rows = conn.execute(query, {"status": status, "service": service, "before": before,
                                        "limit": limit + 1}).all()
        items = [_incident(row) for row in rows[:limit]]
        return {"items": items, "next": items[-1]["id"] if len(rows) > limit else None}

    def get(self, incident_id: int) -> dict[str, Any]:
        """One incident with its alerts and its audit timeline."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(*INCIDENT_COLUMNS).where(incidents.c.id == incident_id)).first()
            if row is None:
                raise NotFound(f"incident {incident_id} does not exist")
            alert_rows = conn.execute(
                sa.select(alerts).where(alerts.c.incident_id == incident_id).order_by(alerts.c.id)).all()
            audit_rows = conn.execute(
                sa.select(audit_log.c.seq, audit_log.c.body, audit_log.c.hash)
                .where(audit_log.c.incident_id == incident_id).order_by(audit_log.c.seq)).all()
        return {**_incident(row), "alerts": [_alert(a) for a in alert_rows],
                "timeline": [_audit(a) for a in audit_rows]}

    def audit_trail(self, *, limit: int = 100, after: int = 0) -> list[dict[str, Any]]:
        with self._engine.connect() as conn:
            rows = conn.execute(sa.select(audit_log.c.seq, audit_log.c.body, audit_log.c.hash)
                                .where(audit_log.c.seq > after).order_by(audit_log.c.seq).limit(limit)).all()
        return [_audit(row) for row in rows]


@lru_cache(maxsize=None)
def _list_statement(status: bool, service: bool, before: bool) -> sa.Select:
    """The list query of one shape, built once: building a statement per call cost as much CPU as running it."""
    query = sa.select(*INCIDENT_COLUMNS).order_by(incidents.c.id.desc()).limit(sa.bindparam("limit"))
    if status:
        query = query.where(incidents.c.status == sa.bindparam("status"))
    if service:
        query = query.where(incidents.c.service == sa.bindparam("service"))
    if before:
        query = query.where(incidents.c.id < sa.bindparam("before"))
    return query


def _time(value: datetime | None) -> str | None:
    return to_utc(value).isoformat() if value else None


def _incident(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "status": row.status, "service": row.service, "alertname": row.alertname,
        "severity": row.severity, "correlation_key": row.correlation_key, "opened_at": _time(row.opened_at),
        "last_seen_at": _time(row.last_seen_at), "resolved_at": _time(row.resolved_at),
        "firing": row.firing_count, "alert_count": row.alert_count, "truncated_alerts": row.truncated_alerts,
        "flagged": row.flagged, "trace_id": row.trace_id,
    }


def _alert(row: Any) -> dict[str, Any]:
    return {
        "id": row.id, "fingerprint": row.fingerprint, "status": row.status, "alertname": row.alertname,
        "service": row.service, "severity": row.severity, "labels": row.labels, "annotations": row.annotations,
        "starts_at": _time(row.starts_at), "ends_at": _time(row.ends_at), "generator_url": row.generator_url,
    }


def _audit(row: Any) -> dict[str, Any]:
    body = json.loads(row.body)
    return {**body, "hash": row.hash}
