"""Attaching recent anomaly scores to an alert batch's incidents: `incident_anomaly` + an audit row.

For each incident holding a firing alert of the batch, the series the alerts are about
(`anomaly_queries.matching_series`) are summarised over [earliest alert start - lookback, now].
The summary goes into `incident_anomaly` (what the risk scorer reads) and, when it differs from
what is stored, into an `incident.anomaly_evidence` audit row, in one transaction. A redelivered
batch with nothing new therefore writes nothing; an incident with no matching scores gets nothing.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Collection

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.anomaly_queries import (
    TOP_SERIES,
    SeriesScoreSummary,
    candidate_series,
    series_matching,
    series_summaries,
)
from adapters.db.schema import alerts
from adapters.db.schema_anomaly import incident_anomaly
from pipeline.audit import AuditRecord
from pipeline.events import AlertBatch, to_utc

ACTOR = "worker:anomaly-evidence"


@dataclass(frozen=True, slots=True)
class Evidence:
    """The anomaly evidence of one incident."""

    incident_id: int
    window_start: datetime
    window_end: datetime
    series: tuple[SeriesScoreSummary, ...]

    def summary(self) -> dict[str, Any]:
        points = sum(s.points for s in self.series)
        return {
            "max_score": max(s.max_score for s in self.series),
            "mean_score": sum(s.score_sum for s in self.series) / points,
            "points": points,
            "anomalous_points": sum(s.anomalous_points for s in self.series),
            "series_count": len(self.series),
            "top_series": [
                {
                    "series_key": s.series_key,
                    "name": s.name,
                    "labels": dict(s.labels),
                    "max_score": s.max_score,
                    "mean_score": s.score_sum / s.points,
                    "anomalous_points": s.anomalous_points,
                    "last_ts": s.last_ts.isoformat(),
                }
                for s in self.series[:TOP_SERIES]
            ],
        }


class AnomalyEvidenceRecorder:
    """Writes anomaly evidence for the incidents an alert batch touched."""

    def __init__(self, engine: Engine, lookback: timedelta) -> None:
        self._engine = engine
        self._lookback = lookback
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        self._upsert = dialect.insert(incident_anomaly)

    def record(
        self, batch: AlertBatch, trace_id: str, now: datetime, only: Collection[int] | None = None
    ) -> list[int]:
        """Attach evidence to the incidents of the batch's firing alerts (or `only` those of
        them); return the incidents updated."""
        firing = [a for a in batch.alerts if a.status == "firing"]
        if not firing or (only is not None and not only):
            return []
        with self._engine.begin() as conn:
            # One query for the whole batch's candidate series, not one per alert; first, because with
            # no series near these alerts (no metrics streamed for them) there is nothing to look up.
            candidates = candidate_series(conn, [alert.labels for alert in firing])
            if not candidates:
                return []
            by_incident = {incident_id: rows for incident_id, rows in _alerts_by_incident(conn, firing).items()
                           if only is None or incident_id in only}
            if only is not None:  # the candidates of those incidents' alerts alone, as capped for them
                candidates = candidate_series(conn, [row.labels for rows in by_incident.values() for row in rows])
            gathered = [
                self._gather(conn, incident_id, alert_rows, candidates, now)
                for incident_id, alert_rows in by_incident.items()
            ]
            changed = [
                (evidence, summary)
                for evidence, summary in filter(None, gathered)
                if _stored_digest(conn, evidence.incident_id) != _digest(evidence, summary)
            ]
            for evidence, summary in changed:
                self._store(conn, evidence, summary, now)
            audit_writer.append(
                conn, [_audit(evidence, summary, trace_id, now) for evidence, summary in changed]
            )
        return [evidence.incident_id for evidence, _ in changed]

    def _gather(
        self, conn: Connection, incident_id: int, alert_rows: list[Any], candidates: list[Any], now: datetime
    ) -> tuple[Evidence, dict[str, Any]] | None:
        if not candidates:
            return None
        keys = sorted({key for row in alert_rows for key in series_matching(row.labels, candidates)})
        since = min(to_utc(row.starts_at) for row in alert_rows) - self._lookback
        series = series_summaries(conn, keys, since, now)
        if not series:
            return None
        evidence = Evidence(incident_id, since, now, tuple(series))
        return evidence, evidence.summary()

    def _store(
        self, conn: Connection, evidence: Evidence, summary: dict[str, Any], now: datetime
    ) -> None:
        values = {
            **summary,
            "incident_id": evidence.incident_id,
            "window_start": evidence.window_start,
            "window_end": evidence.window_end,
            "digest": _digest(evidence, summary),
            "updated_at": now,
        }
        update = {k: v for k, v in values.items() if k != "incident_id"}
        conn.execute(
            self._upsert.values(**values).on_conflict_do_update(
                index_elements=[incident_anomaly.c.incident_id], set_=update
            )
        )


def _alerts_by_incident(conn: Connection, firing: list) -> dict[int, list[Any]]:  # type: ignore[type-arg]
    identities = {(a.fingerprint, to_utc(a.starts_at)) for a in firing}
    rows = conn.execute(
        sa.select(
            alerts.c.incident_id, alerts.c.fingerprint, alerts.c.starts_at, alerts.c.labels
        ).where(alerts.c.fingerprint.in_(sorted({a.fingerprint for a in firing})))
    ).all()
    grouped: dict[int, list[Any]] = {}
    for row in rows:
        if (row.fingerprint, to_utc(row.starts_at)) in identities:
            grouped.setdefault(row.incident_id, []).append(row)
    return dict(sorted(grouped.items()))


def _digest(evidence: Evidence, summary: dict[str, Any]) -> str:
    # The window's end is "now": leave it out, so unchanged scores give an unchanged digest.
    content = {"window_start": evidence.window_start.isoformat(), **summary}
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


def _stored_digest(conn: Connection, incident_id: int) -> str | None:
    return conn.execute(
        sa.select(incident_anomaly.c.digest).where(incident_anomaly.c.incident_id == incident_id)
    ).scalar_one_or_none()


def _audit(
    evidence: Evidence, summary: dict[str, Any], trace_id: str, now: datetime
) -> AuditRecord:
    data = {
        **summary,
        "window_start": evidence.window_start.isoformat(),
        "window_end": evidence.window_end.isoformat(),
    }
    return AuditRecord(
        kind="incident.anomaly_evidence",
        occurred_at=now,
        actor=ACTOR,
        incident_id=evidence.incident_id,
        trace_id=trace_id,
        data=data,
    )
