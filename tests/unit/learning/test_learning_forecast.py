"""Predictive remediation's forecast: a real climb is seen before it crosses; daily peaks and noise are not."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.errors import InvalidInput
from pipeline.learning.forecast import ForecastSpec, predict_crossings

DAY, STEP = 86400.0, 300.0
T = np.arange(0.0, 4 * DAY, STEP)


def daily(rng, base=50.0, amplitude=10.0, noise=1.0):
    return base + amplitude * np.sin(2 * np.pi * T / DAY) + rng.normal(0, noise, len(T))


def test_a_leak_is_predicted_before_it_crosses_and_only_once():
    rng = np.random.default_rng(3)
    start = 2.5 * DAY
    values = daily(rng) + np.where(T > start, (T - start) / 3600 * 6.0, 0.0)
    crossing = T[np.argmax(values >= 90)]
    predictions = predict_crossings(T, values, 90, 2 * 3600)
    assert len(predictions) == 1
    [p] = predictions
    assert crossing - 2 * 3600 <= p.at < crossing and p.at < p.crossing_at <= p.at + 2 * 3600


@pytest.mark.parametrize("seed", range(5))
def test_daily_peaks_close_under_the_threshold_and_noise_are_not_predictions(seed):
    rng = np.random.default_rng(seed)
    near = daily(rng, base=90 - 10 - 5)  # peaks 5 under the threshold, every day
    noisy = daily(rng, base=60, amplitude=5, noise=4)
    assert predict_crossings(T, near, 90, 2 * 3600) == []
    assert predict_crossings(T, noisy, 90, 2 * 3600) == []


def test_nothing_is_predicted_during_the_first_day():
    rng = np.random.default_rng(4)
    values = daily(rng) + np.where(T > 0.3 * DAY, (T - 0.3 * DAY) / 3600 * 6.0, 0.0)
    predictions = predict_crossings(T, values, 90, 2 * 3600)
    assert all(p.at >= DAY for p in predictions)


def test_a_jump_without_a_precursor_is_not_predicted():
    rng = np.random.default_rng(5)
    values = np.where(T >= 2.5 * DAY, 99.0, daily(rng))
    assert predict_crossings(T, values, 90, 2 * 3600) == []


def test_causal_a_prediction_does_not_change_with_what_comes_after_it():
    rng = np.random.default_rng(6)
    start = 2.5 * DAY
    values = daily(rng) + np.where(T > start, (T - start) / 3600 * 6.0, 0.0)
    [p] = predict_crossings(T, values, 90, 2 * 3600)
    cut = int(np.searchsorted(T, p.at)) + 1
    assert predict_crossings(T[:cut], values[:cut], 90, 2 * 3600) == [p]


def test_bad_input_is_refused():
    with pytest.raises(InvalidInput):
        predict_crossings(T, T[:-1], 90, 3600)
    with pytest.raises(InvalidInput):
        predict_crossings(T, T, 90, 0)
    assert predict_crossings(np.array([]), np.array([]), 90, 3600, ForecastSpec()) == []
