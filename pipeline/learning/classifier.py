"""Learner (b): a gradient-boosted classifier of "this action fixes this incident".

One model for every action: the action is a feature, so what it learns about memory
anomalies and restarts transfers across alert names. It ranks an incident's allowed actions
by predicted probability of a fix. It is used only when its choices fixed more than the
playbook's and learner (a)'s on the later training weeks (see `evaluation.choose`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from pipeline.errors import InvalidInput
from pipeline.learning.features import FeatureSpace, IncidentContext

if TYPE_CHECKING:  # scikit-learn is imported to fit, never to score from the ONNX export
    from sklearn.ensemble import GradientBoostingClassifier


# Scores a batch of float32 feature rows to P(fixed): scikit-learn in training, the
# exported ONNX graph through onnxruntime in production (adapters.onnx_scorer).
RowScorer = Callable[[np.ndarray], np.ndarray]


class OutcomeClassifier:
    """P(fixed | incident context, action), fitted on past runs."""

    def __init__(
        self,
        space: FeatureSpace,
        model: GradientBoostingClassifier | None,
        scorer: RowScorer | None = None,
    ) -> None:
        """`model` may be None when only its ONNX export is at hand (loaded from disk): then
        `scorer` scores, and the classifier cannot be exported again."""
        if model is None and scorer is None:
            raise InvalidInput("an outcome classifier needs its model or a scorer")
        self.space = space
        self.model = model
        self._scorer = scorer or (lambda rows: model.predict_proba(rows)[:, 1])

    def with_scorer(self, scorer: RowScorer) -> OutcomeClassifier:
        """The same model scored another way (its ONNX export), for the production path."""
        return OutcomeClassifier(self.space, self.model, scorer)

    def to_onnx(self) -> bytes:
        """The fitted model as ONNX: float32 rows in, a (N, 2) probability tensor out."""
        from skl2onnx import to_onnx

        if self.model is None:
            raise InvalidInput("this classifier was loaded from its ONNX export: nothing to export")
        rows = np.zeros((1, self.space.width), dtype=np.float32)
        onnx = to_onnx(self.model, rows, options={id(self.model): {"zipmap": False}},
                       target_opset={"": 17, "ai.onnx.ml": 3})
        return onnx.SerializeToString()

    @classmethod
    def fit(
        cls,
        contexts: Sequence[IncidentContext],
        actions: Sequence[str],
        fixed: Sequence[bool],
        failed_before: Sequence[Sequence[str]] | None = None,
        *,
        seed: int = 0,
    ) -> OutcomeClassifier:
        labels = np.asarray(fixed, dtype=np.int64)
        if len(set(labels.tolist())) < 2:
            raise InvalidInput("the classifier needs both fixed and unfixed runs to learn from")
        from sklearn.ensemble import GradientBoostingClassifier

        space = FeatureSpace.of(contexts, actions)
        model = GradientBoostingClassifier(
            n_estimators=150, max_depth=3, learning_rate=0.05, subsample=0.8, random_state=seed
        )
        model.fit(space.rows(contexts, actions, failed_before), labels)
        return cls(space, model)

    def probabilities(
        self,
        contexts: Sequence[IncidentContext],
        actions: Sequence[str],
        failed_before: Sequence[Sequence[str]] | None = None,
    ) -> np.ndarray:
        """P(fixed) for each (context, action) pair, in one batch (optionally knowing what failed)."""
        if not len(contexts):
            return np.empty(0)
        return np.asarray(self._scorer(self.space.rows(contexts, actions, failed_before)), dtype=np.float64)

    def rank(self, context: IncidentContext, actions: Sequence[str]) -> list[tuple[str, float]]:
        """The allowed actions, most likely to fix first."""
        p = self.probabilities([context] * len(actions), list(actions))
        return sorted(zip(actions, p.tolist()), key=lambda pair: -pair[1])
