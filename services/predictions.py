"""Predictive remediation: forecast the metrics the policy names and raise their alerts early.

Every `predictions.interval_s` the worker parent reads each named metric's recent history from
the store (the values the anomaly scorer already keeps), runs the causal forecast over it
(`pipeline.learning.forecast`), and for a prediction made within the last two intervals
publishes a predicted alert (`pipeline.predictions`) onto the same queue the Alertmanager
webhook uses: it is recorded, correlated, assessed and planned like any alert, and its plan
needs a person's approval by default. Predicted alerts whose crossing did not come are resolved
a horizon after it. Publishing the same prediction again changes nothing (its ids are derived).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import numpy as np
import structlog

from pipeline.events import (
    ALERTMANAGER_BATCH,
    AlertBatch,
    AlertReceived,
    CloudEvent,
    batch_event_id,
    envelope,
    new_trace_id,
)
from pipeline.learning.forecast import predict_crossings
from pipeline.policy import Predictions
from pipeline.predictions import PREDICTION_RECEIVER, predicted_alert, resolved

log = structlog.get_logger("predictions")

RECORD_ALERT_BATCH = "alerts.record_batch"  # the webhook's task: predicted alerts take its path
SOURCE = "urn:smartcloudops:forecast"


class SeriesHistory(Protocol):
    def series_named(self, name: str) -> list[tuple[str, Mapping[str, str]]]: ...

    def values(self, series_key: str, since: datetime) -> tuple[np.ndarray, np.ndarray]: ...

    def open_predicted(self, alertnames: Sequence[str]) -> list[AlertReceived]: ...


@dataclass(frozen=True, slots=True)
class PredictionRun:
    raised: tuple[str, ...]  # fingerprints of the predicted alerts published
    resolved: tuple[str, ...]


class Predictor:
    """One forecasting pass over every prediction rule."""

    def __init__(self, history: SeriesHistory, publish: Callable[[str, CloudEvent], object],
                 predictions: Predictions) -> None:
        self._history, self._publish, self._predictions = history, publish, predictions

    def run_once(self, now: datetime) -> PredictionRun:
        raised = self._raise_due(now)
        expired = self._resolve_expired(now)
        batch = raised + expired
        if batch:
            self._send(batch, now)
            log.info("predictions.published", raised=len(raised), resolved=len(expired))
        return PredictionRun(tuple(a.fingerprint for a in raised), tuple(a.fingerprint for a in expired))

    def _raise_due(self, now: datetime) -> list[AlertReceived]:
        since = now - timedelta(seconds=self._predictions.history_s)
        fresh_after = now.timestamp() - 2 * self._predictions.interval_s
        alerts = []
        for rule in self._predictions.rules:
            for key, labels in self._history.series_named(rule.metric):
                times, values = self._history.values(key, since)
                found = predict_crossings(times, values, rule.threshold, rule.horizon_s)
                if found and found[-1].at >= fresh_after:
                    alerts.append(predicted_alert(rule, key, labels, found[-1]))
        return alerts

    def _resolve_expired(self, now: datetime) -> list[AlertReceived]:
        names = sorted({rule.alertname for rule in self._predictions.rules})
        if not names:
            return []
        return [
            resolved(alert, now)
            for alert in self._history.open_predicted(names)
            if datetime.fromisoformat(alert.annotations["expires_at"]) <= now
        ]

    def _send(self, alerts: list[AlertReceived], now: datetime) -> None:
        batch = AlertBatch(alerts=tuple(alerts), group_key="forecast", receiver=PREDICTION_RECEIVER,
                           truncated_alerts=0, external_url="")
        event = envelope(ALERTMANAGER_BATCH, SOURCE, batch.to_data(), event_id=batch_event_id(batch.alerts),
                         trace_id=new_trace_id(), now=now)
        self._publish(RECORD_ALERT_BATCH, event)
