"""The exported ONNX forest scores exactly like scikit-learn's IsolationForest.score_samples."""

import math

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.ensemble import IsolationForest

from pipeline.anomaly.onnx_forest import (
    MODEL_VERSION_KEY,
    average_path_length,
    forest_to_onnx,
)
from adapters.onnx_scorer import OnnxForestScorer
from pipeline.errors import ConfigurationError, InvalidInput

TOLERANCE = 1e-5
N_FEATURES = 6


def fitted_forest(seed: int = 0, n_rows: int = 600, n_features: int = N_FEATURES, **params):
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(n_rows, n_features)).astype(np.float32)
    defaults = {"n_estimators": 25, "max_samples": 128, "random_state": seed}
    return IsolationForest(**(defaults | params)).fit(train)


def scorer_for(forest, model_version: str = "") -> OnnxForestScorer:
    model = forest_to_onnx(forest, forest.n_features_in_, model_version=model_version)
    return OnnxForestScorer(model)


def assert_scores_match(scorer: OnnxForestScorer, forest, rows: np.ndarray) -> None:
    expected = forest.score_samples(rows)
    np.testing.assert_allclose(scorer.score(rows), expected, rtol=0, atol=TOLERANCE)


def largest_gap(forest, rows: np.ndarray) -> float:
    return float(np.max(np.abs(scorer_for(forest).score(rows) - forest.score_samples(rows))))


def split_points(forest) -> list[np.ndarray]:
    """Per input column: float32 values on, just below and just above every split threshold."""
    per_column = [[] for _ in range(forest.n_features_in_)]
    for estimator, features in zip(forest.estimators_, forest.estimators_features_):
        tree = estimator.tree_
        subset = estimator.n_features_in_ != forest.n_features_in_
        for node in np.flatnonzero(tree.children_left != -1):
            column = features[tree.feature[node]] if subset else tree.feature[node]
            on = np.float32(tree.threshold[node])
            below, above = (np.nextafter(on, np.float32(bound)) for bound in (-np.inf, np.inf))
            per_column[column] += [below, on, above]
    return [np.array(values, dtype=np.float32) for values in per_column]


@pytest.fixture(scope="module")
def forest():
    return fitted_forest()


@pytest.fixture(scope="module")
def scorer(forest):
    return scorer_for(forest, model_version="2026-11-27.1")


@pytest.mark.parametrize("batch", [1, 4096])
def test_scores_match_scikit_learn_on_random_rows(forest, scorer, batch):
    rows = np.random.default_rng(1).normal(scale=1.5, size=(batch, N_FEATURES)).astype(np.float32)
    scores = scorer.score(rows)
    assert scores.shape == (batch,)
    assert scores.dtype == np.float32
    np.testing.assert_allclose(scores, forest.score_samples(rows), rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize("batch", [1, 4096])
def test_rows_sitting_exactly_on_split_thresholds_take_scikit_learns_branch(forest, scorer, batch):
    rng = np.random.default_rng(2)
    rows = np.stack([rng.choice(values, size=4096) for values in split_points(forest)], axis=1)
    scores = np.concatenate([scorer.score(rows[start:start + batch])
                             for start in range(0, len(rows), batch)])
    np.testing.assert_allclose(scores, forest.score_samples(rows), rtol=0, atol=TOLERANCE)


def test_a_row_on_a_threshold_scores_differently_from_one_just_above_it(forest, scorer):
    """Guards the test above: threshold rounding matters, so a wrong rounding would show."""
    tree = forest.estimators_[0].tree_
    column, on = tree.feature[0], np.float32(tree.threshold[0])
    rows = np.zeros((2, N_FEATURES), dtype=np.float32)
    rows[0, column] = np.nextafter(on, np.float32(-np.inf)) if on > tree.threshold[0] else on
    rows[1, column] = np.nextafter(rows[0, column], np.float32(np.inf))
    expected = forest.score_samples(rows)
    assert expected[0] != expected[1]
    np.testing.assert_allclose(scorer.score(rows), expected, rtol=0, atol=TOLERANCE)


@pytest.mark.parametrize(
    "params",
    [
        {"max_features": 0.5},
        {"max_features": 2},
        {"bootstrap": True},
        {"bootstrap": True, "max_features": 0.7},
        {"max_samples": 1.0},
    ],
    ids=["half-features", "two-features", "bootstrap", "bootstrap-and-subset", "all-rows"],
)
@pytest.mark.parametrize("batch", [1, 4096])
def test_feature_subsets_and_bootstrap_forests_match(params, batch):
    forest = fitted_forest(seed=3, **params)
    rows = np.random.default_rng(4).normal(size=(batch, N_FEATURES)).astype(np.float32)
    assert largest_gap(forest, rows) <= TOLERANCE


def test_a_row_scores_bit_for_bit_the_same_alone_or_inside_a_batch(scorer):
    rows = np.random.default_rng(9).normal(size=(4096, N_FEATURES)).astype(np.float32)
    in_batch = scorer.score(rows)[:200]
    alone = np.concatenate([scorer.score(rows[i:i + 1]) for i in range(200)])
    in_small_batches = np.concatenate([scorer.score(rows[i:i + 37]) for i in range(0, 200, 37)])
    assert np.array_equal(in_batch, alone)
    assert np.array_equal(in_batch, in_small_batches[:200])


def test_export_is_deterministic_so_a_file_hash_identifies_the_model(forest):
    first = forest_to_onnx(forest, N_FEATURES, model_version="v1")
    assert forest_to_onnx(forest, N_FEATURES, model_version="v1") == first
    assert forest_to_onnx(forest, N_FEATURES, model_version="v2") != first


def test_missing_values_follow_scikit_learns_nan_routing(forest, scorer):
    rng = np.random.default_rng(5)
    rows = rng.normal(size=(2000, N_FEATURES)).astype(np.float32)
    rows[rng.random(rows.shape) < 0.3] = np.nan
    rows[0] = np.nan
    assert_scores_match(scorer, forest, rows)


def test_infinite_and_extreme_values_match(forest, scorer):
    big = np.finfo(np.float32).max
    rows = np.array(
        [[np.inf] * N_FEATURES, [-np.inf] * N_FEATURES, [big] * N_FEATURES, [-big] * N_FEATURES,
         [0.0] * N_FEATURES, [-0.0] * N_FEATURES],
        dtype=np.float32,
    )
    assert_scores_match(scorer, forest, rows)


def test_one_sample_forest_scores_minus_one_half_like_scikit_learn():
    forest = fitted_forest(seed=6, max_samples=1)
    rows = np.random.default_rng(7).normal(size=(3, N_FEATURES)).astype(np.float32)
    np.testing.assert_allclose(scorer_for(forest).score(rows), [-0.5] * 3, rtol=0, atol=TOLERANCE)
    np.testing.assert_allclose(forest.score_samples(rows), [-0.5] * 3)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    n_features=st.integers(1, 7),
    n_estimators=st.integers(1, 8),
    max_samples=st.integers(2, 64),
    max_features=st.floats(0.2, 1.0),
    bootstrap=st.booleans(),
    decimals=st.sampled_from([None, 0, 1]),
    batch=st.integers(1, 300),
)
def test_any_small_forest_matches_scikit_learn(
    seed, n_features, n_estimators, max_samples, max_features, bootstrap, decimals, batch
):
    """Rounded data gives many ties, so many rows sit on split points."""
    rng = np.random.default_rng(seed)
    train = rng.normal(size=(80, n_features))
    rows = rng.normal(scale=2.0, size=(batch, n_features))
    if decimals is not None:
        train, rows = train.round(decimals), rows.round(decimals)
    forest = IsolationForest(
        n_estimators=n_estimators,
        max_samples=max_samples,
        max_features=max_features,
        bootstrap=bootstrap,
        random_state=seed,
    ).fit(train.astype(np.float32))
    assert largest_gap(forest, rows.astype(np.float32)) <= TOLERANCE


