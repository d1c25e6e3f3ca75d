"""Cross-validated NAB evaluation: everything fitted on some files, scored on the others.

A fold holds out one category (or one file); the fit callable sees only the fold's training
files (values, timestamps and labels) and returns a detector whose threshold is the one it
would ship with. The held-out files are then replayed through that detector, which never
sees their labels, and scored by NAB at thresholds chosen on the training files alone:
the standard profile at the detector's own threshold, the two other profiles at the
thresholds their sweeps pick on the training files' scores.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.detector import StreamingDetector
from pipeline.nab import scoring
from pipeline.anomaly.replay import replay_series
from pipeline.nab.profiles import PROFILES, STANDARD, CostProfile
from pipeline.errors import InvalidInput

SPLITS = ("category", "file")


@dataclass(frozen=True, eq=False)
class LabelledFile:
    """One corpus file: key, timestamps (seconds), values, windows (rows) and label rows."""

    key: str
    seconds: np.ndarray
    values: np.ndarray
    windows: list[scoring.Window]
    label_rows: list[int]

    @property
    def category(self) -> str:
        return self.key.split("/")[0]


@dataclass(frozen=True)
class Fold:
    """Which files a fold fits on and which it scores."""

    name: str
    train: tuple[str, ...]
    test: tuple[str, ...]


@dataclass(frozen=True)
class FoldResult:
    """Raw NAB totals of a fold's held-out files per profile, and its thresholds."""

    name: str
    n_windows: int
    raw: dict[str, float]
    thresholds: dict[str, float]
    lead_minutes: tuple[float, ...]

    def normalised(self, profile: CostProfile) -> float:
        return scoring.normalised_score(self.raw[profile.name], self.n_windows, profile)


@dataclass(frozen=True)
class CrossValidation:
    """Every fold's result; the headline is the sum over folds, normalised once."""

    folds: tuple[FoldResult, ...]

    @property
    def n_windows(self) -> int:
        return sum(f.n_windows for f in self.folds)

    def normalised(self, profile: CostProfile) -> float:
        """NAB score of all held-out files together (each scored by a model that never saw it)."""
        raw = sum(f.raw[profile.name] for f in self.folds)
        return scoring.normalised_score(raw, self.n_windows, profile)

    def lead_minutes(self) -> np.ndarray:
        """Per detected window: minutes from the first detection to the labelled point."""
        return np.array([m for f in self.folds for m in f.lead_minutes], dtype=np.float64)


FitDetector = Callable[[Sequence[LabelledFile]], StreamingDetector]


def folds(keys: Sequence[str], by: str) -> list[Fold]:
    """Leave-one-category-out or leave-one-file-out folds over the corpus keys."""
    if by not in SPLITS:
        raise InvalidInput(f"cross-validation splits by one of {SPLITS}, not {by!r}")
    group = (lambda key: key.split("/")[0]) if by == "category" else (lambda key: key)
    names = sorted({group(key) for key in keys})
    if len(names) < 2:
        raise InvalidInput(f"cross-validation by {by} needs at least two {by}s")
    return [
        Fold(
            name,
            tuple(k for k in keys if group(k) != name),
            tuple(k for k in keys if group(k) == name),
        )
        for name in names
    ]


def cross_validate(
    files: Sequence[LabelledFile], fit: FitDetector, by: str = "category"
) -> CrossValidation:
    """Fit on each fold's training files, score its held-out files (see module docstring)."""
    by_key = {f.key: f for f in files}
    results = []
    for fold in folds(list(by_key), by):
        train = [by_key[k] for k in fold.train]
        test = [by_key[k] for k in fold.test]
        results.append(evaluate_fold(fold.name, fit(train), train, test))
    return CrossValidation(tuple(results))


def in_sample(files: Sequence[LabelledFile], fit: FitDetector) -> FoldResult:
    """Fitted and scored on the same files: the optimistic figure, for comparison only."""
    return evaluate_fold("in-sample", fit(files), files, files)


def evaluate_fold(
    name: str,
    detector: StreamingDetector,
    train: Sequence[LabelledFile],
    test: Sequence[LabelledFile],
) -> FoldResult:
    """Score `test` at thresholds that depend on `train` only."""
    train_scores = replay_series(train, detector)
    test_scores = replay_series(test, detector)
    thresholds = {STANDARD.name: detector.threshold}
    for profile in PROFILES:
        if profile.name not in thresholds:
            sweeps = [
                scoring.prepare_file(f.key, s, f.windows, profile)
                for f, s in zip(train, train_scores)
            ]
            thresholds[profile.name] = scoring.best_threshold(sweeps, profile).threshold
    raw = {
        profile.name: sum(
            scoring.score_file(
                scoring.prepare_file(f.key, s, f.windows, profile),
                thresholds[profile.name],
                profile,
            ).score
            for f, s in zip(test, test_scores)
        )
        for profile in PROFILES
    }
    leads = [
        m
        for f, s in zip(test, test_scores)
        for m in lead_minutes(f, s >= thresholds[STANDARD.name])
    ]
    n_windows = sum(
        scoring.prepare_file(f.key, s, f.windows, STANDARD).n_windows
        for f, s in zip(test, test_scores)
    )
    return FoldResult(name, n_windows, raw, thresholds, tuple(leads))


def lead_minutes(file: LabelledFile, detected: np.ndarray) -> list[float]:
    """For each window with a scorable detection: labelled point time minus first detection time."""
    first_scored = scoring.probationary_length(len(file.values))
    leads = []
    for window in file.windows:
        rows = np.arange(max(window.start, first_scored), window.end + 1)
        hits = rows[detected[rows]]
        labels = [r for r in file.label_rows if window.start <= r <= window.end]
        if len(hits) and labels:
            label_time = file.seconds[min(labels)]  # merged windows: their first label
            leads.append(float(label_time - file.seconds[hits[0]]) / 60.0)
    return leads
