"""Streaming features: causal, bounded, scale free, and identical in any batching."""

import math

import numpy as np
import pytest
from anomaly_helpers import SMALL_SPEC, walk
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.anomaly.features import featurize, featurize_batch
from pipeline.anomaly.spec import QUANTITIES, FeatureSpec
from pipeline.anomaly.state import SeriesState, StateBatch
from pipeline.errors import InvalidInput

VALUE, SHORT_MEAN = QUANTITIES.index("value"), QUANTITIES.index("short_mean")


def run(values, times=None, spec=SMALL_SPEC, state=None):
    times = 300.0 * np.arange(len(values)) if times is None else times
    states, features = featurize(
        [state or SeriesState.fresh(spec)], [np.asarray(values, float)], [times], spec
    )
    return states[0], features


def test_a_value_twice_the_range_beyond_it_scores_log_3():
    # Alternating 0, 1: the value ranges over [0, 1] and the 3-sample mean over [1/3, 2/3].
    # Then 3 arrives: value excess (3 - 1) / 1 = 2; mean (1 + 0 + 3) / 3 = 4/3, excess
    # (4/3 - 2/3) / (1/3) = 2. Both features are log1p(2) = log(3).
    values = [0.0, 1.0] * 20 + [3.0]
    _, features = run(values)
    assert features[-1, VALUE] == pytest.approx(math.log(3), rel=1e-6)
    assert features[-1, SHORT_MEAN] == pytest.approx(math.log(3), rel=1e-6)
    assert np.all(features[10:-1, VALUE] == 0)


def test_features_are_scale_free():
    times, values = walk(4, 200)
    _, small = run(values, times)
    _, large = run(values * 1e6, times)
    assert np.allclose(small, large, atol=1e-5)


def test_nothing_scores_before_the_warm_up():
    _, features = run(np.arange(30.0) ** 2)
    assert np.all(features[: SMALL_SPEC.warmup] == 0)
    assert features[SMALL_SPEC.warmup, VALUE] > 0


def test_a_new_level_stops_being_novel_once_the_range_has_seen_it():
    values = [0.0, 1.0] * 30 + [5.0, 5.5] * 10
    _, features = run(values)
    assert features[60, VALUE] > 1
    assert features[70:, VALUE].max() == 0


def test_a_points_features_do_not_depend_on_later_points():
    times, values = walk(5, 300)
    _, original = run(values, times)
    changed = values.copy()
    changed[150:] = 1e6
    _, after_change = run(changed, times)
    assert np.array_equal(original[:150], after_change[:150])
    assert not np.array_equal(original[150:], after_change[150:])


def test_ignored_points_leave_the_state_untouched():
    times, values = walk(6, 100)
    state, _ = run(values, times)
    late = np.array([times[-1], times[-1] - 300, times[-1] + 300, times[-1] + 600, np.inf, np.nan])
    bad = np.array([1.0, 2.0, np.nan, np.inf, 3.0, 4.0])
    result = featurize_batch(StateBatch.from_states([state]), [bad], [late], SMALL_SPEC)
    assert not result.accepted.any()
    assert np.all(result.features == 0)
    assert result.states.to_bytes()[0] == state.to_bytes()


def test_redelivering_a_batch_is_a_no_op():
    times, values = walk(7, 120)
    first, _ = run(values[:100], times[:100])
    once, _ = run(values[100:], times[100:], state=first)
    twice, features = run(values[100:], times[100:], state=once)
    assert twice.to_bytes() == once.to_bytes()
    assert np.all(features == 0)


def test_mismatched_lengths_are_invalid_input():
    with pytest.raises(InvalidInput, match="same length"):
        featurize([SeriesState.fresh(SMALL_SPEC)], [np.ones(3)], [np.ones(2)], SMALL_SPEC)


def test_a_state_of_another_spec_is_invalid_input():
    with pytest.raises(InvalidInput, match="another feature spec"):
        featurize([SeriesState.fresh(FeatureSpec())], [np.ones(3)], [np.arange(3.0)], SMALL_SPEC)


@settings(max_examples=25, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    length=st.integers(1, 260),
    cuts=st.lists(st.integers(1, 60), min_size=1, max_size=40),
)
def test_any_batching_gives_bit_identical_features_and_states(seed, length, cuts):
    times, values = walk(seed, length)
    values[np.random.default_rng(seed).random(length) < 0.05] = np.nan
    whole_state, whole = run(values, times)
    state, parts, start = SeriesState.fresh(SMALL_SPEC), [], 0
    for cut in cuts * (length // sum(cuts) + 1):
        if start >= length:
            break
        state, features = run(values[start : start + cut], times[start : start + cut], state=state)
        state = SeriesState.from_bytes(state.to_bytes(), SMALL_SPEC)
        parts.append(features)
        start += cut
    assert np.array_equal(np.concatenate(parts), whole)
    assert state.to_bytes() == whole_state.to_bytes()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True, width=64), min_size=1, max_size=80))
def test_features_stay_finite_whatever_the_values(values):
    _, features = run(np.array(values))
    assert np.all(np.isfinite(features))
    assert features.dtype == np.float32


def test_non_numeric_values_are_invalid_input():
    with pytest.raises(InvalidInput, match="numeric"):
        featurize(
            [SeriesState.fresh(SMALL_SPEC)], [np.array(["a", "b"])], [np.arange(2.0)], SMALL_SPEC
        )
