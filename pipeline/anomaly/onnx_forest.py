"""Export a fitted IsolationForest as one compact ONNX tree-ensemble graph, and score with it.

skl2onnx emits a few nodes per tree (about 2,700 for 100 trees), so onnxruntime spends its
time dispatching small kernels. Here the graph is six nodes:

    features -> Neg -> Concat([x, -x]) -> TreeEnsembleRegressor (all trees, SUM) -> s
             -> Reshape (N,) -> Exp -> Neg -> score_samples = -exp(s)

Each leaf already holds its tree's share of ``s = -ln 2 * mean_path_length / c(max_samples)``,
so ``-exp(s)`` is scikit-learn's ``score_samples = -2 ** (-mean_path_length / c)``.

Why the negated columns: onnxruntime has a fast loop only when every split has the same
mode and no split asks for NaN to follow its true branch. A NaN fails ``x <= t``, so it
takes the false branch; where scikit-learn sends NaN left, the split is rewritten as
``-x <= t'`` (true = right child, false = left child), which sends NaN left too.
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, helper
from sklearn.ensemble import IsolationForest

from pipeline.errors import InvalidInput

INPUT_NAME = "features"
OUTPUT_NAME = "score_samples"
MODEL_VERSION_KEY = "model_version"

_ML_DOMAIN = "ai.onnx.ml"
_ML_OPSET = 3  # TreeEnsembleRegressor; opset 5's TreeEnsemble ran no faster here
_ONNX_OPSET = 17
_IR_VERSION = 8  # loadable by every onnxruntime the project supports (>= 1.17)
_LEAF = -1  # scikit-learn's TREE_LEAF marker in children_left / children_right


def forest_to_onnx(forest: IsolationForest, n_features: int, *, model_version: str = "") -> bytes:
    """Serialise a fitted IsolationForest as an ONNX model whose output is its score_samples."""
    _check_forest(forest, n_features)
    scale = _leaf_scale(forest)
    tables = [
        _tree_table(estimator, _feature_map(forest, estimator, features), n_features, scale, tree)
        for tree, (estimator, features) in enumerate(
            zip(forest.estimators_, forest.estimators_features_, strict=True)
        )
    ]
    model = _model(_merge(tables), n_features, model_version)
    onnx.checker.check_model(model, full_check=True)
    return model.SerializeToString()


def average_path_length(n_samples: np.ndarray) -> np.ndarray:
    """c(n): mean depth of an unsuccessful binary-search-tree lookup among n samples."""
    n = np.asarray(n_samples, dtype=np.float64)
    safe = np.maximum(n, 3.0)  # keeps log() finite in the branch np.where discards
    harmonic = 2.0 * (np.log(safe - 1.0) + np.euler_gamma) - 2.0 * (safe - 1.0) / safe
    return np.where(n <= 1.0, 0.0, np.where(n == 2.0, 1.0, harmonic))


def _check_forest(forest: IsolationForest, n_features: int) -> None:
    if not hasattr(forest, "estimators_"):
        raise InvalidInput("the IsolationForest must be fitted before export")
    if forest.n_features_in_ != n_features:
        raise InvalidInput(
            f"n_features is {n_features} but the forest was fitted on {forest.n_features_in_}"
        )


def _leaf_scale(forest: IsolationForest) -> tuple[float, float]:
    """(factor, offset) turning a leaf's path length into its share of s (score = -exp(s))."""
    n_trees = len(forest.estimators_)
    normaliser = float(average_path_length(np.array([forest.max_samples_]))[0])
    if normaliser == 0.0:
        # scikit-learn fixes path / c to 1 when c(max_samples) is 0 (one training sample).
        return 0.0, -math.log(2.0) / n_trees
    return -math.log(2.0) / (n_trees * normaliser), 0.0


def _feature_map(forest: IsolationForest, estimator, features: np.ndarray) -> np.ndarray:
    """Column of the full input that each of the tree's features reads."""
    # Bagging slices the columns only when max_features < n_features; otherwise
    # estimators_features_ is an unused permutation and the tree reads X as is.
    if estimator.n_features_in_ == forest.n_features_in_:
        return np.arange(forest.n_features_in_)
    return np.asarray(features)


def _tree_table(
    estimator, feature_map: np.ndarray, n_features: int, scale: tuple[float, float], tree: int
) -> dict[str, np.ndarray]:
    """TreeEnsembleRegressor attribute arrays of one tree (node ids local to the tree)."""
    t = estimator.tree_
    is_leaf = t.children_left == _LEAF
    nan_left = (t.missing_go_to_left != 0) & ~is_leaf
    column = feature_map[np.maximum(t.feature, 0)]
    threshold = _float32_at_or_below(t.threshold)
    factor, offset = scale
    path = _node_depths(t.children_left, t.children_right) + average_path_length(t.n_node_samples)
    split = {
        "nodes_featureids": np.where(nan_left, column + n_features, column),
        "nodes_values": np.where(nan_left, _below_negated(threshold), threshold),
        "nodes_truenodeids": np.where(nan_left, t.children_right, t.children_left),
        "nodes_falsenodeids": np.where(nan_left, t.children_left, t.children_right),
    }
    return {
        "nodes_treeids": np.full(t.node_count, tree),
        "nodes_nodeids": np.arange(t.node_count),
        "nodes_modes": np.where(is_leaf, "LEAF", "BRANCH_LEQ"),
        **{key: np.where(is_leaf, 0, values) for key, values in split.items()},
        "target_treeids": np.full(int(is_leaf.sum()), tree),
        "target_nodeids": np.flatnonzero(is_leaf),
        "target_weights": (path * factor + offset)[is_leaf],
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


def _below_negated(threshold32: np.ndarray) -> np.ndarray:
    """t' with (-x <= t') == (x > t) for every float32 x: the float32 just below -t.

    For t == 0 that is the smallest subnormal; onnxruntime keeps subnormals unless the
    session sets session.set_denormal_as_zero, which this module never does.
    """
    return np.nextafter(-threshold32, np.float32(-np.inf))


def _merge(tables: list[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """Concatenate per-tree attribute arrays into the ensemble's flat attribute lists."""
    return {key: np.concatenate([table[key] for table in tables]) for key in tables[0]}


def _model(ensemble: dict[str, np.ndarray], n_features: int, model_version: str) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Neg", [INPUT_NAME], ["negated_features"]),
        helper.make_node("Concat", [INPUT_NAME, "negated_features"], ["signed_features"], axis=1),
        helper.make_node(
            "TreeEnsembleRegressor",
            ["signed_features"],
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
        helper.make_node("Exp", ["exponent"], ["two_power"]),
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
    model.ir_version = _IR_VERSION
    helper.set_model_props(model, {MODEL_VERSION_KEY: model_version})
    return model


def _attribute_lists(ensemble: dict[str, np.ndarray]) -> dict[str, list]:
    """numpy arrays -> the plain Python lists onnx.helper turns into attributes."""
    return {key: values.tolist() for key, values in ensemble.items()}
