"""Export a fitted IsolationForest as one compact ONNX tree-ensemble graph, and score with it.

skl2onnx emits a few nodes per tree (about 2,700 for 100 trees), so onnxruntime spends its
time dispatching small kernels and is slower than scikit-learn on large batches. Here the
whole forest is ONE ``ai.onnx.ml`` ``TreeEnsembleRegressor`` whose leaves already hold each
tree's share of ``ln 2 * path length / c(max_samples)``; two elementwise nodes then turn the
sum ``s`` into scikit-learn's ``score_samples = -2 ** (-path / c) = -exp(-s)``.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper
from sklearn.ensemble import IsolationForest

from pipeline.errors import ConfigurationError, InvalidInput

INPUT_NAME = "features"
OUTPUT_NAME = "score_samples"
MODEL_VERSION_KEY = "model_version"

_ML_DOMAIN = "ai.onnx.ml"
_ML_OPSET = 3
_ONNX_OPSET = 17
_LEAF = -1  # scikit-learn's TREE_LEAF marker in children_left / children_right


def forest_to_onnx(forest: IsolationForest, n_features: int, *, model_version: str = "") -> bytes:
    """Serialise a fitted IsolationForest as an ONNX model whose output is its score_samples."""
    _check_forest(forest, n_features)
    scale = _leaf_scale(forest)
    tables = [
        _tree_table(estimator, _feature_map(forest, estimator, features), scale, tree_id)
        for tree_id, (estimator, features) in enumerate(
            zip(forest.estimators_, forest.estimators_features_, strict=True)
        )
    ]
    model = _model(_merge(tables), n_features, model_version)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


class OnnxForestScorer:
    """Scores feature rows with an exported forest; one onnxruntime session per process."""

    def __init__(self, model_bytes: bytes, *, intra_op_threads: int = 1) -> None:
        try:
            self._session = onnxruntime.InferenceSession(
                model_bytes,
                sess_options=_session_options(intra_op_threads),
                providers=["CPUExecutionProvider"],
            )
        except Exception as error:  # onnxruntime raises its own untyped Fail/InvalidGraph
            raise ConfigurationError(f"cannot load the ONNX anomaly model: {error}") from error
        declared = self._session.get_inputs()[0].shape
        self._n_features = declared[1] if isinstance(declared[1], int) else None
        metadata = self._session.get_modelmeta().custom_metadata_map
        self._model_version = metadata.get(MODEL_VERSION_KEY, "")

    @property
    def model_version(self) -> str:
        """The version string written into the model's metadata at export."""
        return self._model_version

    @property
    def n_features(self) -> int | None:
        """How many feature columns each row must have."""
        return self._n_features

    def score(self, features: np.ndarray) -> np.ndarray:
        """score_samples of every row (lower is more anomalous), in one onnxruntime call."""
        rows = self._validated(features)
        if rows.shape[0] == 0:
            return np.empty(0, dtype=np.float32)
        return self._session.run([OUTPUT_NAME], {INPUT_NAME: rows})[0]

    def _validated(self, features: np.ndarray) -> np.ndarray:
        rows = np.asarray(features)
        expected = f"(N, {self._n_features})"
        if rows.ndim != 2 or (self._n_features is not None and rows.shape[1] != self._n_features):
            raise InvalidInput(f"features must have shape {expected}, got {rows.shape}")
        if not np.issubdtype(rows.dtype, np.number):
            raise InvalidInput(f"features must be numeric, got dtype {rows.dtype}")
        # The forest was fitted on float32, as scikit-learn always casts its input.
        return np.ascontiguousarray(rows, dtype=np.float32)


def _session_options(intra_op_threads: int) -> onnxruntime.SessionOptions:
    # A Celery prefork child owns one core; extra threads would only fight the siblings.
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = intra_op_threads
    options.inter_op_num_threads = 1
    options.execution_mode = onnxruntime.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _check_forest(forest: IsolationForest, n_features: int) -> None:
    if not hasattr(forest, "estimators_"):
        raise InvalidInput("the IsolationForest must be fitted before export")
    if forest.n_features_in_ != n_features:
        raise InvalidInput(
            f"n_features is {n_features} but the forest was fitted on {forest.n_features_in_}"
        )


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """c(n): mean depth of an unsuccessful binary-search-tree lookup among n samples."""
    n = np.asarray(n_samples, dtype=np.float64)
    safe = np.maximum(n, 3.0)  # keeps log() finite in the branch np.where discards
    harmonic = 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe
    return np.where(n <= 1.0, 0.0, np.where(n == 2.0, 1.0, harmonic))


def _leaf_scale(forest: IsolationForest) -> tuple[float, float]:
    """(factor, offset) turning a leaf's path length into its share of s (score = -exp(-s))."""
    n_trees = len(forest.estimators_)
    normaliser = float(average_path_length(np.array([forest.max_samples_]))[0])
    if normaliser == 0.0:
        # scikit-learn fixes path / c to 1 when c(max_samples) is 0 (one training sample).
        return 0.0, math.log(2.0) / n_trees
    return math.log(2.0) / (n_trees * normaliser), 0.0


