"""Causal streaming features, computed for many series and many points at once.

For each tracked quantity (the sample, a short mean, a short spread, the change against
one season ago) a series keeps the range the quantity covered over its recent history, as
the extremes of a few blocks of samples (bounded memory; old blocks drop out whole). A
point's feature is how far its quantity falls outside that range *before* the point is
added, in units of the range, on a log scale: 0 for anything seen recently, large for a
value the series has not come near. The features are scale free, so one model serves
series of any unit.

Everything is vectorised over (series, point) grids. Only exact operations (max, min) or
the same fixed sequence of additions touch each point, so a point's features are bit for
bit the same whether it arrives alone or inside a batch of thousands.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from pipeline.anomaly.spec import QUANTITIES, FeatureSpec
from pipeline.anomaly.state import SeriesState, StateBatch
from pipeline.errors import InvalidInput

# Relative slack on a range's span, so a flat series does not divide by zero.
_RELATIVE_SLACK = 1e-9
_ABSOLUTE_SLACK = 1e-12
# Samples are kept as float32 (7 significant digits is plenty to judge novelty, and halves
# the state); beyond float32's range they become infinite and are ignored like NaN.
_SAMPLE_DTYPE = np.float32
# log1p of the largest float32: features stay finite for any input.
_MAX_FEATURE = 89.0


@dataclass(frozen=True, eq=False)
class Featurized:
    """New states (one per series), features (one row per input point) and which points counted.

    A point is ignored (features 0, state untouched) when its value or timestamp is not
    finite, or its timestamp is not after the series' last accepted one, so a redelivered
    batch is a no-op.
    """

    states: StateBatch
    features: np.ndarray
    accepted: np.ndarray


@dataclass(frozen=True)
class _Ranges:
    """Per series and quantity: extremes of completed blocks (oldest first) and the open block."""

    closed_high: np.ndarray  # (series, quantities, blocks)
    closed_low: np.ndarray
    open_high: np.ndarray  # (series, quantities)
    open_low: np.ndarray


def featurize(
    states: Sequence[SeriesState],
    values: Sequence[np.ndarray],
    timestamps: Sequence[np.ndarray],
    spec: FeatureSpec,
) -> tuple[list[SeriesState], np.ndarray]:
    """Features of every point of every series (series after series, in time order), new states."""
    result = featurize_batch(StateBatch.from_states(states), values, timestamps, spec)
    return result.states.to_states(), result.features


def featurize_batch(
    states: StateBatch,
    values: Sequence[np.ndarray],
    timestamps: Sequence[np.ndarray],
    spec: FeatureSpec,
) -> Featurized:
    """Like `featurize` on stacked states; also says which points were accepted."""
    _check_shapes(states, values, timestamps, spec)
    value_grid, time_grid, present = _pad(values, timestamps)
    accepted = _accepted(value_grid, time_grid, present, states.last_timestamp)
    new_values, n_new = _compact(value_grid, accepted)
    extended = np.concatenate([states.recent, new_values], axis=1)

    quantities, seen = _defined_quantities(extended, states.count, n_new, spec)
    high, low, ranges = _ranges_before_each_point(
        quantities, states.count, n_new, _split_ranges(states), spec
    )
    compact_features = np.where(seen >= spec.warmup, np.log1p(_excess(quantities, high, low)), 0.0)

    features = np.zeros((*value_grid.shape, len(QUANTITIES)), dtype=np.float32)
    features[accepted] = np.minimum(compact_features, _MAX_FEATURE)[
        np.arange(new_values.shape[1]) < n_new[:, None]
    ]
    latest = np.where(accepted, time_grid, -np.inf).max(axis=1, initial=-np.inf)
    next_states = _next_states(
        states, extended, n_new, np.fmax(states.last_timestamp, latest), ranges, spec
    )
    return Featurized(next_states, features[present], accepted[present])


def _check_shapes(states: StateBatch, values, timestamps, spec: FeatureSpec) -> None:
    if not len(states) == len(values) == len(timestamps):
        raise InvalidInput(
            "featurize needs one state, one value array and one timestamp array per series"
        )
    if [len(v) for v in values] != [len(t) for t in timestamps]:
        raise InvalidInput("values and timestamps of a series must have the same length")
    if len(states) and states.fingerprint != spec.fingerprint():
        raise InvalidInput("the series states belong to another feature spec")


def _pad(values, timestamps) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(series, point) grids of values and times, and where a real point is."""
    lengths = np.array([len(v) for v in values], dtype=np.int64)
    present = np.arange(int(lengths.max(initial=0)))[None, :] < lengths[:, None]
    value_grid = np.full(present.shape, np.nan)
    time_grid = np.full(present.shape, -np.inf)
    if present.any():
        with np.errstate(over="ignore"):
            value_grid[present] = _flat(values).astype(_SAMPLE_DTYPE)
        time_grid[present] = _flat(timestamps)
    return value_grid, time_grid, present


