"""Causal streaming features, computed for many series at once.

For each tracked quantity (the sample, a short mean, a short spread, the change against
one season ago) a series keeps a range that slowly forgets: `high` and `low` move towards
each other by a small share of the span at every sample unless a new value pushes them
out again. A point's feature is how far its quantity falls outside the range *before* the
point is added, in units of that range, on a log scale: 0 for anything seen recently,
large for a value the series has not come near. The features are scale free, so one model
serves series of any unit.

The work is a loop over time steps, vectorised across series: a point is only ever
computed from its own series' earlier points, with the same arithmetic whether it arrives
alone or inside a large batch.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.spec import QUANTITIES, FeatureSpec
from pipeline.anomaly.state import SeriesState
from pipeline.errors import InvalidInput

# Relative slack on a range's span, so a flat series does not divide by zero.
_RELATIVE_SLACK = 1e-9
_ABSOLUTE_SLACK = 1e-12
# Larger samples are ignored like NaN: their squares would overflow the spread.
_MAX_MAGNITUDE = 1e100
# log1p of the largest float32: features stay finite for any input.
_MAX_FEATURE = 89.0


@dataclass(frozen=True)
class Featurized:
    """New states (one per series), features (one row per input point) and which points counted.

    A point is ignored (features 0, state untouched) when its value is not finite or its
    timestamp is not after the series' last accepted one, so a redelivered batch is a no-op.
    """

    states: list[SeriesState]
    features: np.ndarray
    accepted: np.ndarray


@dataclass
class _Stacked:
    """The states of a batch as arrays with one row per series, updated in place."""

    ring: np.ndarray
    count: np.ndarray
    last_timestamp: np.ndarray
    high: np.ndarray
    low: np.ndarray


def featurize(
    states: Sequence[SeriesState],
    values: Sequence[np.ndarray],
    timestamps: Sequence[np.ndarray],
    spec: FeatureSpec,
) -> Featurized:
    """Features of every point of every series, series after series, in time order."""
    _check_shapes(states, values, timestamps, spec)
    stacked = _stack(states)
    value_grid, time_grid, present = _pad(values, timestamps)
    features = np.zeros((*value_grid.shape, len(QUANTITIES)), dtype=np.float32)
    accepted = np.zeros(value_grid.shape, dtype=bool)
    for step in range(value_grid.shape[1]):
        accepted[:, step], features[:, step] = _advance(
            stacked, value_grid[:, step], time_grid[:, step], present[:, step], spec
        )
    return Featurized(_unstack(stacked, states), features[present], accepted[present])


def _check_shapes(states, values, timestamps, spec: FeatureSpec) -> None:
    if not len(states) == len(values) == len(timestamps):
        raise InvalidInput("featurize needs one state, one value array and one timestamp array per series")
    for state, series_values, series_times in zip(states, values, timestamps):
        if np.shape(series_values) != np.shape(series_times) or np.ndim(series_values) != 1:
            raise InvalidInput("values and timestamps of a series must be 1-d arrays of the same length")
        if state.fingerprint != spec.fingerprint():
            raise InvalidInput("a series state belongs to another feature spec")


def _stack(states: Sequence[SeriesState]) -> _Stacked:
    n_quantities = len(QUANTITIES)
    return _Stacked(
        ring=np.array([s.ring for s in states], dtype=np.float64).reshape(len(states), -1),
        count=np.array([s.count for s in states], dtype=np.int64),
        last_timestamp=np.array([s.last_timestamp for s in states], dtype=np.float64),
        high=np.array([s.high for s in states], dtype=np.float64).reshape(len(states), n_quantities),
        low=np.array([s.low for s in states], dtype=np.float64).reshape(len(states), n_quantities),
    )


def _unstack(stacked: _Stacked, states: Sequence[SeriesState]) -> list[SeriesState]:
    return [
        SeriesState(
            fingerprint=state.fingerprint,
            count=int(stacked.count[i]),
            last_timestamp=float(stacked.last_timestamp[i]),
            ring=stacked.ring[i].copy(),
            high=stacked.high[i].copy(),
            low=stacked.low[i].copy(),
        )
        for i, state in enumerate(states)
    ]


def _pad(values, timestamps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series, step) grids of values and times, and where a real point is."""
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    width = int(lengths.max(initial=0))
    present = np.arange(width)[None, :] < lengths[:, None]
    value_grid = np.full(present.shape, np.nan)
    time_grid = np.full(present.shape, -np.inf)
    if present.size:
        value_grid[present] = np.concatenate([np.asarray(v, dtype=np.float64) for v in values])
        time_grid[present] = np.concatenate([np.asarray(t, dtype=np.float64) for t in timestamps])
    return value_grid, time_grid, present


