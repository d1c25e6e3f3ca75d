"""The streaming detector: state + features + forest + calibration, one call per batch.

This is the single scoring path: the Celery task and the NAB evaluation both call
`StreamingDetector.score_points`.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.calibration import Calibration
from pipeline.anomaly.features import featurize
from pipeline.anomaly.scorers import Scorer
from pipeline.anomaly.spec import FeatureSpec
from pipeline.anomaly.state import SeriesState, load_state


@dataclass(frozen=True, eq=False)
class SeriesPoints:
    """New points of one series (timestamps in seconds, increasing) and its state before them."""

    state: SeriesState
    timestamps: np.ndarray
    values: np.ndarray


@dataclass(frozen=True, eq=False)
class SeriesScores:
    """One score in [0, 1] per input point (0 for ignored points) and the state after them."""

    state: SeriesState
    scores: np.ndarray
    accepted: np.ndarray


class StreamingDetector:
    """Scores points of many series causally; holds no per-series memory of its own."""

    def __init__(
        self,
        spec: FeatureSpec,
        scorer: Scorer,
        calibration: Calibration,
        threshold: float,
        model_version: str,
    ) -> None:
        self.spec = spec
        self.scorer = scorer
        self.calibration = calibration
        self.threshold = threshold
        self.model_version = model_version

    def new_state(self) -> SeriesState:
        """The state of a series never seen before."""
        return SeriesState.fresh(self.spec)

    def load_state(self, data: bytes | None) -> SeriesState:
        """Decode a stored state; absent, stale or corrupt bytes give a fresh state."""
        return load_state(data, self.spec)

    def score_points(self, batch: Sequence[SeriesPoints]) -> list[SeriesScores]:
        """Score every point of every series in the batch with one scorer call."""
        featurized = featurize(
            [item.state for item in batch],
            [item.values for item in batch],
            [item.timestamps for item in batch],
            self.spec,
        )
        scores = self.calibration.combine(self.scorer.score(featurized.features), featurized.features)
        scores = np.where(featurized.accepted, scores, 0.0)
        bounds = np.cumsum([0] + [len(item.values) for item in batch])
        return [
            SeriesScores(state, scores[start:end], featurized.accepted[start:end])
            for state, start, end in zip(featurized.states, bounds[:-1], bounds[1:])
        ]

    def is_anomalous(self, scores: np.ndarray) -> np.ndarray:
        """Which scores reach the model's threshold."""
        return np.asarray(scores) >= self.threshold
