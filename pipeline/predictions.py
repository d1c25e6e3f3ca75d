"""Predicted alerts: a forecast says a threshold alert will fire, so say it first.

A predicted alert carries the alert name it foretells (so a remediation rule for that alert
plans the preventive action, and the real alert, when it comes, joins the same incident) and
the label `predicted="true"` (so the plan needs at least `predictions.minimum_decision`, a
person's approval by default). It resolves by itself when the forecast crossing time plus the
horizon passed: a prediction that did not come true stops asking for attention.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from pipeline.events import AlertReceived, alert_event_id
from pipeline.policy import PredictionRule

if TYPE_CHECKING:  # the forecast (numpy) runs in the worker; planning only reads the label
    from pipeline.learning.forecast import Prediction

PREDICTED_LABEL = "predicted"
PREDICTION_RECEIVER = "smartcloudops-forecast"
# The incident keeps these labels in bounded columns.
_LIMITS = {"alertname": 256, "service": 256, "severity": 64}


def is_predicted(labels: Mapping[str, str]) -> bool:
    return labels.get(PREDICTED_LABEL) == "true"


def predicted_alert(
    rule: PredictionRule, series_key: str, labels: Mapping[str, str], prediction: Prediction
) -> AlertReceived:
    """The firing alert of one prediction (the same prediction always gives the same alert)."""
    alert_labels = {
        **{k: v for k, v in labels.items() if k != "__name__"},
        "alertname": rule.alertname,
        "severity": rule.severity,
        PREDICTED_LABEL: "true",
        "prediction_rule": rule.name,
    }
    if not alert_labels.get("service") and labels.get("job"):
        alert_labels["service"] = labels["job"]
    for name, limit in _LIMITS.items():
        if name in alert_labels:
            alert_labels[name] = alert_labels[name][:limit]
    starts_at = datetime.fromtimestamp(prediction.at, tz=UTC)
    crossing_at = datetime.fromtimestamp(prediction.crossing_at, tz=UTC)
    fingerprint = _fingerprint(rule.name, series_key)
    return AlertReceived(
        event_id=alert_event_id(fingerprint, "firing", starts_at),
        fingerprint=fingerprint,
        status="firing",
        labels=alert_labels,
        annotations={
            "summary": (f"{labels.get('__name__', rule.metric)} is forecast to reach {rule.threshold:g} "
                        f"by {crossing_at.isoformat()}"),
            "forecast_crossing_at": crossing_at.isoformat(),
            "expires_at": expires_at(rule, crossing_at).isoformat(),
        },
        starts_at=starts_at,
        ends_at=None,
        generator_url="",
        group_key=f"forecast:{rule.name}",
        receiver=PREDICTION_RECEIVER,
    )


def expires_at(rule: PredictionRule, crossing_at: datetime) -> datetime:
    """When an unfulfilled prediction stops firing: a horizon after the forecast crossing."""
    return crossing_at + timedelta(seconds=rule.horizon_s)


def resolved(alert: AlertReceived, at: datetime) -> AlertReceived:
    """The same predicted alert, resolved at `at`."""
    return AlertReceived(
        event_id=alert_event_id(alert.fingerprint, "resolved", alert.starts_at),
        fingerprint=alert.fingerprint,
        status="resolved",
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=alert.starts_at,
        ends_at=at,
        generator_url=alert.generator_url,
        group_key=alert.group_key,
        receiver=alert.receiver,
    )


def _fingerprint(rule: str, series_key: str) -> str:
    return hashlib.sha256(f"forecast|{rule}|{series_key}".encode()).hexdigest()[:16]