def test_average_path_length_matches_the_closed_form():
    expected_256 = 2.0 * (math.log(255.0) + np.euler_gamma) - 2.0 * 255.0 / 256.0
    np.testing.assert_allclose(average_path_length([0, 1, 2, 256]), [0.0, 0.0, 1.0, expected_256])


def test_graph_is_one_tree_ensemble_node_plus_a_few_elementwise_nodes(forest):
    model = onnx.load_from_string(forest_to_onnx(forest, N_FEATURES))
    op_types = [node.op_type for node in model.graph.node]
    assert op_types.count("TreeEnsembleRegressor") == 1
    assert len(op_types) <= 6
    assert [output.name for output in model.graph.output] == ["score_samples"]
    assert [inp.name for inp in model.graph.input] == ["features"]


def test_model_version_is_written_into_the_metadata(forest, scorer):
    model = onnx.load_from_string(forest_to_onnx(forest, N_FEATURES, model_version="v42"))
    assert {prop.key: prop.value for prop in model.metadata_props} == {MODEL_VERSION_KEY: "v42"}
    assert scorer.model_version == "2026-11-27.1"
    assert scorer.n_features == N_FEATURES


@pytest.mark.parametrize(
    "shape", [(4, N_FEATURES + 1), (4, N_FEATURES - 1), (N_FEATURES,), (2, 3, 4)]
)
def test_rows_of_the_wrong_shape_are_invalid_input_naming_expected_and_got(scorer, shape):
    with pytest.raises(InvalidInput) as raised:
        scorer.score(np.zeros(shape, dtype=np.float32))
    assert f"(N, {N_FEATURES})" in str(raised.value)
    assert str(shape) in str(raised.value)


def test_non_numeric_rows_are_invalid_input(scorer):
    with pytest.raises(InvalidInput, match="numeric"):
        scorer.score(np.full((2, N_FEATURES), "x"))


def test_float64_and_integer_rows_are_scored_as_float32_like_scikit_learn(forest, scorer):
    rows = np.random.default_rng(8).normal(size=(50, N_FEATURES))
    assert_scores_match(scorer, forest, rows)
    counts = np.arange(50 * N_FEATURES).reshape(50, N_FEATURES) % 3 - 1
    assert_scores_match(scorer, forest, counts)


def test_an_empty_batch_scores_to_an_empty_array(scorer):
    assert scorer.score(np.empty((0, N_FEATURES), dtype=np.float32)).shape == (0,)


def test_export_refuses_a_feature_count_the_forest_was_not_fitted_on(forest):
    with pytest.raises(InvalidInput, match=f"fitted on {N_FEATURES}"):
        forest_to_onnx(forest, N_FEATURES + 2)


def test_export_refuses_an_unfitted_forest():
    with pytest.raises(InvalidInput, match="fitted"):
        forest_to_onnx(IsolationForest(), N_FEATURES)


def test_a_model_with_another_signature_is_a_configuration_error():
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["X"], ["variable"])],
        "not_a_forest",
        [onnx.helper.make_tensor_value_info("X", onnx.TensorProto.FLOAT, ["N", N_FEATURES])],
        [onnx.helper.make_tensor_value_info("variable", onnx.TensorProto.FLOAT, ["N", N_FEATURES])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)])
    model.ir_version = 8
    with pytest.raises(ConfigurationError, match="'features'"):
        OnnxForestScorer(model.SerializeToString())


def test_bytes_that_are_not_a_model_are_a_configuration_error():
    with pytest.raises(ConfigurationError, match="cannot load"):
        OnnxForestScorer(b"not an onnx model")
