"""evaluate_nab: replays a NAB-layout folder through the streaming detector and scores it."""

import json

import numpy as np
import pandas as pd
import pytest

from adapters.anomaly_model import load_detector
from pipeline.errors import InvalidInput
from adapters.nab_evaluation import evaluate_nab
from pipeline.nab.scoring import scaled_sigmoid

ROWS = 800
JUMP_AT = 600


def write_corpus(root, windows):
    """Two 5-minute series: one steps up at row 600, one is plain noise."""
    rng = np.random.default_rng(7)
    times = pd.date_range("2024-01-01", periods=ROWS, freq="5min")
    jump = 10 + rng.normal(0, 0.5, ROWS)
    jump[JUMP_AT:] += 8
    noise = 50 + rng.normal(0, 2, ROWS)
    for name, values in (("jump.csv", jump), ("noise.csv", noise)):
        path = root / "data" / "demo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": times.strftime("%Y-%m-%d %H:%M:%S"), "value": values}).to_csv(
            path, index=False
        )
    labels = root / "labels" / "combined_windows.json"
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(json.dumps(windows))
    return times


def window(times, first, last):
    return [
        times[first].strftime("%Y-%m-%d %H:%M:%S.%f"),
        times[last].strftime("%Y-%m-%d %H:%M:%S.%f"),
    ]


@pytest.fixture(scope="module")
def detector():
    return load_detector()


def test_results_files_have_nab_columns_scores_in_range_and_labels_from_windows(tmp_path, detector):
    times = write_corpus(tmp_path / "nab", {})
    write_corpus(
        tmp_path / "nab", {"demo/jump.csv": [window(times, 560, 640)], "demo/noise.csv": []}
    )
    evaluate_nab(tmp_path / "nab", tmp_path / "out", detector, "sco")
    result = pd.read_csv(tmp_path / "out" / "sco" / "demo" / "sco_jump.csv")
    assert list(result.columns) == ["timestamp", "value", "anomaly_score", "label"]
    assert len(result) == ROWS
    assert result["anomaly_score"].between(0, 1).all()
    assert result["label"].sum() == 81
    assert result["label"].iloc[560] == 1 and result["label"].iloc[559] == 0
    assert result["timestamp"].iloc[0] == "2024-01-01 00:00:00"
    assert (tmp_path / "out" / "sco" / "sco_standard_scores.csv").is_file()


def test_the_level_shift_is_found_inside_its_window_and_scores_well(tmp_path, detector):
    times = write_corpus(tmp_path / "nab", {})
    write_corpus(
        tmp_path / "nab", {"demo/jump.csv": [window(times, 560, 640)], "demo/noise.csv": []}
    )
    scores = evaluate_nab(tmp_path / "nab", tmp_path / "out", detector, "sco")
    assert set(scores) == {
        "standard",
        "reward_low_FP_rate",
        "reward_low_FN_rate",
        "standard_at_model_threshold",
    }
    result = pd.read_csv(tmp_path / "out" / "sco" / "demo" / "sco_jump.csv")
    assert int(result["anomaly_score"].idxmax()) == JUMP_AT
    # Detected at row 600 of the window 560-640 (position -41/81) with no false positive.
    hit = scaled_sigmoid(np.array(-41 / 81)) / scaled_sigmoid(np.array(-1.0))
    assert scores["standard"] == pytest.approx(100 * (hit + 1) / 2, abs=1e-6)


def test_scores_do_not_depend_on_the_labels(tmp_path, detector):
    times = write_corpus(tmp_path / "a", {"demo/jump.csv": [], "demo/noise.csv": []})
    write_corpus(
        tmp_path / "b",
        {"demo/jump.csv": [window(times, 100, 200)], "demo/noise.csv": [window(times, 700, 750)]},
    )
    evaluate_nab(tmp_path / "a", tmp_path / "out_a", detector, "sco")
    evaluate_nab(tmp_path / "b", tmp_path / "out_b", detector, "sco")
    for name in ("sco_jump.csv", "sco_noise.csv"):
        a = pd.read_csv(tmp_path / "out_a" / "sco" / "demo" / name)
        b = pd.read_csv(tmp_path / "out_b" / "sco" / "demo" / name)
        assert a["anomaly_score"].equals(b["anomaly_score"])
        assert not a["label"].equals(b["label"])


def test_a_window_edge_that_is_not_a_row_is_invalid_input(tmp_path, detector):
    times = write_corpus(tmp_path / "nab", {})
    off_grid = (times[300] + pd.Timedelta(minutes=1)).strftime("%Y-%m-%d %H:%M:%S.%f")
    write_corpus(tmp_path / "nab", {"demo/jump.csv": [[off_grid, window(times, 0, 350)[1]]]})
    with pytest.raises(InvalidInput, match="not a row"):
        evaluate_nab(tmp_path / "nab", tmp_path / "out", detector, "sco")
