"""Series state: fixed size, exact round trip, stale or corrupt bytes start a series afresh."""

import numpy as np
import pytest
from anomaly_helpers import SMALL_SPEC, walk

from pipeline.anomaly.features import featurize
from pipeline.anomaly.spec import FeatureSpec
from pipeline.anomaly.state import SeriesState, StateBatch, load_state, record_dtype
from pipeline.errors import InvalidInput


def advanced_state(n_points: int, spec: FeatureSpec = SMALL_SPEC) -> SeriesState:
    times, values = walk(1, n_points)
    states, _ = featurize([SeriesState.fresh(spec)], [values], [times], spec)
    return states[0]


def test_default_state_is_one_record_of_about_three_kilobytes():
    assert record_dtype(FeatureSpec()).itemsize == 1916
    assert len(SeriesState.fresh(FeatureSpec()).to_bytes()) == 1916


def test_state_size_does_not_grow_with_the_number_of_points():
    assert len(advanced_state(10).to_bytes()) == len(advanced_state(2_000).to_bytes())


def test_bytes_round_trip_is_exact():
    state = advanced_state(300)
    back = SeriesState.from_bytes(state.to_bytes(), SMALL_SPEC)
    assert (back.count, back.last_timestamp) == (300, state.last_timestamp)
    assert np.array_equal(back.recent, state.recent)
    assert np.array_equal(back.high, state.high, equal_nan=True)
    assert np.array_equal(back.low, state.low, equal_nan=True)


def test_absent_state_loads_as_a_fresh_series():
    assert load_state(None, SMALL_SPEC).count == 0


def test_state_of_another_spec_is_refused_and_loads_fresh():
    other = FeatureSpec(short_window=3, season_length=24, block_length=8, range_blocks=4, warmup=6)
    data = advanced_state(50, other).to_bytes()
    with pytest.raises(InvalidInput, match="another feature spec"):
        SeriesState.from_bytes(data, SMALL_SPEC)
    assert load_state(data, SMALL_SPEC).count == 0


def test_truncated_state_is_refused_and_loads_fresh():
    data = advanced_state(50).to_bytes()[:-1]
    with pytest.raises(InvalidInput, match="bytes"):
        SeriesState.from_bytes(data, SMALL_SPEC)
    assert load_state(data, SMALL_SPEC).count == 0


def test_bulk_decode_keeps_good_states_and_freshens_the_rest():
    good = advanced_state(70).to_bytes()
    batch = StateBatch.decode([good, None, b"junk", good], SMALL_SPEC)
    assert batch.count.tolist() == [70, 0, 0, 70]
    assert batch.to_bytes()[0] == good
