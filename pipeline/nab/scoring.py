"""NAB scoring, implemented from NAB's published method (Lavin & Ahmad 2015; NAB v1.1).

Every row after the probationary period gets a weight. Inside an anomaly window the
weight is a scaled sigmoid of the row's position relative to the window's right edge, so
an early detection is worth almost a full true positive and a late one almost nothing.
Outside a window a detection costs the false-positive weight, less so just after a window
(the sigmoid continues past the right edge). A window counts once, with its best (the
earliest) detection, or costs the miss weight when nothing in it is detected. A detection
is a row whose anomaly score is at or above the threshold; the threshold is swept over all
distinct scores of the corpus and the best total per profile is kept.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.nab.profiles import PROBATIONARY_CAP_ROWS, PROBATIONARY_PERCENT, CostProfile

# The sweep starts above every possible score: no detection at all.
NO_DETECTION_THRESHOLD = 1.1
# Positions further than this past a window count as a plain false positive.
FAR_PAST_WINDOW = 3.0


@dataclass(frozen=True)
class Window:
    """An inclusive anomaly window as row indices of its file."""

    start: int
    end: int

    @property
    def width(self) -> int:
        return self.end - self.start + 1


@dataclass(frozen=True)
class FileSweep:
    """The scorable rows of one file: anomaly score, NAB weight and window id (-1 outside)."""

    name: str
    anomaly_scores: np.ndarray
    weights: np.ndarray
    window_ids: np.ndarray
    n_windows: int


@dataclass(frozen=True)
class FileScore:
    """NAB score of one file at one threshold, with row counts like NAB's score tables."""

    name: str
    threshold: float
    score: float
    tp: int
    tn: int
    fp: int
    fn: int

    @property
    def total(self) -> int:
        return self.tp + self.tn + self.fp + self.fn


@dataclass(frozen=True)
class ThresholdChoice:
    """The corpus-wide threshold a sweep found and the raw total score it gives."""

    threshold: float
    score: float


def probationary_length(n_rows: int) -> int:
    """Rows at the start of a file that NAB does not score."""
    return int(
        min(np.floor(PROBATIONARY_PERCENT * n_rows), PROBATIONARY_PERCENT * PROBATIONARY_CAP_ROWS)
    )


def scaled_sigmoid(position: np.ndarray) -> np.ndarray:
    """NAB's 2*sigmoid(-5x)-1: ~1 at a window's left edge (-1), 0 at its right edge, -1 past it."""
    position = np.asarray(position, dtype=np.float64)
    value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position > FAR_PAST_WINDOW, -1.0, value)


