"""Calibration: forest and range-excess evidence combine into one score in [0, 1]."""

import math

import numpy as np
import pytest

from pipeline.anomaly.calibration import Calibration
from pipeline.errors import ConfigurationError


def features_with(short_mean_excess=0.0, value_excess=0.0):
    # Feature columns: value, short_mean, short_std, seasonal_delta, seasonal_mean_delta (log1p).
    return np.log1p(np.array([[value_excess, short_mean_excess, 0.0, 0.0, 0.0]]))


def test_score_is_the_geometric_mean_of_forest_and_excess_evidence():
    score = Calibration(excess_gain=2.0).combine(
        np.array([-0.8]), features_with(short_mean_excess=1.0)
    )
    assert score[0] == pytest.approx(math.sqrt(0.8 * (1 - math.exp(-2.0))))


def test_no_excess_means_no_anomaly_however_odd_the_forest_finds_the_row():
    assert Calibration().combine(np.array([-0.95]), features_with())[0] == 0.0


def test_excess_outside_the_evidence_quantities_reaches_only_the_forest():
    assert Calibration().combine(np.array([-0.9]), features_with(value_excess=5.0))[0] == 0.0


def test_scores_stay_within_0_1_for_extreme_inputs():
    scores = Calibration().combine(
        np.array([-1.0, 0.0, -0.5]), np.full((3, 5), 89.0, dtype=np.float32)
    )
    assert scores.tolist() == pytest.approx([1.0, 0.0, math.sqrt(0.5)])


def test_unknown_evidence_quantity_is_a_configuration_error():
    with pytest.raises(ConfigurationError, match="short_mean"):
        Calibration(evidence_quantities=("median",))


def test_calibration_round_trips_through_its_dict():
    calibration = Calibration(evidence_quantities=("value",), excess_gain=3.0)
    assert Calibration.from_dict(calibration.to_dict()) == calibration


def test_only_rows_with_evidence_excess_can_score_above_zero():
    features = np.vstack([features_with(), features_with(value_excess=3.0), features_with(0.5)])
    assert Calibration().has_evidence(features).tolist() == [False, False, True]