def _feature_map(forest: IsolationForest, estimator, features: np.ndarray) -> np.ndarray:
    """Column of the full input that each of the tree's features reads."""
    # Bagging only slices the columns when max_features < n_features; otherwise
    # estimators_features_ is an unused permutation and the tree reads X as is.
    if estimator.n_features_in_ == forest.n_features_in_:
        return np.arange(forest.n_features_in_)
    return np.asarray(features)


def _tree_table(
    estimator, feature_map: np.ndarray, scale: tuple[float, float], tree_id: int
) -> dict:
    """TreeEnsembleRegressor attribute arrays of one tree (node ids local to the tree)."""
    tree = estimator.tree_
    node_ids = np.arange(tree.node_count)
    is_leaf = tree.children_left == _LEAF
    depths = _node_depths(tree.children_left, tree.children_right)
    path = depths + average_path_length(tree.n_node_samples)
    factor, offset = scale
    leaf_values = path * factor + offset
    return {
        "nodes_treeids": np.full(tree.node_count, tree_id),
        "nodes_nodeids": node_ids,
        "nodes_featureids": np.where(is_leaf, 0, feature_map[np.maximum(tree.feature, 0)]),
        "nodes_values": np.where(is_leaf, 0.0, _float32_at_or_below(tree.threshold)),
        "nodes_modes": np.where(is_leaf, "LEAF", "BRANCH_LEQ"),
        "nodes_truenodeids": np.where(is_leaf, 0, tree.children_left),
        "nodes_falsenodeids": np.where(is_leaf, 0, tree.children_right),
        "nodes_missing_value_tracks_true": np.where(is_leaf, 0, tree.missing_go_to_left),
        "target_treeids": np.full(int(is_leaf.sum()), tree_id),
        "target_nodeids": node_ids[is_leaf],
        "target_weights": leaf_values[is_leaf],
    }


def _node_depths(children_left: np.ndarray, children_right: np.ndarray) -> np.ndarray:
    """Number of edges from the root to each node."""
    depths = np.zeros(len(children_left), dtype=np.float64)
    # scikit-learn stores parents before children, so one forward pass suffices.
    for node, (left, right) in enumerate(zip(children_left, children_right, strict=True)):
        if left != _LEAF:
            depths[left] = depths[right] = depths[node] + 1.0
    return depths


def _float32_at_or_below(thresholds: np.ndarray) -> np.ndarray:
    """Largest float32 <= each float64 threshold.

    scikit-learn tests float32 x <= float64 t; onnxruntime tests in float32. For float32 x,
    x <= t holds exactly when x <= the largest float32 not above t, so the decisions agree
    even for inputs sitting on a split point.
    """
    rounded = thresholds.astype(np.float32)
    above = rounded.astype(np.float64) > thresholds
    rounded[above] = np.nextafter(rounded[above], np.float32(-np.inf))
    return rounded


def _merge(tables: list[dict]) -> dict:
    """Concatenate per-tree attribute arrays into the ensemble's flat attribute lists."""
    return {key: np.concatenate([table[key] for table in tables]) for key in tables[0]}


def _model(ensemble: dict, n_features: int, model_version: str) -> onnx.ModelProto:
    """Graph: features -> TreeEnsembleRegressor (s, shape N x 1) -> flatten -> -exp(-s)."""
    nodes = [
        helper.make_node(
            "TreeEnsembleRegressor",
            [INPUT_NAME],
            ["exponent_column"],
            domain=_ML_DOMAIN,
            name="isolation_forest",
            n_targets=1,
            aggregate_function="SUM",
            post_transform="NONE",
            target_ids=[0] * len(ensemble["target_nodeids"]),
            **_attribute_lists(ensemble),
        ),
        helper.make_node("Reshape", ["exponent_column", "flat_shape"], ["exponent"]),
        helper.make_node("Neg", ["exponent"], ["negated"]),
        helper.make_node("Exp", ["negated"], ["two_power"]),
        helper.make_node("Neg", ["two_power"], [OUTPUT_NAME]),
    ]
    graph = helper.make_graph(
        nodes,
        "isolation_forest_score_samples",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT, ["N", n_features])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["N"])],
        initializer=[helper.make_tensor("flat_shape", TensorProto.INT64, [1], [-1])],
    )
    model = helper.make_model(
        graph,
        opset_imports=[
            helper.make_opsetid("", _ONNX_OPSET),
            helper.make_opsetid(_ML_DOMAIN, _ML_OPSET),
        ],
        producer_name="smartcloudops",
    )
    model.ir_version = 8  # readable by every onnxruntime the project supports (>= 1.17)
    helper.set_model_props(model, {MODEL_VERSION_KEY: model_version})
    return model


def _attribute_lists(ensemble: dict) -> dict:
    """numpy arrays -> the plain Python lists onnx.helper turns into attributes."""
    return {
        key: [str(mode) for mode in values] if key == "nodes_modes" else values.tolist()
        for key, values in ensemble.items()
    }
