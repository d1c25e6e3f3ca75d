"""Writing scored samples: one transaction and one multi-row insert per broker message, not a row per commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine

from adapters.db.schema_anomaly import anomaly_scores, anomaly_series


@dataclass(frozen=True, slots=True)
class SeriesRef:
    """A series as the store indexes it: its key and label set."""

    key: str
    labels: Mapping[str, str]


class AnomalyScoreStore:
    """Upserts score rows and inserts new series; a redelivered batch adds no row twice."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        dialect = postgresql if engine.dialect.name == "postgresql" else sqlite
        # Keyed by (series, ts): a redelivery rewrites the same values; a retry after a state conflict
        # replaces scores computed from a stale window.
        insert = dialect.insert(anomaly_scores)
        self._insert_scores = insert.on_conflict_do_update(
            index_elements=[anomaly_scores.c.series_key, anomaly_scores.c.ts],
            set_={name: insert.excluded[name] for name in ("value", "score", "is_anomaly", "model_version")})
        self._insert_series = dialect.insert(anomaly_series).on_conflict_do_nothing()

    def record(self, scores: Sequence[dict[str, Any]], new_series: Sequence[SeriesRef], now: datetime) -> None:
        """Store score rows (dicts of anomaly_scores' columns) and index series seen for the first time."""
        if not scores and not new_series:
            return
        with self._engine.begin() as conn:
            if new_series:
                conn.execute(self._insert_series, [_series_row(ref, now) for ref in new_series])
            if scores:
                conn.execute(self._insert_scores, list(scores))


def _series_row(ref: SeriesRef, now: datetime) -> dict[str, Any]:
    labels = ref.labels
    return {"series_key": ref.key, "name": labels.get("__name__", "")[:256], "labels": dict(labels),
            "instance": _label(labels, "instance"), "job": _label(labels, "job"),
            "service": _label(labels, "service"), "first_seen_at": now}


def _label(labels: Mapping[str, str], name: str) -> str | None:
    value = labels.get(name)
    return value[:256] if value else None
