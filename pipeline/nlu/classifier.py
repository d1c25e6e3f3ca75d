"""The learned half of the recogniser: TF-IDF word and character n-grams, logistic regression.

Trained on the synthetic corpus plus the masked lines of the independent development sets
(`examples.py`); it sees only masked text, so it is the same model whatever the service catalog.
Training needs scikit-learn (seconds of import, ~100 MB); scoring needs numpy only, so a process
can score with weights trained elsewhere (`IntentClassifier.from_arrays`; the chat worker loads
them from a file, adapters/nlu_model.py) and never import scikit-learn or SciPy. Features are
computed here rather than by sklearn's vectorisers: for one short line their per-call overhead
is milliseconds, a dictionary lookup per n-gram is microseconds.
"""

from __future__ import annotations

import math
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from itertools import pairwise
from typing import TYPE_CHECKING, Protocol

import numpy as np

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

    def __init__(self, grams: list[str], idf: np.ndarray) -> None:
        self.index = {gram: position for position, gram in enumerate(grams)}
        self.idf = idf

    @classmethod
    def fit(cls, documents: list[Counter[str]]) -> FeatureSpace:
        """The n-grams found in at least two documents, with their idf."""
        frequency: Counter[str] = Counter()
        for document in documents:
            frequency.update(document.keys())
        kept = [gram for gram, count in frequency.items() if count >= _MIN_DOCUMENT_FREQUENCY]
        total = len(documents)
        return cls(kept, np.array([math.log((1 + total) / (1 + frequency[g])) + 1 for g in kept]))

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
    """Intent from masked text; `predict` costs tens of microseconds and needs numpy only."""

    def __init__(self, space: FeatureSpace, classes: list[str], weights: np.ndarray, bias: np.ndarray) -> None:
        self._space = space
        self._classes = classes
        self._weights = np.ascontiguousarray(weights)  # (features, classes)
        self._bias = np.asarray(bias)

    @classmethod
    def train(cls, texts: list[str], intents: list[str], weights: list[float] | None = None) -> IntentClassifier:
        """Fit TF-IDF and the logistic regression (imports scikit-learn and SciPy)."""
        documents = [ngrams(text) for text in texts]
        space = FeatureSpace.fit(documents)
        from sklearn.linear_model import LogisticRegression

        # saga converges in well under a second here; lbfgs needs ten times longer.
        model = LogisticRegression(C=_REGULARISATION_C, solver="saga", max_iter=300, tol=1e-3,
                                   random_state=0)
        model.fit(space.matrix(documents), intents, sample_weight=weights)
        return cls(space, [str(label) for label in model.classes_], model.coef_.T, model.intercept_)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything `predict` uses, as plain arrays (no pickle): `from_arrays` rebuilds it exactly."""
        return {"grams": np.array(list(self._space.index), dtype=str), "idf": self._space.idf,
                "classes": np.array(self._classes, dtype=str), "weights": self._weights, "bias": self._bias}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> IntentClassifier:
        """The classifier `to_arrays` described (its predictions are the same to the bit)."""
        space = FeatureSpace([str(gram) for gram in arrays["grams"]], np.asarray(arrays["idf"], dtype=float))
        return cls(space, [str(label) for label in arrays["classes"]], np.asarray(arrays["weights"], dtype=float),
                   np.asarray(arrays["bias"], dtype=float))

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


def training_set() -> list[tuple[str, str]]:
    """(masked text, intent): the synthetic corpus, then the development sets' masked lines."""
    from pipeline.nlu.corpus import training_examples  # a large literal: loaded to train only
    from pipeline.nlu.development_examples import DEVELOPMENT_EXAMPLES

    return list(training_examples()) + list(DEVELOPMENT_EXAMPLES)


def train_shipped() -> IntentClassifier:
    """The classifier every process answers with, trained here and now (scikit-learn)."""
    examples = training_set()
    return IntentClassifier.train([text for text, _ in examples], [intent for _, intent in examples])


_loader: Callable[[], IntentClassifier] = train_shipped
_model: IntentClassifier | None = None


def load_with(loader: Callable[[], IntentClassifier]) -> None:
    """Where this process's classifier comes from on first use (default: trained in process)."""
    global _loader, _model
    with _LOCK:
        _loader, _model = loader, None


def intent_classifier() -> IntentClassifier:
    """The process-wide classifier, loaded (or trained) on first use."""
    global _model
    with _LOCK:
        if _model is None:
            _model = _loader()
        return _model
