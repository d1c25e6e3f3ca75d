"""The novelty detector: adapts per series, spans in time, counters rated, batch == single."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import anomaly_model as store
from pipeline.anomaly.novelty import NoveltyDetector, NoveltySpec, record_dtype
from pipeline.anomaly.training import TrainingSeries, fit_novelty

DAY = 86400.0
T0 = 1_700_000_000.0


@pytest.fixture(scope="module")
def detector():
    return store.load_detector()


def daily(step_seconds, days, seed, scale=1.0, shift_at_day=None, shift=0.0):
    """A noisy daily cycle sampled every `step_seconds`, optionally stepping at a given day."""
    rng = np.random.default_rng(seed)
    times = T0 + np.arange(0, days * DAY, step_seconds)
    values = scale * (10 + 3 * np.sin(2 * np.pi * times / DAY) + rng.normal(0, 0.3, len(times)))
    if shift_at_day is not None:
        values[times >= T0 + shift_at_day * DAY] += scale * shift
    return times, values


def scores_of(detector, times, values):
    return detector.score_encoded([None], [times], [values]).scores[0]


def first_alert(detector, times, values):
    flagged = np.flatnonzero(detector.is_anomalous(scores_of(detector, times, values)))
    return times[flagged[0]] if len(flagged) else None


def test_the_shipped_model_is_a_novelty_model_with_a_threshold_from_its_training_labels(detector):
    assert isinstance(detector, NoveltyDetector)
    assert detector.model_version.startswith("novelty-")
    assert 0 < detector.threshold < 1


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_a_level_shift_alerts_at_the_shift_once_whatever_the_series_scale(detector, scale):
    times, values = daily(300, 5, seed=1, scale=scale, shift_at_day=4, shift=12)
    scores = scores_of(detector, times, values)
    flagged = times[detector.is_anomalous(scores)]
    assert len(flagged) == 1
    assert flagged[0] == pytest.approx(T0 + 4 * DAY, abs=600)


def test_a_steady_daily_cycle_raises_no_alert(detector):
    times, values = daily(300, 8, seed=2)
    assert not detector.is_anomalous(scores_of(detector, times, values)).any()


def test_a_15_second_and_a_5_minute_scrape_alert_at_the_same_time(detector):
    fine = daily(15, 4, seed=3, shift_at_day=3, shift=12)
    coarse = daily(300, 4, seed=3, shift_at_day=3, shift=12)
    assert first_alert(detector, *fine) == pytest.approx(first_alert(detector, *coarse), abs=600)


def test_irregular_sampling_with_gaps_still_finds_the_shift_and_nothing_else(detector):
    rng = np.random.default_rng(4)
    times = T0 + np.cumsum(rng.uniform(60, 900, 2000))
    times = times[(times < T0 + 2.0 * DAY) | (times > T0 + 2.5 * DAY)]  # a 12-hour gap
    values = 10 + 3 * np.sin(2 * np.pi * times / DAY) + rng.normal(0, 0.3, len(times))
    shift_at = times[int(len(times) * 0.8)]
    values[times >= shift_at] += 12
    flagged = times[detector.is_anomalous(scores_of(detector, times, values))]
    # Once the series has seen its cycle for a few days (and across the gap): the shift, and
    # at most one marginal new extreme of the noise in the six days before it.
    settled = flagged[flagged > T0 + 3 * DAY]
    assert shift_at in settled
    assert len(settled[settled < shift_at]) <= 1


def test_a_counter_is_rated_so_its_resets_are_not_alerts_but_a_rate_jump_is(detector):
    times = T0 + 60.0 * np.arange(6 * 24 * 60)
    rng = np.random.default_rng(5)
    rate = 100 + rng.normal(0, 5, len(times))
    rate[times >= T0 + 5 * DAY] *= 3  # three times the traffic on the sixth day
    counter = np.cumsum(rate * 60)
    for reset_day in (1.5, 3.2):  # a restarted process counts again from zero
        after = times >= T0 + reset_day * DAY
        counter[after] -= counter[np.flatnonzero(after)[0] - 1]
    flagged = times[detector.is_anomalous(scores_of(detector, times, counter))]
    state = np.frombuffer(detector.score_encoded([None], [times], [counter]).states[0],
                          dtype=record_dtype(detector.spec))
    assert state["counter"][0] == 1
    assert len(flagged) == 1 and flagged[0] == pytest.approx(T0 + 5 * DAY, abs=120)


def test_a_gauge_that_goes_down_is_not_taken_for_a_counter(detector):
    times, values = daily(300, 2, seed=6)
    state = detector.score_encoded([None], [times], [values]).states[0]
    assert np.frombuffer(state, dtype=record_dtype(detector.spec))["counter"][0] == -1


def test_after_an_alert_only_a_worse_point_alerts_again_within_the_refractory_span(detector):
    times, values = daily(300, 6, seed=7, shift_at_day=4, shift=12)
    values[times >= T0 + 4.2 * DAY] += 30  # worse, two hours later
    flagged = times[detector.is_anomalous(scores_of(detector, times, values))]
    assert len(flagged) == 2
    assert flagged[1] == pytest.approx(T0 + 4.2 * DAY, abs=600)


def test_nothing_scores_before_15_minutes_and_12_samples(detector):
    times, values = daily(15, 1, seed=8)[0][:200], daily(15, 1, seed=8)[1][:200]
    values[30] += 1000  # 7.5 minutes in: too early
    hourly_times, hourly_values = daily(3600, 2, seed=8)
    hourly_values[6] += 1000  # 6 hours in but only the 7th sample: too few
    assert not scores_of(detector, times, values)[times < T0 + 900].any()
    assert not scores_of(detector, hourly_times, hourly_values)[:11].any()


def test_a_night_that_looks_like_a_day_alerts_though_every_value_is_in_range(detector):
    times, values = daily(300, 10, seed=11)
    night = (times >= T0 + 8.5 * DAY) & (times < T0 + 8.5 * DAY + 6 * 3600)
    values[night] = 10 + 3 + np.random.default_rng(11).normal(0, 0.3, night.sum())  # the daily peak
    assert values[night].max() < values[~night].max()  # nothing the series has not done before
    flagged = times[detector.is_anomalous(scores_of(detector, times, values))]
    assert len(flagged) >= 1 and T0 + 8.5 * DAY <= flagged[0] < T0 + 8.5 * DAY + 6 * 3600
    blind = NoveltyDetector(replace(detector.spec, season_memory_seconds=1e12), detector.threshold, "x")
    assert not blind.is_anomalous(scores_of(blind, times, values)).any()


def test_the_seasonal_residual_waits_for_two_cycles_before_it_judges():
    spec = NoveltySpec(warmup_seconds=0.0, warmup_samples=1, maturity_seconds=1.0)
    seasonal = NoveltyDetector(spec, 0.05, "test")
    blind = NoveltyDetector(replace(spec, season_memory_seconds=1e12), 0.05, "test")
    times, values = daily(300, 3, seed=12)
    state = np.frombuffer(
        seasonal.score_encoded([None], [times[:280]], [values[:280]]).states[0],
        dtype=record_dtype(spec),
    )
    assert np.isnan(state["residual"][0])  # first day: no hour of the day is trusted yet
    for day, counts in ((1.5, False), (2.5, True)):  # day-time values at night
        odd = values.copy()
        odd[(times >= T0 + day * DAY) & (times < T0 + (day + 0.25) * DAY)] = 13.0
        with_residual, without = scores_of(seasonal, times, odd), scores_of(blind, times, odd)
        assert (with_residual > without).any() == counts, day


def test_a_big_jump_an_hour_into_a_new_series_alerts_once(detector):
    times, values = daily(15, 1, seed=9)
    times, values = times[:400], 10 + 0.5 * np.sin(np.arange(400) / 5.0)
    values[300:310] = 100.0  # 75 minutes in, tenfold
    flagged = np.flatnonzero(detector.is_anomalous(scores_of(detector, times, values)))
    assert flagged.tolist() == [300]


def test_a_young_series_needs_a_larger_excursion_than_a_mature_one(detector):
    spec = detector.spec
    times, values = daily(300, 8, seed=10)
    for day, expected in ((0.5, False), (7.0, True)):
        bumped = values.copy()
        at = np.searchsorted(times, T0 + day * DAY)
        bumped[at] = values[: at].max() + 2.0  # a third of the daily swing above anything seen
        assert detector.is_anomalous(scores_of(detector, times, bumped))[at] == expected, day
    assert spec.maturity_seconds < spec.range_blocks * spec.block_seconds  # trusted before full


def test_warm_up_scores_raise_the_peak_so_a_restless_start_does_not_alert_at_once():
    spec = NoveltySpec(warmup_seconds=3600.0, warmup_samples=1, maturity_seconds=0.0)
    detector = NoveltyDetector(spec, 0.2, "test")
    times = T0 + np.arange(0, 4 * 3600, 60.0)
    values = np.where(np.arange(len(times)) % 20 == 0, 5.0, 1.0)
    values[:3] = [1.0, 1.0, 50.0]  # a wild excursion while warming up
    values[70] = -30.0  # less novel than the warm-up one, after warm-up, minutes later
    scores = scores_of(detector, times, values)
    assert not scores[times < T0 + 3600].any()
    assert scores[70] == 0.0
    forgetful = NoveltyDetector(replace(spec, refractory_seconds=1.0), 0.2, "test")
    assert forgetful.is_anomalous(scores_of(forgetful, times, values)[70])


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 10_000), data=st.data())
def test_a_points_score_and_state_are_the_same_alone_or_inside_a_batch(seed, data):
    spec = NoveltySpec(warmup_seconds=3600.0, block_seconds=1800.0, range_blocks=4)
    detector = NoveltyDetector(spec, 0.2, "test")
    times, values = daily(300, 2, seed=seed, shift_at_day=1.5, shift=8)
    values[data.draw(st.integers(0, len(values) - 1))] = np.nan
    cuts = data.draw(st.lists(st.integers(1, 60), min_size=1, max_size=20))
    state, parts, start = None, [], 0
    for cut in [*cuts, len(values)]:
        result = detector.score_encoded([state], [times[start : start + cut]], [values[start : start + cut]])
        state, start = result.states[0], start + cut
        parts.append(result.scores[0])
    alone = np.concatenate(parts)
    others = [daily(60 * (i + 1), 1, seed=seed + i) for i in range(4)]
    batched = detector.score_encoded(
        [None] * 5, [times, *(o[0] for o in others)], [values, *(o[1] for o in others)]
    )
    assert np.array_equal(alone, batched.scores[0])
    assert batched.states[0] == state


def test_a_redelivered_batch_is_a_no_op_and_a_foreign_state_restarts(detector):
    times, values = daily(300, 2, seed=9)
    first = detector.score_encoded([None], [times], [values])
    again = detector.score_encoded(first.states, [times], [values])
    assert again.states == first.states and not again.accepted[0].any()
    other = NoveltyDetector(replace(detector.spec, level_seconds=60.0), 0.5, "other")
    assert other.load_state(first.states[0]) == other.new_state()


def test_the_state_is_a_compact_fixed_size_record(detector):
    times, values = daily(300, 1, seed=10)
    state = detector.score_encoded([None], [times], [values]).states[0]
    # Ranges of three quantities over 14 days plus 24 hourly means: about 1.2 KB a series.
    assert len(state) == record_dtype(detector.spec).itemsize < 1200


def test_without_labels_the_threshold_follows_an_alert_rate_per_series_day():
    series = [TrainingSeries(f"s{i}", *daily(300, 6, seed=20 + i, shift_at_day=3 + i % 2, shift=6)) for i in range(6)]
    model = fit_novelty(series, alerts_per_day=0.2)
    assert model.threshold_source == "alerts_per_series_day_0.2"
    detector = model.detector()
    alerts = sum(
        detector.is_anomalous(scores_of(detector, s.timestamps, s.values)).sum() for s in series
    )
    assert alerts <= 0.2 * 6 * 6
