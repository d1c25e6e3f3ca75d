"""`smartcloudops model train|export` and `smartcloudops evaluate nab` end to end on small files."""

import argparse
import json

import pandas as pd
from anomaly_helpers import walk

from smartcloudops.commands import model as model_command


def run_cli(*argv):
    parser = argparse.ArgumentParser(prog="smartcloudops")
    model_command.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def write_nab_folder(root):
    for seed, name in ((1, "a.csv"), (2, "b.csv")):
        times, values = walk(seed, 700)
        stamps = pd.to_datetime(times, unit="s").strftime("%Y-%m-%d %H:%M:%S")
        path = root / "data" / "demo" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"timestamp": stamps, "value": values}).to_csv(path, index=False)
        if name == "a.csv":
            window = [[stamps[330] + ".000000", stamps[380] + ".000000"]]
    (root / "labels").mkdir()
    (root / "labels" / "combined_windows.json").write_text(
        json.dumps({"demo/a.csv": window, "demo/b.csv": []})
    )


def test_train_export_and_evaluate_a_forest_from_the_command_line(tmp_path, capsys):
    write_nab_folder(tmp_path / "nab")
    assert (
        run_cli(
            "model",
            "train",
            "--method",
            "forest",
            "--data",
            str(tmp_path / "nab"),
            "--out",
            str(tmp_path / "model"),
        )
        == 0
    )
    assert "written to" in capsys.readouterr().out
    assert (
        run_cli(
            "model", "export", "--model", str(tmp_path / "model"), "--out", str(tmp_path / "x.onnx")
        )
        == 0
    )
    assert (tmp_path / "x.onnx").is_file() and (tmp_path / "x.json").is_file()
    code = run_cli(
        "evaluate",
        "nab",
        "--data",
        str(tmp_path / "nab"),
        "--out",
        str(tmp_path / "out"),
        "--model",
        str(tmp_path / "x.onnx"),
        "--name",
        "mine",
    )
    printed = capsys.readouterr().out
    assert code == 0
    assert all(
        profile in printed for profile in ("standard", "reward_low_FP_rate", "reward_low_FN_rate")
    )
    assert (tmp_path / "out" / "mine" / "demo" / "mine_a.csv").is_file()


def test_a_novelty_model_is_trained_by_default_and_evaluated_from_its_sidecar(tmp_path, capsys):
    write_nab_folder(tmp_path / "nab")
    model_dir = tmp_path / "model"
    assert run_cli("model", "train", "--data", str(tmp_path / "nab"), "--out", str(model_dir)) == 0
    sidecar = json.loads((model_dir / "model.json").read_text())
    assert sidecar["kind"] == "novelty" and sidecar["threshold_source"] == "nab_standard_sweep"
    assert not (model_dir / "model.onnx").exists()
    out = tmp_path / "out"
    assert (
        run_cli("evaluate", "nab", "--data", str(tmp_path / "nab"), "--out", str(out), "--model", str(model_dir))
        == 0
    )
    assert "at the model's own threshold" in capsys.readouterr().out


def test_cross_validation_from_the_command_line_prints_cv_beside_in_sample(tmp_path, capsys):
    write_nab_folder(tmp_path / "nab")
    assert run_cli("evaluate", "nab", "--data", str(tmp_path / "nab"), "--cv", "file") == 0
    printed = capsys.readouterr().out
    assert "cross-validated by file" in printed
    assert "in-sample (optimistic)" in printed and "lead time" in printed


def test_evaluate_without_a_model_uses_the_shipped_default(tmp_path, capsys):
    write_nab_folder(tmp_path / "nab")
    assert (
        run_cli("evaluate", "nab", "--data", str(tmp_path / "nab"), "--out", str(tmp_path / "out"))
        == 0
    )
    assert "NAB scores of smartcloudops" in capsys.readouterr().out


def test_training_on_a_missing_path_exits_1_with_a_message(tmp_path, capsys):
    assert (
        run_cli("model", "train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "m"))
        == 1
    )
    assert "not found" in capsys.readouterr().err


def test_evaluating_a_folder_without_nab_data_exits_1(tmp_path, capsys):
    assert run_cli("evaluate", "nab", "--data", str(tmp_path), "--out", str(tmp_path / "out")) == 1
    assert "no NAB data folder" in capsys.readouterr().err
