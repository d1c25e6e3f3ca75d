"""The streaming detector: state + features + forest + calibration, one scorer call per batch.

This is the single scoring path: the Celery task and the NAB evaluation both call it,
`score_encoded` with stored state bytes, `score_points` with state objects.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.calibration import Calibration
from pipeline.anomaly.features import Featurized, featurize_batch
from pipeline.anomaly.scorers import Scorer
from pipeline.anomaly.spec import FeatureSpec
from pipeline.anomaly.state import SeriesState, StateBatch, load_state


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


@dataclass(frozen=True, eq=False)
class EncodedScores:
    """Per series, in input order: the state to store, the points' scores and which counted."""

    states: list[bytes]
    scores: list[np.ndarray]
    accepted: list[np.ndarray]


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

    def score_encoded(
        self,
        states: Sequence[bytes | None],
        timestamps: Sequence[np.ndarray],
        values: Sequence[np.ndarray],
    ) -> EncodedScores:
        """Score a batch given each series' stored state bytes (None for a new series)."""
        featurized, scores = self._score(StateBatch.decode(states, self.spec), timestamps, values)
        bounds = _bounds(values)
        return EncodedScores(
            states=featurized.states.to_bytes(),
            scores=[scores[a:b] for a, b in bounds],
            accepted=[featurized.accepted[a:b] for a, b in bounds],
        )

    def score_points(self, batch: Sequence[SeriesPoints]) -> list[SeriesScores]:
        """Score every point of every series in the batch with one scorer call."""
        featurized, scores = self._score(
            StateBatch.from_states([item.state for item in batch]),
            [item.timestamps for item in batch],
            [item.values for item in batch],
        )
        return [
            SeriesScores(state, scores[a:b], featurized.accepted[a:b])
            for state, (a, b) in zip(
                featurized.states.to_states(), _bounds([item.values for item in batch])
            )
        ]

    def is_anomalous(self, scores: np.ndarray) -> np.ndarray:
        """Which scores reach the model's threshold."""
        return np.asarray(scores) >= self.threshold

    def _score(self, states: StateBatch, timestamps, values) -> tuple[Featurized, np.ndarray]:
        featurized = featurize_batch(states, values, timestamps, self.spec)
        scores = self.calibration.combine(
            self.scorer.score(featurized.features), featurized.features
        )
        return featurized, np.where(featurized.accepted, scores, 0.0)


def _bounds(values: Sequence[np.ndarray]) -> list[tuple[int, int]]:
    ends = np.cumsum([len(v) for v in values])
    return list(zip([0, *ends[:-1].tolist()], ends.tolist()))
