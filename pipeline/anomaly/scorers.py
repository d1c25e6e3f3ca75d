"""Backends that turn feature rows into IsolationForest `score_samples` (lower: more anomalous)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import numpy as np

if TYPE_CHECKING:  # workers score with onnxruntime and never pay scikit-learn's import
    from sklearn.ensemble import IsolationForest


class Scorer(Protocol):
    """Anything that scores feature rows like `IsolationForest.score_samples`."""

    def score(self, features: np.ndarray) -> np.ndarray:
        """One score per row, in (-1, 0): about -0.5 for ordinary rows, towards -1 for outliers."""
        ...


class ForestScorer:
    """Scores with the scikit-learn forest itself (training, tests, no ONNX file at hand)."""

    def __init__(self, forest: IsolationForest) -> None:
        self._forest = forest

    def score(self, features: np.ndarray) -> np.ndarray:
        """score_samples of every row."""
        if len(features) == 0:
            return np.empty(0, dtype=np.float64)
        return self._forest.score_samples(np.asarray(features, dtype=np.float32))