def _advance(
    stacked: _Stacked, value: np.ndarray, moment: np.ndarray, present: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Add one point to every series that has one; return which counted and their features."""
    with np.errstate(invalid="ignore"):
        accepted = present & (np.abs(value) <= _MAX_MAGNITUDE) & (moment > stacked.last_timestamp)
    rows = np.flatnonzero(accepted)
    features = np.zeros((len(value), len(QUANTITIES)), dtype=np.float32)
    if len(rows) == 0:
        return accepted, features
    count = stacked.count[rows]
    stacked.ring[rows, count % spec.ring_length] = value[rows]
    quantities = _quantities(stacked.ring[rows], count, spec)
    # How many earlier values each quantity has had; negative while it is still undefined.
    seen = count[:, None] - _first_defined(spec)[None, :]
    high, low = stacked.high[rows], stacked.low[rows]
    excess = np.log1p(_excess(quantities, high, low))
    features[rows] = np.where(seen >= spec.warmup, np.minimum(excess, _MAX_FEATURE), 0.0)
    new_high, new_low = _forget_and_extend(quantities, high, low, spec)
    stacked.high[rows] = np.where(seen >= 0, new_high, high)
    stacked.low[rows] = np.where(seen >= 0, new_low, low)
    stacked.count[rows] += 1
    stacked.last_timestamp[rows] = moment[rows]
    return accepted, features


def _quantities(ring: np.ndarray, count: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """The tracked quantities (in QUANTITIES order) at the newest sample of each row."""
    lags = np.arange(spec.short_window)
    recent = _gather(ring, count[:, None] - lags[None, :])
    season_ago = _gather(ring, count[:, None] - spec.season_length - lags[None, :])
    newest = recent[:, 0]
    short_mean = recent.mean(axis=1)
    return np.column_stack(
        (
            newest,
            short_mean,
            recent.std(axis=1),
            newest - season_ago[:, 0],
            short_mean - season_ago.mean(axis=1),
        )
    )


def _gather(ring: np.ndarray, sample_index: np.ndarray) -> np.ndarray:
    """ring[row, sample_index[row, j] mod ring length]; entries before the first sample are junk."""
    return np.take_along_axis(ring, sample_index % ring.shape[1], axis=1)


def _first_defined(spec: FeatureSpec) -> np.ndarray:
    """Index of the first sample at which each quantity has all the samples it needs."""
    short, season = spec.short_window - 1, spec.season_length
    return np.array([0, short, short, season, season + short], dtype=np.int64)


def _excess(quantities: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """How far each quantity lies outside [low, high], in units of the span (0 if no range yet)."""
    span = high - low
    slack = _RELATIVE_SLACK * np.maximum(np.abs(high), np.abs(low)) + _ABSOLUTE_SLACK
    outside = np.maximum(np.maximum(quantities - high, low - quantities), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        excess = outside / (span + slack)
    return np.nan_to_num(excess, nan=0.0, posinf=np.finfo(np.float32).max)


def _forget_and_extend(
    quantities: np.ndarray, high: np.ndarray, low: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Shrink each range a little towards its middle, then stretch it to cover the new value."""
    shrink = (high - low) / (2.0 * spec.range_memory)
    # fmax/fmin take the quantity itself where the range is still NaN (never set).
    return np.fmax(quantities, high - shrink), np.fmin(quantities, low + shrink)
