"""The reads chat answers are made of: audit history, the latest risk, anomaly scores and evidence.

A read model: nothing here writes. Tables of stages not deployed yet read as nothing.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db.engine import reading
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series, incident_anomaly
from adapters.db.schema_remediation import risk_assessments
from pipeline.events import to_utc

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


class ChatQueries:
    """Reads for chat answers; the tables present are looked up once."""

    def __init__(self, engine: Engine) -> None:
        self._engine = reading(engine)
        self._tables: set[str] | None = None

    def history(
        self,
        *,
        incident_id: int | None = None,
        service: str | None = None,
        actions_only: bool = False,
        limit: int = 15,
    ) -> list[dict[str, Any]]:
        """Audit rows, newest first: of one incident, of one service (its incidents and actions), or all."""
        scope = "incident" if incident_id is not None else "service" if service is not None else None
        mentioned = f'%"service":{_like_escape(json.dumps(service))}%' if service is not None else None
        query = _history_statement(scope, actions_only)
        with self._engine.connect() as conn:
            rows = conn.execute(query, {"incident_id": incident_id, "service": service, "mentioned": mentioned,
                                        "limit": limit})
            return [json.loads(body) for body in rows.scalars()]

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
        query = _anomaly_scores_statement(service is not None)
        with self._engine.connect() as conn:
            rows = conn.execute(query, {"since": since, "service": service, "limit": limit}).all()
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


# Each query shape is built once, with its values as parameters: building a statement per call cost
# as much CPU as running it, and a chat command runs up to three of them.


@lru_cache(maxsize=None)
def _history_statement(scope: str | None, actions_only: bool) -> sa.Select:
    query = sa.select(audit_log.c.body).order_by(audit_log.c.seq.desc()).limit(sa.bindparam("limit"))
    if scope == "incident":
        query = query.where(audit_log.c.incident_id == sa.bindparam("incident_id"))
    elif scope == "service":
        of_incidents = (
            sa.select(incidents.c.id).where(incidents.c.service == sa.bindparam("service")).scalar_subquery()
        )
        mentioned = audit_log.c.body.like(sa.bindparam("mentioned"), escape="\\")
        query = query.where(sa.or_(audit_log.c.incident_id.in_(of_incidents), mentioned))
    if actions_only:
        query = query.where(sa.or_(*(audit_log.c.kind.startswith(p) for p in ACTION_KIND_PREFIXES)))
    return query


@lru_cache(maxsize=None)
def _anomaly_scores_statement(of_service: bool) -> sa.Select:
    best = sa.func.max(anomaly_scores.c.score).label("score")
    query = (
        sa.select(anomaly_series.c.name, anomaly_series.c.instance, best)
        .join(anomaly_series, anomaly_series.c.series_key == anomaly_scores.c.series_key)
        .where(anomaly_scores.c.ts >= sa.bindparam("since"))
        .group_by(anomaly_series.c.series_key, anomaly_series.c.name, anomaly_series.c.instance)
        .order_by(best.desc())
        .limit(sa.bindparam("limit"))
    )
    if of_service:
        query = query.where(anomaly_series.c.service == sa.bindparam("service"))
    return query


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
