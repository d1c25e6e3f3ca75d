"""Training: history files in, a fitted IsolationForest with its spec and threshold out."""

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sklearn.ensemble import IsolationForest

from pipeline.anomaly.calibration import Calibration
from pipeline.anomaly.detector import StreamingDetector
from pipeline.anomaly.features import featurize_batch
from pipeline.anomaly.scorers import ForestScorer, Scorer
from pipeline.anomaly.spec import FeatureSpec
from pipeline.anomaly.state import StateBatch
from pipeline.anomaly.synthetic import synthetic_corpus
from pipeline.anomaly.novelty import NoveltyDetector, NoveltySpec
from pipeline.errors import InvalidInput
from pipeline.nab import scoring
from pipeline.nab.profiles import STANDARD

# Without labels the threshold is the score only this share of training points reaches:
# at five-minute samples, about one alert per series every three to four days.
UNLABELLED_ALERT_RATE = 0.001
# Rows kept to fit the forest: plenty for 256-sample trees, bounded fitting time.
MAX_TRAINING_ROWS = 200_000
# Part of every model version: bumped when the fitting procedure itself changes.
TRAINING_METHOD = "forest-on-evidence-rows/1"


@dataclass(frozen=True)
class ForestSettings:
    """The forest's few hyper-parameters (scikit-learn defaults apart from the seed)."""

    n_estimators: int = 100
    max_samples: int = 256
    random_state: int = 0


DEFAULT_SETTINGS = ForestSettings()
DEFAULT_SPEC = FeatureSpec()
DEFAULT_CALIBRATION = Calibration()


@dataclass(frozen=True, eq=False)
class TrainingSeries:
    """One history: timestamps in seconds, values, and NAB windows as row spans when labelled."""

    key: str
    timestamps: np.ndarray
    values: np.ndarray
    windows: list[scoring.Window] | None = None


@dataclass(frozen=True, eq=False)
class TrainedModel:
    """Everything a detector needs, plus where it came from."""

    forest: IsolationForest
    spec: FeatureSpec
    calibration: Calibration
    forest_settings: ForestSettings
    threshold: float
    threshold_source: str
    model_version: str
    training_fingerprint: str
    training_summary: dict = field(default_factory=dict)

    def detector(self, scorer: Scorer | None = None) -> StreamingDetector:
        """A streaming detector on this model (scikit-learn scoring unless a scorer is given)."""
        return StreamingDetector(
            self.spec,
            scorer or ForestScorer(self.forest),
            self.calibration,
            self.threshold,
            self.model_version,
        )


def fit(
    series: Sequence[TrainingSeries],
    *,
    spec: FeatureSpec = DEFAULT_SPEC,
    calibration: Calibration = DEFAULT_CALIBRATION,
    settings: ForestSettings = DEFAULT_SETTINGS,
) -> TrainedModel:
    """Fit the forest on the series' streaming features and choose the alert threshold."""
    features, ready, bounds = _features(series, spec)
    # Rows without evidence score 0 whatever the forest says, so the forest learns from the
    # rows it will judge: what ordinary novelty looks like (all rows if history has none).
    judged = ready & calibration.has_evidence(features)
    fitted = judged if judged.any() else ready
    forest = _fit_forest(features[fitted], settings)
    scores = calibration.combine(forest.score_samples(features), features)
    threshold, source = _threshold(series, scores, bounds)
    fingerprint = training_fingerprint(series)
    return TrainedModel(
        forest=forest,
        spec=spec,
        calibration=calibration,
        forest_settings=settings,
        threshold=threshold,
        threshold_source=source,
        model_version=_model_version(spec, calibration, settings, fingerprint),
        training_fingerprint=fingerprint,
        training_summary={
            "series": len(series),
            "points": len(features),
            "fitted_rows": int(min(fitted.sum(), MAX_TRAINING_ROWS)),
            "keys": [s.key for s in series],
        },
    )