def row_weights(
    n_rows: int, windows: Sequence[Window], profile: CostProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Weight and window id (-1 outside windows) of every row of a file."""
    rows = np.arange(n_rows)
    weights = np.full(n_rows, -profile.fp_weight)
    window_ids = np.full(n_rows, -1, dtype=np.int64)
    max_tp = float(scaled_sigmoid(np.array(-1.0)))
    for window_id, window in enumerate(windows):
        inside = rows[window.start : window.end + 1]
        position = -(window.end - inside + 1) / window.width
        weights[inside] = scaled_sigmoid(position) * profile.tp_weight / max_tp
        window_ids[inside] = window_id
        after = rows[window.end + 1 : _next_start(windows, window_id, n_rows)]
        # A window one row wide has no room to scale by; NAB divides by zero there.
        past = (after - window.end) / max(window.width - 1, 1)
        weights[after] = scaled_sigmoid(past) * profile.fp_weight
    return weights, window_ids


def _next_start(windows: Sequence[Window], window_id: int, n_rows: int) -> int:
    return windows[window_id + 1].start if window_id + 1 < len(windows) else n_rows


def prepare_file(
    name: str, anomaly_scores: np.ndarray, windows: Sequence[Window], profile: CostProfile
) -> FileSweep:
    """Weigh a file's rows for a profile and drop its probationary rows."""
    anomaly_scores = np.asarray(anomaly_scores, dtype=np.float64)
    weights, window_ids = row_weights(len(anomaly_scores), windows, profile)
    first = probationary_length(len(anomaly_scores))
    scorable_ids = window_ids[first:]
    # Number the windows that kept scorable rows densely, so corpus ids can be offsets.
    present, dense = np.unique(scorable_ids, return_inverse=True)
    has_outside = len(present) > 0 and present[0] < 0
    dense_ids = np.where(scorable_ids >= 0, dense - int(has_outside), -1)
    return FileSweep(
        name=name,
        anomaly_scores=anomaly_scores[first:],
        weights=weights[first:],
        window_ids=dense_ids,
        n_windows=int((present >= 0).sum()),
    )


def sweep_thresholds(
    files: Sequence[FileSweep], profile: CostProfile
) -> tuple[np.ndarray, np.ndarray]:
    """Raw corpus score at every distinct threshold, thresholds in decreasing order."""
    scores, weights, window_ids = _concatenate(files)
    order = np.argsort(-scores, kind="stable")
    scores, weights, window_ids = scores[order], weights[order], window_ids[order]
    gains = np.where(window_ids < 0, weights, 0.0)
    in_window = window_ids >= 0
    gains[in_window] = _window_gains(weights[in_window], window_ids[in_window], profile)
    missed_all = -profile.fn_weight * sum(f.n_windows for f in files)
    totals = missed_all + np.cumsum(gains)
    # The score of a threshold includes every row scoring at or above it.
    last_of_level = np.flatnonzero(np.append(scores[1:] != scores[:-1], True))
    thresholds = np.concatenate(([NO_DETECTION_THRESHOLD], scores[last_of_level]))
    return thresholds, np.concatenate(([missed_all], totals[last_of_level]))


def _concatenate(files: Sequence[FileSweep]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One array per field over the corpus, window ids made unique across files."""
    offsets = np.cumsum([0] + [f.n_windows for f in files])
    ids = [
        np.where(f.window_ids >= 0, f.window_ids + offset, -1) for f, offset in zip(files, offsets)
    ]
    return (
        np.concatenate([f.anomaly_scores for f in files] or [np.empty(0)]),
        np.concatenate([f.weights for f in files] or [np.empty(0)]),
        np.concatenate(ids or [np.empty(0, dtype=np.int64)]),
    )


def _window_gains(weights: np.ndarray, window_ids: np.ndarray, profile: CostProfile) -> np.ndarray:
    """How much each detection (in sweep order) raises its window's best weight."""
    best_so_far = pd.Series(weights).groupby(window_ids).cummax().to_numpy()
    previous = pd.Series(best_so_far).groupby(window_ids).shift(1).to_numpy()
    # The first detection of a window turns a miss (-fn) into its weight.
    previous = np.where(np.isnan(previous), -profile.fn_weight, previous)
    return best_so_far - previous


def best_threshold(files: Sequence[FileSweep], profile: CostProfile) -> ThresholdChoice:
    """The threshold with the highest raw corpus score (the highest such threshold on ties)."""
    thresholds, totals = sweep_thresholds(files, profile)
    best = int(np.argmax(totals))
    return ThresholdChoice(threshold=float(thresholds[best]), score=float(totals[best]))


def score_file(file: FileSweep, threshold: float, profile: CostProfile) -> FileScore:
    """NAB score and row counts of one file when rows at or above threshold are detections."""
    detected = file.anomaly_scores >= threshold
    in_window = file.window_ids >= 0
    score = float(file.weights[detected & ~in_window].sum())
    for window_id in np.unique(file.window_ids[in_window]):
        hits = file.weights[detected & (file.window_ids == window_id)]
        score += float(hits.max()) if len(hits) else -profile.fn_weight
    return FileScore(
        name=file.name,
        threshold=threshold,
        score=score,
        tp=int((detected & in_window).sum()),
        tn=int((~detected & ~in_window).sum()),
        fp=int((detected & ~in_window).sum()),
        fn=int((~detected & in_window).sum()),
    )


def normalised_score(raw_score: float, n_windows: int, profile: CostProfile) -> float:
    """NAB's 100*(S - S_null)/(S_perfect - S_null): 0 is the null detector, 100 is perfect."""
    null = -profile.fn_weight * n_windows
    perfect = profile.tp_weight * n_windows
    if perfect == null:
        return 0.0
    return 100.0 * (raw_score - null) / (perfect - null)
