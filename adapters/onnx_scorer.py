"""Scoring feature rows with an exported forest through onnxruntime: one session per process."""

from __future__ import annotations

import numpy as np
import onnxruntime

from pipeline.anomaly.onnx_forest import INPUT_NAME, MODEL_VERSION_KEY, OUTPUT_NAME
from pipeline.errors import ConfigurationError, InvalidInput


class OnnxForestScorer:
    """Scores feature rows with an exported forest; one onnxruntime session per process."""

    def __init__(self, model_bytes: bytes, *, intra_op_threads: int = 1) -> None:
        try:
            self._session = onnxruntime.InferenceSession(
                model_bytes,
                sess_options=_session_options(intra_op_threads),
                providers=["CPUExecutionProvider"],
            )
        except Exception as error:  # onnxruntime raises its own untyped Fail / InvalidGraph
            raise ConfigurationError(f"cannot load the ONNX anomaly model: {error}") from error
        self._n_features = _declared_width(self._session)
        metadata = self._session.get_modelmeta().custom_metadata_map
        self._model_version = metadata.get(MODEL_VERSION_KEY, "")

    @property
    def model_version(self) -> str:
        """The version string written into the model's metadata at export."""
        return self._model_version

    @property
    def n_features(self) -> int:
        """How many feature columns each row must have."""
        return self._n_features

    def score(self, features: np.ndarray) -> np.ndarray:
        """score_samples of every row as float32 (lower is more anomalous), in one run call."""
        rows = self._validated(features)
        if rows.shape[0] == 0:
            return np.empty(0, dtype=np.float32)
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: rows})[0]

    def _validated(self, features: np.ndarray) -> np.ndarray:
        rows = np.asarray(features)
        if rows.ndim != 2 or rows.shape[1] != self._n_features:
            raise InvalidInput(
                f"features must have shape (N, {self._n_features}), got {rows.shape}"
            )
        if not (np.issubdtype(rows.dtype, np.floating) or np.issubdtype(rows.dtype, np.integer)):
            raise InvalidInput(f"features must be numeric, got dtype {rows.dtype}")
        # scikit-learn casts to float32 before walking the trees; doing the same keeps parity.
        return np.ascontiguousarray(rows, dtype=np.float32)


def _session_options(intra_op_threads: int) -> onnxruntime.SessionOptions:
    # A Celery prefork child owns one core; extra threads would only fight its siblings.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _declared_width(session: onnxruntime.InferenceSession) -> int:
    """Feature count the model takes, once its signature is checked to be forest_to_onnx's."""
    inputs, outputs = session.get_inputs(), session.get_outputs()
    shape = inputs[0].shape if len(inputs) == 1 else []
    if (
        [value.name for value in inputs] != [INPUT_NAME]
        or [value.name for value in outputs] != [OUTPUT_NAME]
        or len(shape) != 2
        or not isinstance(shape[1], int)
    ):
        raise ConfigurationError(
            f"the ONNX anomaly model must map {INPUT_NAME!r} (N, F) to {OUTPUT_NAME!r} (N,)"
        )
    return shape[1]


class OnnxProbabilityScorer:
    """P(class 1) of float32 rows through an exported scikit-learn classifier, one run a batch."""

    def __init__(self, model_bytes: bytes, *, intra_op_threads: int = 1) -> None:
        try:
            self._session = onnxruntime.InferenceSession(
                model_bytes,
                sess_options=_session_options(intra_op_threads),
                providers=["CPUExecutionProvider"],
            )
        except Exception as error:  # onnxruntime raises its own untyped Fail / InvalidGraph
            raise ConfigurationError(f"cannot load the ONNX outcome model: {error}") from error
        self._input = self._session.get_inputs()[0].name
        self._output = next(o.name for o in self._session.get_outputs() if "prob" in o.name)

    def __call__(self, rows: np.ndarray) -> np.ndarray:
        batch = np.ascontiguousarray(rows, dtype=np.float32)
        if batch.shape[0] == 0:
            return np.empty(0, dtype=np.float32)
        return self._session.run([self._output], {self._input: batch})[0][:, 1]
