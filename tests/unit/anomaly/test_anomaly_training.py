"""Training from CSV files or a NAB folder, and the model files: joblib, ONNX, sidecar JSON."""

import json

import numpy as np
import pandas as pd
import pytest
from anomaly_helpers import SMALL_SPEC, walk

from adapters import anomaly_model as store
from pipeline.anomaly.training import (
    UNLABELLED_ALERT_RATE,
    TrainingSeries,
    fit,
    training_fingerprint,
)
from adapters.anomaly_model import read_training_series, train
from pipeline.errors import ConfigurationError, InvalidInput, NotFound


def write_csv(path, seed, length=400):
    times, values = walk(seed, length)
    stamps = pd.to_datetime(times, unit="s").strftime("%Y-%m-%d %H:%M:%S")
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(path, index=False)
    return stamps


@pytest.fixture(scope="module")
def csv_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("history")
    for seed in range(3):
        write_csv(root / f"series_{seed}.csv", seed)
    return train([root], spec=SMALL_SPEC)


def test_unlabelled_history_sets_the_threshold_at_a_fixed_alert_rate(csv_model):
    assert csv_model.threshold_source == f"score_quantile_{1 - UNLABELLED_ALERT_RATE}"
    assert 0 < csv_model.threshold < 1
    assert csv_model.training_summary["series"] == 3
    assert csv_model.model_version.startswith("iforest-")


def test_a_nab_folder_is_read_with_its_windows_and_sets_the_threshold_by_nab_sweep(tmp_path):
    stamps = write_csv(tmp_path / "data" / "demo" / "a.csv", 1)
    write_csv(tmp_path / "data" / "demo" / "b.csv", 2)
    windows = {"demo/a.csv": [[stamps[180] + ".000000", stamps[220] + ".000000"]], "demo/b.csv": []}
    (tmp_path / "labels").mkdir()
    (tmp_path / "labels" / "combined_windows.json").write_text(json.dumps(windows))
    series = read_training_series([tmp_path])
    assert [s.key for s in series] == ["demo/a.csv", "demo/b.csv"]
    assert series[0].windows[0].start == 180
    model = fit(series, spec=SMALL_SPEC)
    assert model.threshold_source == "nab_standard_sweep"


def test_saved_model_loads_back_with_its_sidecar_and_scores_identically(csv_model, tmp_path):
    store.save(csv_model, tmp_path / "model")
    sidecar = json.loads((tmp_path / "model" / "model.json").read_text())
    assert sidecar["model_version"] == csv_model.model_version
    assert sidecar["feature_spec"]["feature_names"] == list(SMALL_SPEC.feature_names)
    assert sidecar["feature_spec"]["season_length"] == 24
    assert sidecar["threshold"] == csv_model.threshold
    assert sidecar["training"]["fingerprint"] == csv_model.training_fingerprint
    loaded = store.load(tmp_path / "model")
    times, values = walk(9, 300)
    expected = csv_model.detector().score_encoded([None], [times], [values]).scores[0]
    assert np.array_equal(
        loaded.detector().score_encoded([None], [times], [values]).scores[0], expected
    )


def test_exported_onnx_with_its_sidecar_scores_like_scikit_learn(csv_model, tmp_path):
    out = store.export_onnx(csv_model, tmp_path / "export" / "anomaly.onnx")
    assert out.with_suffix(".json").is_file()
    detector = store.load_detector(out)
    assert detector.model_version == csv_model.model_version
    times, values = walk(10, 300)
    by_onnx = detector.score_encoded([None], [times], [values]).scores[0]
    by_sklearn = csv_model.detector().score_encoded([None], [times], [values]).scores[0]
    assert np.max(np.abs(by_onnx - by_sklearn)) < 1e-5


def test_the_default_model_loads_with_no_settings():
    detector = store.load_detector()
    assert detector.model_version.startswith("novelty-")
    assert 0 < detector.threshold < 1


def test_fingerprint_is_stable_and_changes_with_any_value():
    times, values = walk(1, 50)
    one = [TrainingSeries("a", times, values)]
    assert training_fingerprint(one) == training_fingerprint(
        [TrainingSeries("a", times, values.copy())]
    )
    assert training_fingerprint(one) != training_fingerprint(
        [TrainingSeries("a", times, values + 1e-9)]
    )


def test_a_csv_without_value_column_is_invalid_input(tmp_path):
    (tmp_path / "bad.csv").write_text("timestamp,other\n2024-01-01 00:00:00,1\n")
    with pytest.raises(InvalidInput, match="timestamp,value"):
        train([tmp_path / "bad.csv"], spec=SMALL_SPEC)


def test_missing_training_path_is_not_found(tmp_path):
    with pytest.raises(NotFound):
        train([tmp_path / "absent.csv"])


def test_history_too_short_to_warm_up_is_invalid_input(tmp_path):
    write_csv(tmp_path / "short.csv", 1, length=20)
    with pytest.raises(InvalidInput, match="too short"):
        train([tmp_path / "short.csv"], spec=SMALL_SPEC)


def test_a_sidecar_that_does_not_match_its_onnx_file_stops_loading(csv_model, tmp_path):
    out = store.export_onnx(csv_model, tmp_path / "anomaly.onnx")
    sidecar = json.loads(out.with_suffix(".json").read_text())
    out.with_suffix(".json").write_text(json.dumps({**sidecar, "model_version": "iforest-other"}))
    with pytest.raises(ConfigurationError, match="sidecar says iforest-other"):
        store.load_detector(out)
    out.with_suffix(".json").write_text(json.dumps({**sidecar, "feature_spec": {}}))
    with pytest.raises(ConfigurationError, match="malformed"):
        store.load_detector(out)


def test_the_forest_is_fitted_on_the_rows_it_will_judge(csv_model):
    # Rows without evidence always score 0, so only rows with some excess train the forest.
    assert 0 < csv_model.training_summary["fitted_rows"] < csv_model.training_summary["points"] / 5