def _flat(arrays) -> np.ndarray:
    try:
        flat = np.concatenate(arrays, dtype=np.float64)
    except (ValueError, TypeError) as error:
        raise InvalidInput(f"values and timestamps must be 1-d numeric arrays: {error}") from error
    if flat.ndim != 1:
        raise InvalidInput("values and timestamps of a series must be 1-d arrays")
    return flat


def _accepted(
    values: np.ndarray, times: np.ndarray, present: np.ndarray, last_timestamp: np.ndarray
) -> np.ndarray:
    """Points with a usable value and a timestamp after every earlier usable point of the series."""
    usable = present & np.isfinite(values) & np.isfinite(times)
    usable_times = np.where(usable, times, -np.inf)
    latest_before = np.maximum.accumulate(
        np.concatenate([last_timestamp[:, None], usable_times], axis=1), axis=1
    )
    return usable & (times > latest_before[:, :-1])


def _compact(values: np.ndarray, accepted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Accepted values moved to the left of each row (order kept), NaN after; and their count."""
    n_new = accepted.sum(axis=1)
    order = np.argsort(~accepted, axis=1, kind="stable")
    width = int(n_new.max(initial=0))
    compact = np.take_along_axis(values, order, axis=1)[:, :width]
    return np.where(np.arange(width)[None, :] < n_new[:, None], compact, np.nan), n_new


def _defined_quantities(
    extended: np.ndarray, count: np.ndarray, n_new: np.ndarray, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray]:
    """Quantities of every new point (NaN where undefined) and how many earlier values each had."""
    quantities = _quantities(extended, spec)
    width = quantities.shape[1]
    sample_index = count[:, None] + np.arange(width)[None, :]
    seen = sample_index[:, :, None] - _first_defined(spec)[None, None, :]
    seen = np.where((np.arange(width)[None, :] < n_new[:, None])[:, :, None], seen, -1)
    return np.where(seen >= 0, quantities, np.nan), seen


def _quantities(extended: np.ndarray, spec: FeatureSpec) -> np.ndarray:
    """(series, new point, quantity) from the history followed by the new samples."""
    start, short, season = spec.history_length, spec.short_window, spec.season_length
    width = extended.shape[1] - start
    if width == 0:
        return np.empty((extended.shape[0], 0, len(QUANTITIES)))
    recent = sliding_window_view(extended[:, start - short + 1 :], short, axis=1)[:, :width]
    then = sliding_window_view(extended[:, start - season - short + 1 :], short, axis=1)[:, :width]
    newest = extended[:, start:]
    short_mean, short_std = _mean_and_std(recent)
    then_mean, _ = _mean_and_std(then)
    return np.stack(
        (newest, short_mean, short_std, newest - then[:, :, -1], short_mean - then_mean),
        axis=2,
    )


def _mean_and_std(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and population spread over the last axis, added in a fixed order (batch-independent)."""
    total = windows[..., 0].copy()
    for j in range(1, windows.shape[-1]):
        total += windows[..., j]
    mean = total / windows.shape[-1]
    squares = (windows[..., 0] - mean) ** 2
    for j in range(1, windows.shape[-1]):
        squares += (windows[..., j] - mean) ** 2
    return mean, np.sqrt(squares / windows.shape[-1])


def _first_defined(spec: FeatureSpec) -> np.ndarray:
    """Index of the first sample at which each quantity has all the samples it needs."""
    short, season = spec.short_window - 1, spec.season_length
    return np.array([0, short, short, season, season + short], dtype=np.int64)


def _split_ranges(states: StateBatch) -> _Ranges:
    return _Ranges(
        states.high[:, :, :-1], states.low[:, :, :-1], states.high[:, :, -1], states.low[:, :, -1]
    )


def _ranges_before_each_point(
    quantities: np.ndarray, count: np.ndarray, n_new: np.ndarray, ranges: _Ranges, spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray, _Ranges]:
    """Recent high and low of each quantity just before each new point, and the ranges after all."""
    high, closed_high, open_high = _running_extreme(
        np.fmax, quantities, count, n_new, ranges.closed_high, ranges.open_high, spec
    )
    low, closed_low, open_low = _running_extreme(
        np.fmin, quantities, count, n_new, ranges.closed_low, ranges.open_low, spec
    )
    return high, low, _Ranges(closed_high, closed_low, open_high, open_low)


def _running_extreme(extreme, quantities, count, n_new, closed, open_block, spec: FeatureSpec):
    """One side (fmax: high, fmin: low) of the block ranges before each new point, and after all.

    Column 0 holds the open block's extreme so far, column t+1 the point t; a segmented scan
    (one segment per block) gives each point the extreme of its block up to itself. An
    extreme of extremes is exact, so the grouping of points into batches cannot matter.
    """
    n_series, width, _ = quantities.shape
    length, blocks = spec.block_length, spec.range_blocks
    offset = count % length
    columns = np.concatenate([open_block[:, None, :], quantities], axis=1)
    block = (offset[:, None] - 1 + np.arange(width + 1)[None, :]) // length
    scan = _segmented_scan(extreme, columns, block)
    same_block = (block[:, 1:] == block[:, :-1])[:, :, None]
    before_in_block = np.where(same_block, scan[:, :-1], np.nan)

    # Completed blocks, oldest first: the remembered ones, then those the batch completes
    # (a block's extreme sits in the column of its last point; only read once complete).
    n_blocks = int(((offset + max(width, 1) - 1) // length).max(initial=0)) + 1
    block_end = np.arange(n_blocks)[None, :] * length + length - offset[:, None]
    completed_here = np.take_along_axis(scan, np.clip(block_end, 0, width)[:, :, None], axis=1)
    history = np.concatenate([closed.transpose(0, 2, 1), completed_here], axis=1)
    closed_before = np.stack(
        [extreme.reduce(history[:, j : j + blocks], axis=1) for j in range(n_blocks)], axis=1
    )
    before = extreme(np.take_along_axis(closed_before, block[:, 1:, None], axis=1), before_in_block)

    completed = (offset + n_new) // length
    kept = (completed[:, None] + np.arange(blocks)[None, :])[:, :, None]
    new_closed = np.take_along_axis(history, kept, axis=1).transpose(0, 2, 1)
    starts_new_block = ((offset + n_new) % length == 0) & (n_new > 0)
    new_open = np.where(starts_new_block[:, None], np.nan, scan[np.arange(n_series), n_new])
    return before, new_closed, new_open


def _segmented_scan(extreme, columns: np.ndarray, segment: np.ndarray) -> np.ndarray:
    """Inclusive running extreme along axis 1 that restarts where `segment` changes."""
    scan = columns.copy()
    step = 1
    while step < scan.shape[1]:
        same = (segment[:, step:] == segment[:, :-step])[:, :, None]
        combined = np.where(same, extreme(scan[:, step:], scan[:, :-step]), scan[:, step:])
        scan[:, step:] = combined
        step *= 2
    return scan


def _excess(quantities: np.ndarray, high: np.ndarray, low: np.ndarray) -> np.ndarray:
    """How far each quantity lies outside [low, high], in units of the span (0 if no range yet)."""
    span = high - low
    slack = _RELATIVE_SLACK * np.maximum(np.abs(high), np.abs(low)) + _ABSOLUTE_SLACK
    outside = np.maximum(np.maximum(quantities - high, low - quantities), 0.0)
    with np.errstate(invalid="ignore", over="ignore"):
        excess = outside / (span + slack)
    return np.nan_to_num(excess, nan=0.0, posinf=np.finfo(np.float32).max)


def _next_states(
    states: StateBatch,
    extended: np.ndarray,
    n_new: np.ndarray,
    last_timestamp: np.ndarray,
    ranges: _Ranges,
    spec: FeatureSpec,
) -> StateBatch:
    """Each series' state after its accepted points."""
    # Row i keeps the history_length samples that end at its last accepted one.
    if len(n_new) and np.all(n_new == n_new[0]):
        recent = extended[:, n_new[0] : n_new[0] + spec.history_length]  # the usual case: a view
    else:
        windows = sliding_window_view(extended, spec.history_length, axis=1)
        recent = windows[np.arange(len(states)), n_new]
    return StateBatch(
        fingerprint=states.fingerprint,
        count=states.count + n_new,
        last_timestamp=last_timestamp,
        recent=recent,
        high=np.concatenate([ranges.closed_high, ranges.open_high[:, :, None]], axis=2),
        low=np.concatenate([ranges.closed_low, ranges.open_low[:, :, None]], axis=2),
    )
