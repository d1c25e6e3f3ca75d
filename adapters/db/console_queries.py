"""The console's read model: the incident list with counts, one incident with its evidence, safety.

Reads only. The incident page reuses the JSON API's queries (`IncidentQueries`,
`RemediationQueries`) and adds what a person needs to look at: the related series' points, each
audit row's hash check, and the acknowledgement.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db.anomaly_queries import matching_series
from adapters.db.engine import reading
from adapters.db.queries import INCIDENT_COLUMNS, IncidentQueries, _incident
from adapters.db.remediation_queries import RemediationQueries
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from adapters.db.schema_chat import incident_acks
from adapters.db.schema_remediation import remediation_runs
from pipeline.audit import link_hash
from pipeline.events import to_utc

REFUSAL_KINDS = ("remediation.guard_refused", "remediation.refused", "remediation.decision_refused",
                 "chat.refused", "console.refused")
MAX_PLOTTED_SERIES = 4
MAX_POINTS_PER_SERIES = 720
PLOT_MARGIN = timedelta(minutes=30)


class ConsoleQueries:
    """What the console's pages read."""

    def __init__(self, engine: Engine, *, threshold: float | None = None) -> None:
        self._engine = reading(engine)
        self._threshold = threshold
        self._incidents = IncidentQueries(engine)
        self._remediation = RemediationQueries(engine)

    def incident_list(self, *, status: str | None = None, service: str | None = None,
                      severity: str | None = None, since: datetime | None = None, before: int | None = None,
                      limit: int = 50) -> dict[str, Any]:
        """Newest first, keyset-paginated (`next` goes back as `before`), with counts per state."""
        filters = []
        if service:
            filters.append(incidents.c.service == service)
        if severity:
            filters.append(incidents.c.severity == severity)
        if since is not None:
            filters.append(incidents.c.opened_at >= since)
        query = sa.select(*INCIDENT_COLUMNS).where(*filters).order_by(incidents.c.id.desc()).limit(limit + 1)
        if status:
            query = query.where(incidents.c.status == status)
        if before:
            query = query.where(incidents.c.id < before)
        counts_query = sa.select(incidents.c.status, sa.func.count()).where(*filters).group_by(incidents.c.status)
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
            counts = {state: n for state, n in conn.execute(counts_query).all()}
            services = [s for (s,) in conn.execute(
                sa.select(incidents.c.service).distinct().order_by(incidents.c.service).limit(200))]
        items = [_incident(row) for row in rows[:limit]]
        return {"items": items, "next": items[-1]["id"] if len(rows) > limit else None,
                "counts": counts, "services": services}

    def incident(self, incident_id: int) -> dict[str, Any]:
        """One incident: the JSON API's detail plus audit checks, the acknowledgement and plotted series."""
        detail = self._incidents.get(incident_id)
        detail.update(self._remediation.for_incident(incident_id))
        with self._engine.connect() as conn:
            detail["timeline"] = _checked_timeline(conn, incident_id)
            ack = conn.execute(sa.select(incident_acks.c.acknowledged_by, incident_acks.c.acknowledged_at)
                               .where(incident_acks.c.id == incident_id)).first()
            detail["acknowledged_by"] = ack.acknowledged_by if ack else None
            detail["series"] = _plotted_series(conn, detail)
        detail["threshold"] = self._threshold
        return detail

    def safety(self, *, now: datetime) -> dict[str, Any]:
        """The kill switch as last recorded, breakers open, refusals in the last hour."""
        log = audit_log.c
        with self._engine.connect() as conn:
            switch = conn.execute(sa.select(log.body).where(log.kind == "remediation.kill_switch")
                                  .order_by(log.occurred_at.desc(), log.seq.desc()).limit(1)).scalar()
            refusals = conn.execute(sa.select(sa.func.count()).where(
                log.occurred_at >= now - timedelta(hours=1), log.kind.in_(REFUSAL_KINDS))).scalar() or 0
            waiting = conn.execute(sa.select(sa.func.count()).where(
                remediation_runs.c.state == "awaiting_approval")).scalar() or 0
            breakers = conn.execute(sa.select(log.body).where(
                log.kind == "remediation.breaker", log.occurred_at >= now - timedelta(days=1))
                .order_by(log.seq)).scalars().all()
        latest: dict[str, str] = {}
        for body in breakers:
            data = json.loads(body).get("data", {})
            latest[str(data.get("action"))] = str(data.get("phase"))
        switch_data = json.loads(switch) if switch else None
        return {
            "kill_switch": bool(switch_data and switch_data["data"].get("engaged")),
            "kill_switch_by": switch_data["actor"] if switch_data else None,
            "breakers_open": sorted(action for action, phase in latest.items() if phase == "open"),
            "refusals_last_hour": int(refusals),
            "awaiting_approval": int(waiting),
        }


def _checked_timeline(conn: sa.Connection, incident_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(sa.select(audit_log.c.seq, audit_log.c.body, audit_log.c.prev_hash, audit_log.c.hash)
                        .where(audit_log.c.incident_id == incident_id).order_by(audit_log.c.seq)).all()
    # Each row's hash is recomputed from its predecessor's hash and its body; a changed body fails.
    return [{**json.loads(row.body), "hash": row.hash, "verified": link_hash(row.prev_hash, row.body) == row.hash}
            for row in rows]


def _plotted_series(conn: sa.Connection, detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    keys: list[str] = []
    for alert in detail["alerts"]:
        for key in matching_series(conn, alert["labels"]):
            if key not in keys:
                keys.append(key)
    keys = keys[:MAX_PLOTTED_SERIES]
    if not keys:
        return []
    first = min([detail["opened_at"], *(a["starts_at"] for a in detail["alerts"])])
    start = datetime.fromisoformat(first) - PLOT_MARGIN
    end = datetime.fromisoformat(detail["resolved_at"] or detail["last_seen_at"]) + PLOT_MARGIN
    names = {row.series_key: (row.name, row.labels) for row in conn.execute(
        sa.select(anomaly_series.c.series_key, anomaly_series.c.name, anomaly_series.c.labels)
        .where(anomaly_series.c.series_key.in_(keys)))}
    plotted = []
    for key in keys:
        rows = conn.execute(sa.select(anomaly_scores.c.ts, anomaly_scores.c.value, anomaly_scores.c.score,
                                      anomaly_scores.c.is_anomaly)
                            .where(anomaly_scores.c.series_key == key, anomaly_scores.c.ts >= start,
                                   anomaly_scores.c.ts <= end)
                            .order_by(anomaly_scores.c.ts.desc()).limit(MAX_POINTS_PER_SERIES)).all()
        name, labels = names.get(key, (key, {}))
        plotted.append({"key": key, "name": name, "labels": labels, "points": [
            {"ts": to_utc(r.ts).isoformat(), "value": r.value, "score": r.score, "anomaly": r.is_anomaly}
            for r in reversed(rows)]})
    return plotted
