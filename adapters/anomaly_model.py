"""Model files: the scikit-learn forest (joblib), the ONNX graph and the JSON sidecar.

A model folder holds `forest.joblib`, `model.json` and, once exported, `model.onnx`.
Workers only need the sidecar and the ONNX file (`load_detector`); training and
re-export need the joblib artefact (`load`).
"""

import json
from dataclasses import asdict
from collections.abc import Sequence
from pathlib import Path

import joblib
import numpy as np
import sklearn

from pipeline.anomaly.calibration import Calibration
from adapters import nab_files
from pipeline.anomaly.onnx_forest import forest_to_onnx
from pipeline.anomaly.spec import FeatureSpec
from pipeline.anomaly.replay import seconds
from pipeline.anomaly.training import (
    DEFAULT_CALIBRATION,
    DEFAULT_SETTINGS,
    DEFAULT_SPEC,
    ForestSettings,
    NoveltyModel,
    TrainedModel,
    TrainingSeries,
    fit,
    generated_series,
)
from pipeline.errors import InvalidInput, NotFound
from pipeline.nab import corpus
from adapters.detector_files import (  # noqa: F401 - re-exported: the model file API in one place
    ONNX_FILE, SIDECAR_FILE, SIDECAR_FORMAT, default_model_dir, load_detector, read_sidecar,
)

FOREST_FILE = "forest.joblib"

def save(model: TrainedModel | NoveltyModel, out_dir: Path, *, with_onnx: bool = True) -> Path:
    """Write the forest, the sidecar and (by default) the ONNX graph into out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if isinstance(model, NoveltyModel):  # nothing but the sidecar: there is no model to run
        (out_dir / SIDECAR_FILE).write_text(json.dumps(model.sidecar(), indent=2) + "\n")
        return out_dir
    joblib.dump(model.forest, out_dir / FOREST_FILE, compress=3)
    (out_dir / SIDECAR_FILE).write_text(json.dumps(sidecar(model), indent=2, sort_keys=True) + "\n")
    if with_onnx:
        export_onnx(model, out_dir / ONNX_FILE)
    return out_dir


def sidecar(model: TrainedModel) -> dict:
    """The JSON description of a model: version, feature spec, threshold, training data."""
    return {
        "format": SIDECAR_FORMAT,
        "model_version": model.model_version,
        "feature_spec": model.spec.to_dict(),
        "calibration": model.calibration.to_dict(),
        "forest": asdict(model.forest_settings),
        "threshold": model.threshold,
        "threshold_source": model.threshold_source,
        "training": {"fingerprint": model.training_fingerprint, **model.training_summary},
        "sklearn_version": sklearn.__version__,
    }


def load(model_dir: Path) -> TrainedModel:
    """Read a model folder written by `save` (needs the joblib artefact)."""
    model_dir = Path(model_dir)
    meta = read_sidecar(model_dir / SIDECAR_FILE)
    forest_path = model_dir / FOREST_FILE
    if not forest_path.is_file():
        raise NotFound(f"no forest artefact at {forest_path}")
    return TrainedModel(
        forest=joblib.load(forest_path),
        spec=FeatureSpec.from_dict(meta["feature_spec"]),
        calibration=Calibration.from_dict(meta["calibration"]),
        forest_settings=ForestSettings(**meta["forest"]),
        threshold=float(meta["threshold"]),
        threshold_source=str(meta["threshold_source"]),
        model_version=str(meta["model_version"]),
        training_fingerprint=str(meta["training"]["fingerprint"]),
        training_summary={k: v for k, v in meta["training"].items() if k != "fingerprint"},
    )


def export_onnx(model: TrainedModel, out_file: Path) -> Path:
    """Write the forest as ONNX and its sidecar JSON beside it (same name, .json)."""
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_bytes(
        forest_to_onnx(model.forest, model.spec.n_features, model_version=model.model_version)
    )
    out_file.with_suffix(".json").write_text(
        json.dumps(sidecar(model), indent=2, sort_keys=True) + "\n"
    )
    return out_file


def train(
    paths: Sequence[Path],
    *,
    spec: FeatureSpec = DEFAULT_SPEC,
    calibration: Calibration = DEFAULT_CALIBRATION,
    settings: ForestSettings = DEFAULT_SETTINGS,
    synthetic_series: int = 0,
) -> TrainedModel:
    """Fit a model on CSV files of `timestamp,value` and/or NAB-layout folders."""
    series = read_training_series(paths) + generated_series(synthetic_series, settings.random_state)
    if not series:
        raise InvalidInput(
            "no training series: give CSV files, folders of them, or synthetic series"
        )
    return fit(series, spec=spec, calibration=calibration, settings=settings)


def read_training_series(paths: Sequence[Path]) -> list[TrainingSeries]:
    """Every series under the paths: CSV files, NAB-layout folders (labelled), folders of CSVs."""
    series: list[TrainingSeries] = []
    for path in map(Path, paths):
        if path.is_dir() and (path / "data").is_dir():
            series.extend(_nab_series(path))
        elif path.is_dir():
            series.extend(
                _csv_series(p, p.relative_to(path).as_posix()) for p in sorted(path.rglob("*.csv"))
            )
        elif path.is_file():
            series.append(_csv_series(path, path.name))
        else:
            raise NotFound(f"training data not found: {path}")
    return series


def _nab_series(root: Path) -> list[TrainingSeries]:
    windows = nab_files.read_windows(root) if (root / nab_files.WINDOWS_FILE).is_file() else {}
    series = []
    for key in nab_files.data_keys(root):
        data = nab_files.read_data_file(root, key)
        spans = windows.get(key)
        rows = corpus.windows_as_rows(data.timestamps, spans) if spans is not None else None
        series.append(TrainingSeries(key, seconds(data.timestamps), data.values, rows))
    return series


def _csv_series(path: Path, key: str) -> TrainingSeries:
    frame = nab_files.read_series_csv(path)
    return TrainingSeries(key, seconds(frame["timestamp"]), frame["value"].to_numpy(np.float64))
