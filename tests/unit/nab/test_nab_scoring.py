"""NAB scoring: the scaled sigmoid, window weights, the threshold sweep and normalisation."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.nab import scoring
from pipeline.nab.profiles import REWARD_LOW_FN, REWARD_LOW_FP, STANDARD


def sigmoid_by_hand(position: float) -> float:
    return 2.0 / (1.0 + math.exp(5.0 * position)) - 1.0


def test_scaled_sigmoid_matches_the_values_nab_documents():
    positions = np.array([-1.0, -0.5, 0.0, 1.0, 3.5])
    expected = [0.98661, 0.84828, 0.0, -0.98661, -1.0]
    assert scoring.scaled_sigmoid(positions) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize(("rows", "probation"), [(20, 3), (4032, 604), (4730, 709), (10_000, 750)])
def test_probationary_period_is_fifteen_percent_capped_at_750_rows(rows, probation):
    assert scoring.probationary_length(rows) == probation


# A 20-row file: rows 0-2 are probationary, one window spans rows 10-14 (width 5).
# Scores: row 1 = 1.0 (probationary, ignored), row 5 = 0.9, row 12 = 0.8, row 17 = 0.7.
HAND_SCORES = np.zeros(20)
HAND_SCORES[[1, 5, 12, 17]] = [1.0, 0.9, 0.8, 0.7]
HAND_WINDOWS = [scoring.Window(10, 14)]
# Row 12 in the window: position -(14 - 12 + 1) / 5 = -0.6, weight sigmoid(-0.6) / sigmoid(-1).
TP_ROW_12 = sigmoid_by_hand(-0.6) / sigmoid_by_hand(-1.0)  # 0.917429
# Row 5, before any window: a plain false positive, -1 * fp weight.
# Row 17, after the window: position (17 - 14) / (5 - 1) = 0.75, weight sigmoid(0.75) * fp weight.
FP_ROW_17 = sigmoid_by_hand(0.75)  # -0.954045


def test_hand_built_file_scores_what_was_computed_by_hand():
    file = scoring.prepare_file("hand.csv", HAND_SCORES, HAND_WINDOWS, STANDARD)
    at_07 = scoring.score_file(file, 0.7, STANDARD)
    assert TP_ROW_12 == pytest.approx(0.917429, abs=1e-6)
    assert at_07.score == pytest.approx(-0.11 + TP_ROW_12 + 0.11 * FP_ROW_17, abs=1e-12)
    assert at_07.score == pytest.approx(0.702484, abs=1e-6)
    assert (at_07.tp, at_07.fp, at_07.fn, at_07.tn) == (1, 2, 4, 10)


def test_sweep_of_the_hand_built_file_lists_every_threshold_with_its_total():
    file = scoring.prepare_file("hand.csv", HAND_SCORES, HAND_WINDOWS, STANDARD)
    thresholds, totals = scoring.sweep_thresholds([file], STANDARD)
    # At 0 every scorable row detects: rows 3-9 cost 0.11 each, the window earns its
    # left edge (position -1, full weight 1), rows 15-19 sit 1/4 .. 5/4 windows past it.
    everything = -7 * 0.11 + 1.0 + 0.11 * sum(sigmoid_by_hand(k / 4) for k in range(1, 6))
    assert thresholds.tolist() == [1.1, 0.9, 0.8, 0.7, 0.0]
    assert totals == pytest.approx([-1.0, -1.11, -0.11 + TP_ROW_12, 0.702484, everything], abs=1e-6)


@pytest.mark.parametrize(
    ("profile", "best", "normalised"),
    [
        # S_null = -fn weight * 1 window, S_perfect = 1: 100 * (S + fn) / (1 + fn).
        (STANDARD, -0.11 + TP_ROW_12, 100 * (-0.11 + TP_ROW_12 + 1) / 2),
        (REWARD_LOW_FP, -0.22 + TP_ROW_12, 100 * (-0.22 + TP_ROW_12 + 1) / 2),
        (REWARD_LOW_FN, -0.11 + TP_ROW_12, 100 * (-0.11 + TP_ROW_12 + 2) / 3),
    ],
)
def test_each_profile_picks_threshold_08_and_normalises_between_null_and_perfect(
    profile, best, normalised
):
    file = scoring.prepare_file("hand.csv", HAND_SCORES, HAND_WINDOWS, profile)
    choice = scoring.best_threshold([file], profile)
    assert choice.threshold == 0.8
    assert choice.score == pytest.approx(best, abs=1e-12)
    assert scoring.normalised_score(choice.score, 1, profile) == pytest.approx(normalised, abs=1e-9)


@pytest.mark.parametrize(
    ("profile", "raw_total", "published"),
    [
        (STANDARD, 11.485873411338, 70.5),
        (REWARD_LOW_FP, 7.308500159063, 63.1),
        (REWARD_LOW_FN, 6.485873411338, 74.4),
    ],
)
def test_normalisation_reproduces_the_published_numenta_scores_on_the_dev_split(
    profile, raw_total, published
):
    """raw_total: sum of numenta's published per-file scores over the 24 dev files (28 windows)."""
    assert round(scoring.normalised_score(raw_total, 28, profile), 1) == published


def test_a_window_counts_once_however_many_of_its_rows_detect():
    scores = np.zeros(40)
    scores[20:25] = 1.0
    file = scoring.prepare_file("f.csv", scores, [scoring.Window(20, 29)], STANDARD)
    result = scoring.score_file(file, 1.0, STANDARD)
    assert result.score == pytest.approx(1.0)  # the earliest detection, at the left edge
    assert result.tp == 5


def test_windows_lost_to_the_probationary_period_are_not_counted():
    file = scoring.prepare_file(
        "f.csv", np.zeros(100), [scoring.Window(2, 8), scoring.Window(50, 60)], STANDARD
    )
    assert file.n_windows == 1


@settings(max_examples=40, deadline=None)
@given(
    scores=st.lists(st.sampled_from([0.0, 0.2, 0.5, 0.7, 1.0]), min_size=60, max_size=60),
    start=st.integers(20, 40),
    width=st.integers(2, 15),
)
def test_sweep_totals_equal_the_per_file_scores_at_each_threshold(scores, start, width):
    profile = STANDARD
    files = [
        scoring.prepare_file(
            "a.csv", np.array(scores), [scoring.Window(start, start + width)], profile
        ),
        scoring.prepare_file("b.csv", np.array(scores[::-1]), [], profile),
    ]
    thresholds, totals = scoring.sweep_thresholds(files, profile)
    for threshold, total in zip(thresholds, totals):
        assert sum(scoring.score_file(f, threshold, profile).score for f in files) == pytest.approx(
            total, abs=1e-9
        )
