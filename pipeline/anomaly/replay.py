"""Replaying recorded series through a detector the way production streams them: in chunks."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from pipeline.anomaly.detector import SeriesPoints, StreamingDetector

# Points per series per detector call: the replay streams like production, in batches.
REPLAY_CHUNK = 1024


def seconds(timestamps: pd.DatetimeIndex) -> np.ndarray:
    """Seconds since the epoch as float64, whatever the index's resolution (pandas 3: us)."""
    return np.asarray(timestamps, dtype="datetime64[ns]").astype(np.int64) / 1e9


@dataclass(frozen=True, eq=False)
class Timed:
    seconds: np.ndarray
    values: np.ndarray


def replay_series(files: Sequence, detector: StreamingDetector) -> list[np.ndarray]:
    """Scores of series with `.seconds` and `.values`, streamed chunk by chunk, all per call."""
    states = [detector.new_state() for _ in files]
    scores: list[list[np.ndarray]] = [[] for _ in files]
    longest = max((len(f.values) for f in files), default=0)
    for start in range(0, longest, REPLAY_CHUNK):
        batch = [
            SeriesPoints(
                state,
                f.seconds[start : start + REPLAY_CHUNK],
                f.values[start : start + REPLAY_CHUNK],
            )
            for state, f in zip(states, files)
        ]
        results = detector.score_points(batch)
        states = [r.state for r in results]
        for collected, result in zip(scores, results):
            collected.append(result.scores)
    return [np.concatenate(parts) if parts else np.empty(0) for parts in scores]
