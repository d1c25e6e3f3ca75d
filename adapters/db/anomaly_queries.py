"""Read-only anomaly queries: an alert's series, their recent scores, an incident's evidence."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db.engine import reading
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series, incident_anomaly
from pipeline.events import to_utc

MATCH_LABELS = ("instance", "job", "service")
MAX_MATCHED_SERIES = 500
MAX_CANDIDATE_SERIES = 20_000
TOP_SERIES = 5


@dataclass(frozen=True, slots=True)
class SeriesScoreSummary:
    """One series' scores inside a time window."""

    series_key: str
    name: str
    labels: Mapping[str, str]
    points: int
    anomalous_points: int
    max_score: float
    score_sum: float
    last_ts: datetime


def matching_series(conn: Connection, labels: Mapping[str, str]) -> list[str]:
    """Keys of the series an alert is about.

    The rule: of `instance`, `job` and `service`, every one that both the alert and the series
    carry must be equal, and at least one must be carried by both. An alert with none of the
    three matches nothing (it names no place to look).
    """
    return series_matching(labels, candidate_series(conn, [labels]))


def candidate_series(conn: Connection, label_sets: list[Mapping[str, str]]) -> list[Any]:
    """Every series that shares an instance, job or service with any of the label sets: one query
    for a whole alert batch, which `series_matching` then narrows per alert."""
    wanted = {name: sorted({labels[name] for labels in label_sets if labels.get(name)}) for name in MATCH_LABELS}
    conditions = [getattr(anomaly_series.c, name).in_(values) for name, values in wanted.items() if values]
    if not conditions:
        return []
    columns = [anomaly_series.c.series_key, *(getattr(anomaly_series.c, name) for name in MATCH_LABELS)]
    query = (sa.select(*columns).where(sa.or_(*conditions)).order_by(anomaly_series.c.series_key)
             .limit(MAX_CANDIDATE_SERIES))
    return list(conn.execute(query).all())


def series_matching(labels: Mapping[str, str], candidates: list[Any]) -> list[str]:
    """The candidates `matching_series`'s rule accepts for one alert's labels, by key, capped."""
    carried = [(name, labels[name]) for name in MATCH_LABELS if labels.get(name)]
    if not carried:
        return []
    keys = [row.series_key for row in candidates
            if all(getattr(row, name) in (None, value) for name, value in carried)
            and any(getattr(row, name) == value for name, value in carried)]
    return sorted(keys)[:MAX_MATCHED_SERIES]


def series_summaries(
    conn: Connection, keys: list[str], since: datetime, until: datetime
) -> list[SeriesScoreSummary]:
    """Per series: points, anomalous points, max and summed score in [since, until], max first."""
    if not keys:
        return []
    scores = anomaly_scores.c
    query = (
        sa.select(
            scores.series_key,
            anomaly_series.c.name,
            anomaly_series.c.labels,
            sa.func.count().label("points"),
            sa.func.sum(sa.case((scores.is_anomaly, 1), else_=0)).label("anomalous"),
            sa.func.max(scores.score).label("max_score"),
            sa.func.sum(scores.score).label("score_sum"),
            sa.func.max(scores.ts).label("last_ts"),
        )
        .join(anomaly_series, anomaly_series.c.series_key == scores.series_key)
        .where(scores.series_key.in_(keys), scores.ts >= since, scores.ts <= until)
        .group_by(scores.series_key, anomaly_series.c.name, anomaly_series.c.labels)
    )
    rows = conn.execute(query).all()
    summaries = [
        SeriesScoreSummary(
            row.series_key,
            row.name,
            dict(row.labels),
            int(row.points),
            int(row.anomalous or 0),
            float(row.max_score),
            float(row.score_sum),
            to_utc(row.last_ts),
        )
        for row in rows
    ]
    return sorted(summaries, key=lambda s: (-s.max_score, s.series_key))


class AnomalyQueries:
    """What the risk scorer and the API read about anomalies."""

    def __init__(self, engine: Engine) -> None:
        self._engine = reading(engine)

    def recent_scores_for_incident(self, incident_id: int) -> dict[str, Any] | None:
        """The anomaly evidence recorded for an incident (max/mean score, top series), or None."""
        with self._engine.connect() as conn:
            row = conn.execute(
                sa.select(incident_anomaly).where(incident_anomaly.c.incident_id == incident_id)
            ).first()
        if row is None:
            return None
        return {
            "incident_id": row.incident_id,
            "max_score": row.max_score,
            "mean_score": row.mean_score,
            "points": row.points,
            "anomalous_points": row.anomalous_points,
            "series_count": row.series_count,
            "top_series": row.top_series,
            "window_start": to_utc(row.window_start).isoformat(),
            "window_end": to_utc(row.window_end).isoformat(),
            "updated_at": to_utc(row.updated_at).isoformat(),
        }

    def series_scores(
        self, series_key: str, *, since: datetime, limit: int = 1000
    ) -> list[dict[str, Any]]:
        """One series' stored scores from `since`, oldest first."""
        scores = anomaly_scores.c
        query = (
            sa.select(
                scores.ts, scores.value, scores.score, scores.is_anomaly, scores.model_version
            )
            .where(scores.series_key == series_key, scores.ts >= since)
            .order_by(scores.ts)
            .limit(limit)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            {
                "ts": to_utc(r.ts).isoformat(),
                "value": r.value,
                "score": r.score,
                "is_anomaly": r.is_anomaly,
                "model_version": r.model_version,
            }
            for r in rows
        ]
