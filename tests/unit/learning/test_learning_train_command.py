"""`model train-remediation`: a chosen learner, the classifier as ONNX with a sidecar that must match it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from adapters.remediation_model import load_model
from adapters.replay_files import read_replay
from pipeline.errors import ConfigurationError, NotFound
from pipeline.learning import evaluation as ev

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def replay(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("replay") / "estate.jsonl"
    subprocess.run([sys.executable, "-m", "benchmarks.estate_sim", "--weeks", "6", "--seed", "4",
                    "--incidents-per-week", "60", "--out", str(path)], cwd=ROOT, check=True,
                   capture_output=True)
    return path


def train(replay: Path, out: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "smartcloudops", "model", "train-remediation",
                           "--replay", str(replay), "--out", str(out)],
                          cwd=ROOT, capture_output=True, text=True)


def test_the_written_model_scores_as_the_fitted_one_and_says_which_learner_is_used(replay, tmp_path):
    done = train(replay, tmp_path / "model")
    assert done.returncode == 0, done.stderr
    assert "used: " in done.stdout
    classifier, metadata = load_model(tmp_path / "model")
    assert metadata["learner"] in ("classifier", "rates", "rule") and metadata["reason"]
    assert set(metadata["validation"]["fix_value"]) == {"rule", "rates", "classifier"}  # the playbook is a candidate
    assert metadata["simulated"] is True and metadata["trained_on"] > 200
    assert classifier.model is None  # scored by onnxruntime alone: scikit-learn is not needed

    _, cases = read_replay(replay)
    fitted = ev.fit_classifier(cases)
    contexts = [c.context for c in cases[:50] for _ in c.allowed]
    actions = [a for c in cases[:50] for a in c.allowed]
    assert np.allclose(classifier.probabilities(contexts, actions),
                       fitted.probabilities(contexts, actions), atol=1e-5)


def test_a_sidecar_that_describes_another_graph_is_refused(replay, tmp_path):
    assert train(replay, tmp_path / "model").returncode == 0
    sidecar = tmp_path / "model" / "remediation.json"
    metadata = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**metadata, "onnx_sha256": "0" * 64}))
    with pytest.raises(ConfigurationError, match="SHA-256"):
        load_model(tmp_path / "model")
    with pytest.raises(NotFound):
        load_model(tmp_path / "nothing")


def test_an_empty_replay_is_a_clear_error(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text('{"simulated": true}\n')
    done = train(empty, tmp_path / "model")
    assert done.returncode == 1 and "holds no incidents" in done.stderr
