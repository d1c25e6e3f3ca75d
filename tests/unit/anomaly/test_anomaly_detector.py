"""The streaming detector: scores in [0, 1], causal, and the same alone or in a batch of 4,096."""

import numpy as np
import pytest
from anomaly_helpers import walk
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import anomaly_model as store
from pipeline.anomaly.detector import SeriesPoints
from pipeline.anomaly.synthetic import synthetic_corpus
from pipeline.anomaly.training import TrainingSeries, fit

BATCH = 4096


@pytest.fixture(scope="module")
def forest_model(tmp_path_factory):
    """The forest method, trained on generic series and exported like `model train --method forest`."""
    generated = synthetic_corpus(8, length=1200, seed=5)
    model = fit([TrainingSeries(g.name, g.timestamps, g.values) for g in generated])
    return store.save(model, tmp_path_factory.mktemp("forest"))


@pytest.fixture(scope="module")
def onnx_detector(forest_model):
    return store.load_detector(forest_model)


@pytest.fixture(scope="module")
def sklearn_detector(forest_model):
    return store.load(forest_model).detector()


def score_in_chunks(detector, times, values, cuts):
    """Score a series chunk by chunk, carrying its state as bytes like the worker does."""
    state, parts, start = None, [], 0
    for cut in cuts:
        result = detector.score_encoded(
            [state], [times[start : start + cut]], [values[start : start + cut]]
        )
        state, start = result.states[0], start + cut
        parts.append(result.scores[0])
    return np.concatenate(parts)


def score_inside_a_full_batch(detector, times, values):
    """Score the whole series in one call together with other series, 4,096 points in all."""
    others = synthetic_corpus(4, length=(BATCH - len(values)) // 4 + 1, seed=11)
    fill = BATCH - len(values)
    other_times = [o.timestamps[: fill // 4 + (i < fill % 4)] for i, o in enumerate(others)]
    other_values = [o.values[: len(t)] for o, t in zip(others, other_times)]
    result = detector.score_encoded([None] * 5, [times, *other_times], [values, *other_values])
    assert sum(len(s) for s in result.scores) == BATCH
    return result.scores[0]


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), length=st.integers(380, 700), data=st.data())
def test_a_points_score_is_the_same_alone_or_inside_a_batch_of_4096(
    onnx_detector, seed, length, data
):
    times, values = walk(seed, length)
    cuts = data.draw(st.lists(st.integers(1, 40), min_size=1, max_size=12))
    # Single points for the last 20, so the newest points are truly scored alone.
    cuts = [*cuts, length - sum(cuts)] if sum(cuts) < length - 20 else [length - 20]
    cuts = [*cuts[:-1], cuts[-1] - 20, *[1] * 20] if cuts[-1] > 20 else [*cuts, *[1] * 20]
    cuts = [c for c in cuts if c > 0]
    assert sum(cuts) == length
    alone = score_in_chunks(onnx_detector, times, values, cuts)
    batched = score_inside_a_full_batch(onnx_detector, times, values)
    assert np.array_equal(alone, batched)


def test_scikit_learn_scoring_is_also_independent_of_batching(sklearn_detector):
    times, values = walk(20, 500)
    alone = score_in_chunks(
        sklearn_detector, times, values, [1] * 5 + [55] * 8 + [1] * 5 + [0] + [50]
    )
    assert np.array_equal(alone, score_inside_a_full_batch(sklearn_detector, times, values))


def test_onnx_and_scikit_learn_detectors_agree_to_1e_5(onnx_detector, sklearn_detector):
    times, values = walk(21, 900)
    by_onnx = onnx_detector.score_encoded([None], [times], [values]).scores[0]
    by_sklearn = sklearn_detector.score_encoded([None], [times], [values]).scores[0]
    assert np.max(np.abs(by_onnx - by_sklearn)) < 1e-5
    assert by_sklearn.max() > 0.5  # the level shift at the middle is found


def test_scores_lie_in_0_1_and_ignored_points_score_0(onnx_detector):
    times, values = walk(22, 700)
    values[100] = np.nan
    times[200] = times[199]
    result = onnx_detector.score_encoded([None], [times], [values])
    scores, accepted = result.scores[0], result.accepted[0]
    assert np.all((scores >= 0) & (scores <= 1))
    assert not accepted[100] and not accepted[200]
    assert scores[100] == 0 and scores[200] == 0


def test_the_level_shift_crosses_the_models_threshold_where_it_happens(onnx_detector):
    times, values = walk(23, 800)
    scores = onnx_detector.score_encoded([None], [times], [values]).scores[0]
    assert int(np.argmax(scores)) == 400
    assert onnx_detector.is_anomalous(scores).sum() < 12


def test_object_and_bytes_interfaces_give_the_same_scores(onnx_detector):
    times, values = walk(24, 500)
    by_bytes = onnx_detector.score_encoded([None], [times], [values])
    by_objects = onnx_detector.score_points(
        [SeriesPoints(onnx_detector.new_state(), times, values)]
    )
    assert np.array_equal(by_bytes.scores[0], by_objects[0].scores)
    assert by_objects[0].state.to_bytes() == by_bytes.states[0]


def test_a_state_from_another_model_restarts_the_series(onnx_detector, small_model):
    other = small_model.detector()
    times, values = walk(25, 100)
    foreign = other.score_encoded([None], [times], [values]).states[0]
    assert onnx_detector.load_state(foreign).count == 0


def test_loading_a_forest_reads_its_sidecar_once(forest_model, monkeypatch):
    from adapters import detector_files

    reads = []
    real = detector_files.read_sidecar
    monkeypatch.setattr(detector_files, "read_sidecar", lambda path: reads.append(path) or real(path))
    detector_files.load_detector(forest_model)
    assert reads == [forest_model / detector_files.SIDECAR_FILE]


def test_a_metrics_worker_scores_with_the_detector_it_loaded_at_start(forest_model, monkeypatch):
    """The preload at worker start and the runtime's loader share one detector: the model is loaded once."""
    from adapters import detector_files
    from config.settings import load_settings
    from smartcloudops.bootstrap import anomaly_detector_loader

    loads = []
    real = detector_files.load_detector
    monkeypatch.setattr(detector_files, "load_detector", lambda path=None: loads.append(path) or real(path))
    detector_files.shared_detector.cache_clear()
    try:
        settings = load_settings(anomaly_model_path=str(forest_model))
        at_start = detector_files.shared_detector(settings.anomaly_model_path)  # as `worker` does for metrics
        assert anomaly_detector_loader(settings)() is at_start
        assert loads == [settings.anomaly_model_path]
    finally:
        detector_files.shared_detector.cache_clear()
