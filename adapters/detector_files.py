"""Loading a detector to score with: the sidecar, and the ONNX graph when the model has one.

What a worker needs at run time and nothing more: the shipped novelty detector is NumPy only,
and a forest is run by onnxruntime. scikit-learn, joblib and onnx (training and export,
`adapters.anomaly_model`) are never imported here, so a metrics worker does not carry them.
"""

import functools
import json
from importlib import resources
from pathlib import Path

from pipeline.anomaly.calibration import Calibration
from pipeline.anomaly.detector import StreamingDetector
from pipeline.anomaly.novelty import NoveltyDetector, novelty_from_sidecar
from pipeline.anomaly.spec import FeatureSpec
from pipeline.errors import ConfigurationError, NotFound

SIDECAR_FILE = "model.json"
ONNX_FILE = "model.onnx"
SIDECAR_FORMAT = 1


def default_model_dir() -> Path:
    """The small model shipped with the package (works offline on a fresh machine)."""
    return Path(str(resources.files("pipeline.anomaly") / "default_model"))


def load_detector(model_path: Path | None = None) -> StreamingDetector | NoveltyDetector:
    """The model's detector (the novelty detector in NumPy, or a forest through onnxruntime), loaded afresh.

    `model_path` is a model folder (with `model.onnx` and `model.json`) or an exported
    `.onnx` file with its `.json` sidecar beside it; None means the shipped default.
    A worker scores with `shared_detector`, which loads it once per process.
    """
    path = Path(model_path) if model_path else default_model_dir()
    onnx_path, sidecar_path = _onnx_and_sidecar(path)
    meta = read_sidecar(sidecar_path)  # read once: it says which kind of model this is and describes it
    if meta.get("kind") == "novelty":
        return novelty_from_sidecar(meta)
    if not onnx_path.is_file():
        raise NotFound(f"no ONNX model at {onnx_path}")
    from adapters.onnx_scorer import OnnxForestScorer  # a forest only: onnxruntime

    scorer = OnnxForestScorer(onnx_path.read_bytes())
    if scorer.model_version != meta["model_version"]:
        raise ConfigurationError(
            f"{onnx_path} is model {scorer.model_version}, its sidecar says {meta['model_version']}"
        )
    try:
        spec = FeatureSpec.from_dict(meta["feature_spec"])
        calibration = Calibration.from_dict(meta["calibration"])
        threshold = float(meta["threshold"])
    except (KeyError, TypeError, ValueError) as error:
        raise ConfigurationError(f"model sidecar {sidecar_path} is malformed: {error!r}") from error
    if scorer.n_features != spec.n_features:
        raise ConfigurationError(
            f"{onnx_path} takes {scorer.n_features} features, not {spec.n_features}"
        )
    return StreamingDetector(spec, scorer, calibration, threshold, str(meta["model_version"]))


@functools.cache
def shared_detector(model_path: Path | None = None) -> StreamingDetector | NoveltyDetector:
    """This process's detector of `model_path`: loaded on the first call, the same object after.

    A metrics worker loads it at start (a bad path fails there) and scores with it; loading it
    a second time would hold two copies of the model and its calibration.
    """
    return load_detector(model_path)


def _onnx_and_sidecar(path: Path) -> tuple[Path, Path]:
    if path.is_dir():
        return path / ONNX_FILE, path / SIDECAR_FILE
    return path, path.with_suffix(".json")


def read_sidecar(path: Path) -> dict:
    """The parsed sidecar; ConfigurationError names the file when it is missing or malformed."""
    try:
        meta = json.loads(Path(path).read_text())
    except FileNotFoundError as error:
        raise NotFound(f"no model sidecar at {path}") from error
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"model sidecar {path} is not JSON: {error}") from error
    missing = {"format", "model_version", "feature_spec", "calibration", "threshold"} - meta.keys()
    if missing or meta["format"] != SIDECAR_FORMAT:
        raise ConfigurationError(
            f"model sidecar {path} lacks {sorted(missing)} or has another format"
        )
    return meta
