"""The learned half of the recogniser: TF-IDF word and character n-grams, logistic regression.

Trained at first use (about a second) on the synthetic corpus plus the masked lines of the
independent development sets (`examples.py`), and cached per process;
it sees only masked text, so it is the same model whatever the service catalog. Features
are computed here rather than by sklearn's vectorisers: for one short line their
per-call overhead is milliseconds, a dictionary lookup per n-gram is microseconds.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import Protocol

from typing import TYPE_CHECKING

import numpy as np

from pipeline.nlu.corpus import training_examples
from pipeline.nlu.development_examples import DEVELOPMENT_EXAMPLES

if TYPE_CHECKING:
    from scipy import sparse

_LOCK = threading.Lock()
# Multinomial logistic regression: the softmax of its scores is its probability estimate,
# which is what the ask-when-unsure threshold compares against.
_REGULARISATION_C = 8.0
_MIN_DOCUMENT_FREQUENCY = 2


@dataclass(frozen=True)
class Prediction:
    """The most likely intent and the model's confidence in it (0..1)."""

    intent: str
    confidence: float
    runner_up: str | None = None


class Classifier(Protocol):
    """Anything that guesses an intent from a masked line (the trained model, test doubles)."""

    def predict(self, masked: str) -> Prediction:
        """The most likely intent for one masked line, with a 0..1 confidence."""


@lru_cache(maxsize=8192)
def _char_grams(word: str) -> tuple[str, ...]:
    padded = f" {word} "
    return tuple(
        padded[i : i + n] for n in (2, 3, 4) for i in range(len(padded) - n + 1)
    )


def ngrams(masked: str) -> Counter[str]:
    """Word unigrams and bigrams plus character 2-4-grams within words, counted."""
    words = masked.split()
    grams: Counter[str] = Counter(words)
    grams.update(f"{a}|{b}" for a, b in pairwise(words))
    for word in words:
        grams.update(_char_grams(word))
    return grams


class FeatureSpace:
    """TF-IDF (sublinear tf, smooth idf, l2 norm) over the n-grams seen in training."""

    def __init__(self, documents: list[Counter[str]]) -> None:
        frequency: Counter[str] = Counter()
        for document in documents:
            frequency.update(document.keys())
        kept = [gram for gram, count in frequency.items() if count >= _MIN_DOCUMENT_FREQUENCY]
        self.index = {gram: position for position, gram in enumerate(kept)}
        total = len(documents)
        self.idf = np.array([math.log((1 + total) / (1 + frequency[g])) + 1 for g in kept])

    def vector(self, grams: Counter[str]) -> tuple[np.ndarray, np.ndarray]:
        """(column indices, l2-normalised tf-idf values) of one document."""
        pairs = [(self.index[g], c) for g, c in grams.items() if g in self.index]
        if not pairs:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        columns = np.fromiter((p[0] for p in pairs), dtype=np.int64, count=len(pairs))
        counts = np.fromiter((p[1] for p in pairs), dtype=float, count=len(pairs))
        values = (1.0 + np.log(counts)) * self.idf[columns]
        return columns, values / np.linalg.norm(values)

    def matrix(self, documents: list[Counter[str]]) -> sparse.csr_matrix:
        """The documents as rows of a sparse matrix (computed in bulk: training is timed)."""
        from scipy import sparse  # imported on first training, not when a process starts

        columns, counts, lengths = [], [], []
        for grams in documents:
            kept = [(self.index[g], c) for g, c in grams.items() if g in self.index]
            columns.extend(column for column, _ in kept)
            counts.extend(count for _, count in kept)
            lengths.append(len(kept))
        indices = np.array(columns, dtype=np.int64)
        values = (1.0 + np.log(np.array(counts, dtype=float))) * self.idf[indices]
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        starts = indptr[:-1][np.array(lengths) > 0]
        norms = np.sqrt(np.add.reduceat(values**2, starts))
        values /= np.repeat(norms, np.array(lengths)[np.array(lengths) > 0])
        return sparse.csr_matrix(
            (values, indices, indptr), shape=(len(documents), len(self.index))
        )


class IntentClassifier:
    """Intent from masked text; `predict` costs tens of microseconds."""

    def __init__(
        self, texts: list[str], intents: list[str], weights: list[float] | None = None
    ) -> None:
        documents = [ngrams(text) for text in texts]
        self._space = FeatureSpace(documents)
        # scikit-learn is seconds of import: pay it on first use only
        from sklearn.linear_model import LogisticRegression

        # saga converges in well under a second here; lbfgs needs ten times longer.
        model = LogisticRegression(C=_REGULARISATION_C, solver="saga", max_iter=300, tol=1e-3,
                                   random_state=0)
        model.fit(self._space.matrix(documents), intents, sample_weight=weights)
        self._classes = [str(label) for label in model.classes_]
        self._weights = np.ascontiguousarray(model.coef_.T)
        self._bias = np.asarray(model.intercept_)

    @property
    def intents(self) -> tuple[str, ...]:
        """The intents the model can answer."""
        return tuple(self._classes)

    def predict(self, masked: str) -> Prediction:
        """The most likely intent for one masked line, with a 0..1 confidence."""
        columns, values = self._space.vector(ngrams(masked))
        scores = values @ self._weights[columns] + self._bias
        exp = np.exp(scores - scores.max())
        confidences = exp / exp.sum()
        second, best = (int(i) for i in np.argsort(confidences)[-2:])
        return Prediction(
            self._classes[best], float(confidences[best]), self._classes[second]
        )


@lru_cache(maxsize=1)
def _trained() -> IntentClassifier:
    examples = list(training_examples()) + list(DEVELOPMENT_EXAMPLES)
    return IntentClassifier([text for text, _ in examples], [intent for _, intent in examples])


def intent_classifier() -> IntentClassifier:
    """The process-wide classifier, trained on first use."""
    with _LOCK:
        return _trained()