def _features(
    series: Sequence[TrainingSeries], spec: FeatureSpec
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All series featurized from fresh states; rows past each series' warm-up are `ready`."""
    result = featurize_batch(
        StateBatch.fresh(len(series), spec),
        [s.values for s in series],
        [s.timestamps for s in series],
        spec,
    )
    lengths = [len(s.values) for s in series]
    position = np.concatenate([np.arange(n) for n in lengths])
    # Before every quantity has a warmed-up range the features are structurally zero.
    ready = result.accepted & (position >= spec.history_length + spec.warmup)
    return result.features, ready, np.cumsum([0] + lengths)


def _fit_forest(rows: np.ndarray, settings: ForestSettings) -> IsolationForest:
    if len(rows) == 0:
        raise InvalidInput("training series are too short to warm up the features")
    rng = np.random.default_rng(settings.random_state)
    if len(rows) > MAX_TRAINING_ROWS:
        rows = rows[np.sort(rng.choice(len(rows), MAX_TRAINING_ROWS, replace=False))]
    forest = IsolationForest(
        n_estimators=settings.n_estimators,
        max_samples=min(settings.max_samples, len(rows)),
        random_state=settings.random_state,
    )
    return forest.fit(rows)


def _threshold(
    series: Sequence[TrainingSeries], scores: np.ndarray, bounds: np.ndarray
) -> tuple[float, str]:
    """NAB's standard-profile optimum when windows are known, else a fixed alert rate."""
    labelled = [
        (s, scores[a:b])
        for s, a, b in zip(series, bounds[:-1], bounds[1:])
        if s.windows is not None
    ]
    if any(s.windows for s, _ in labelled):
        files = [
            scoring.prepare_file(s.key, file_scores, s.windows, STANDARD)
            for s, file_scores in labelled
        ]
        return scoring.best_threshold(files, STANDARD).threshold, "nab_standard_sweep"
    return float(
        np.quantile(scores, 1.0 - UNLABELLED_ALERT_RATE)
    ), f"score_quantile_{1 - UNLABELLED_ALERT_RATE}"


def generated_series(n_series: int, seed: int) -> list[TrainingSeries]:
    generated = synthetic_corpus(n_series, length=4032, seed=seed)
    return [TrainingSeries(g.name, g.timestamps, g.values) for g in generated]


def training_fingerprint(series: Sequence[TrainingSeries]) -> str:
    """sha256 over every series' key, timestamps and values, in order."""
    digest = hashlib.sha256()
    for s in series:
        digest.update(s.key.encode())
        digest.update(np.ascontiguousarray(s.timestamps, dtype="<f8").tobytes())
        digest.update(np.ascontiguousarray(s.values, dtype="<f8").tobytes())
    return digest.hexdigest()


def _model_version(
    spec: FeatureSpec, calibration: Calibration, settings: ForestSettings, fingerprint: str
) -> str:
    identity = (
        f"{TRAINING_METHOD}|{spec.to_dict()}|{calibration.to_dict()}|{settings}|{fingerprint}"
    )
    return "iforest-" + hashlib.sha256(identity.encode()).hexdigest()[:12]


# The novelty detector (pipeline.anomaly.novelty): nothing to fit but the threshold.
NOVELTY_METHOD = "novelty/1"
# Without labels: the score that this many alerts per series per day reach in training.
UNLABELLED_ALERTS_PER_DAY = 0.2


@dataclass(frozen=True, eq=False)
class NoveltyModel:
    """The novelty detector's spec and threshold, plus where the threshold came from."""

    spec: NoveltySpec
    threshold: float
    threshold_source: str
    model_version: str
    training_fingerprint: str
    training_summary: dict = field(default_factory=dict)

    def detector(self) -> NoveltyDetector:
        return NoveltyDetector(self.spec, self.threshold, self.model_version)

    def sidecar(self) -> dict:
        """The JSON description the worker loads (no ONNX file: there is no model to run)."""
        return {
            "format": 1,
            "kind": "novelty",
            "model_version": self.model_version,
            "feature_spec": self.spec.to_dict(),
            "calibration": {},
            "threshold": self.threshold,
            "threshold_source": self.threshold_source,
            "training": {"fingerprint": self.training_fingerprint, **self.training_summary},
        }


def fit_novelty(
    series: Sequence[TrainingSeries],
    *,
    spec: NoveltySpec = NoveltySpec(),
    alerts_per_day: float = UNLABELLED_ALERTS_PER_DAY,
) -> NoveltyModel:
    """Replay the history through the detector and choose its threshold.

    With NAB windows: the standard profile's optimum over the labelled series. Without:
    the score reached by `alerts_per_day` alerts per series per day of history.
    """
    if not series:
        raise InvalidInput("no training series")
    scores = _replay(series, NoveltyDetector(spec, 1.0, "unfitted"))
    labelled = [(s, sc) for s, sc in zip(series, scores) if s.windows is not None]
    if any(s.windows for s, _ in labelled):
        files = [scoring.prepare_file(s.key, sc, s.windows, STANDARD) for s, sc in labelled]
        threshold, source = scoring.best_threshold(files, STANDARD).threshold, "nab_standard_sweep"
    else:
        threshold = _alert_rate_threshold(series, scores, alerts_per_day)
        source = f"alerts_per_series_day_{alerts_per_day}"
    fingerprint = training_fingerprint(series)
    identity = f"{NOVELTY_METHOD}|{spec.to_dict()}|{threshold!r}|{fingerprint}"
    return NoveltyModel(
        spec=spec,
        threshold=threshold,
        threshold_source=source,
        model_version="novelty-" + hashlib.sha256(identity.encode()).hexdigest()[:12],
        training_fingerprint=fingerprint,
        training_summary={
            "series": len(series),
            "points": int(sum(len(s.values) for s in series)),
            "keys": [s.key for s in series],
        },
    )


def _replay(series: Sequence[TrainingSeries], detector: NoveltyDetector) -> list[np.ndarray]:
    result = detector.score_encoded(
        [None] * len(series), [s.timestamps for s in series], [s.values for s in series]
    )
    return result.scores


def _alert_rate_threshold(
    series: Sequence[TrainingSeries], scores: list[np.ndarray], alerts_per_day: float
) -> float:
    days = sum(float(np.ptp(s.timestamps)) / 86400.0 for s in series if len(s.timestamps))
    allowed = int(alerts_per_day * days)
    ranked = np.sort(np.concatenate(scores))[::-1]
    ranked = ranked[ranked > 0]
    if allowed >= len(ranked):
        return float(ranked[-1]) if len(ranked) else 1.0
    # Half way between the last allowed alert and the first refused one.
    return float((ranked[allowed - 1] + ranked[allowed]) / 2) if allowed else float(ranked[0]) + 1e-9


