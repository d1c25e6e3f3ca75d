"""What the forecaster reads: a metric's series and their stored values, and open predicted alerts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

import numpy as np
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db.schema import alerts
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from pipeline.events import AlertReceived, alert_event_id, to_utc
from pipeline.predictions import PREDICTED_LABEL, PREDICTION_RECEIVER

MAX_SERIES_PER_METRIC = 2000  # a bound on one pass; the forecast costs ~0.1 ms a point


class SeriesHistory:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def series_named(self, name: str) -> list[tuple[str, Mapping[str, str]]]:
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(anomaly_series.c.series_key, anomaly_series.c.labels)
                .where(anomaly_series.c.name == name)
                .order_by(anomaly_series.c.series_key)
                .limit(MAX_SERIES_PER_METRIC)
            ).all()
        return [(row.series_key, dict(row.labels)) for row in rows]

    def values(self, series_key: str, since: datetime) -> tuple[np.ndarray, np.ndarray]:
        """Timestamps (epoch seconds) and values of one series since `since`, oldest first."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(anomaly_scores.c.ts, anomaly_scores.c.value)
                .where(anomaly_scores.c.series_key == series_key, anomaly_scores.c.ts >= since)
                .order_by(anomaly_scores.c.ts)
            ).all()
        times = np.fromiter((to_utc(row.ts).timestamp() for row in rows), dtype=np.float64, count=len(rows))
        values = np.fromiter((row.value for row in rows), dtype=np.float64, count=len(rows))
        return times, values

    def open_predicted(self, alertnames: Sequence[str]) -> list[AlertReceived]:
        """The predicted alerts still firing among these alert names."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts.c.fingerprint, alerts.c.starts_at, alerts.c.labels, alerts.c.annotations)
                .where(alerts.c.status == "firing", alerts.c.alertname.in_(list(alertnames)))
            ).all()
        return [
            AlertReceived(
                event_id=alert_event_id(row.fingerprint, "firing", to_utc(row.starts_at)),
                fingerprint=row.fingerprint, status="firing", labels=dict(row.labels),
                annotations=dict(row.annotations), starts_at=to_utc(row.starts_at), ends_at=None,
                generator_url="", group_key="forecast", receiver=PREDICTION_RECEIVER,
            )
            for row in rows
            if (row.labels or {}).get(PREDICTED_LABEL) == "true" and "expires_at" in (row.annotations or {})
        ]
