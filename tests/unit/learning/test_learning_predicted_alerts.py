"""Predicted alerts are derived (same prediction, same ids), bounded, and their rules validated."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from pipeline.learning.forecast import Prediction
from pipeline.policy import PredictionRule
from pipeline.predictions import is_predicted, predicted_alert, resolved

RULE = PredictionRule(name="disk-will-fill", metric="node_filesystem_used_percent", threshold=95,
                      alertname="DiskFull", horizon_s=3600)
AT = datetime(2026, 12, 2, 10, 0, tzinfo=UTC).timestamp()


def test_the_same_prediction_gives_the_same_alert_and_another_moment_another():
    labels = {"__name__": "node_filesystem_used_percent", "instance": "db-1", "job": "orders"}
    first = predicted_alert(RULE, "k1", labels, Prediction(AT, AT + 1800))
    again = predicted_alert(RULE, "k1", labels, Prediction(AT, AT + 1800))
    later = predicted_alert(RULE, "k1", labels, Prediction(AT + 7 * 3600, AT + 8 * 3600))
    assert first == again and first.fingerprint == later.fingerprint and first.event_id != later.event_id
    assert first.labels["service"] == "orders" and "__name__" not in first.labels and is_predicted(first.labels)
    assert first.annotations["expires_at"] == datetime.fromtimestamp(AT + 1800 + 3600, tz=UTC).isoformat()
    gone = resolved(first, datetime.fromtimestamp(AT + 9000, tz=UTC))
    assert gone.status == "resolved" and gone.fingerprint == first.fingerprint and gone.event_id != first.event_id


def test_long_labels_are_cut_to_what_an_incident_can_hold():
    labels = {"__name__": "m", "service": "s" * 600}
    assert len(predicted_alert(RULE, "k", labels, Prediction(AT, AT + 60)).labels["service"]) == 256


@pytest.mark.parametrize("field, value", [("threshold", math.nan), ("threshold", math.inf),
                                          ("metric", "rm -rf /"), ("alertname", "Disk Full"), ("horizon_s", 0)])
def test_a_bad_rule_is_refused_naming_the_field(field, value):
    with pytest.raises(ValidationError, match=field):
        PredictionRule(**{**RULE.model_dump(), field: value})
