"""The chat classifier's weights file: numpy alone predicts what scikit-learn trained, to the bit.

A worker scores chat lines with weights trained once in a child process and kept under the data
dir (adapters/nlu_model.py), so it never imports scikit-learn or SciPy (~100 MB of its memory).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from adapters.nlu_model import ensure_intent_model, fingerprint, load_intent_classifier, model_file, \
    save_intent_classifier
from config.labelled_lines import read_labelled_lines
from config.vocabulary import load_vocabulary
from pipeline.nlu.classifier import IntentClassifier, train_shipped, training_set
from pipeline.nlu.examples import masked_examples

pytestmark = pytest.mark.timeout(180)

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def trained() -> IntentClassifier:
    """The shipped classifier as scikit-learn trains it in this process."""
    return train_shipped()


def labelled_masked_lines() -> list[str]:
    """Every masked line the tests hold labels for: the training set and both labelled sets."""
    lines = [text for text, _ in training_set()]
    for name in ("blind", "heldout"):
        vocabulary = load_vocabulary(DATA / f"{name}_catalog.yaml")
        lines += [text for text, _ in masked_examples(read_labelled_lines(DATA / f"{name}.jsonl"), vocabulary)]
    return lines


def test_weights_from_the_file_give_the_trained_models_labels_and_probabilities(trained, tmp_path):
    path = tmp_path / "intents.npz"
    save_intent_classifier(trained, path)
    with np.load(path, allow_pickle=False) as arrays:
        loaded = IntentClassifier.from_arrays(dict(arrays))
    lines = labelled_masked_lines()
    assert len(lines) > 1000
    assert loaded.intents == trained.intents
    differing = [line for line in lines if loaded.predict(line) != trained.predict(line)]
    assert differing == []  # the same intent, runner-up and float confidence on every line


def test_the_file_is_named_for_the_code_that_trains_it_and_trained_once(tmp_path):
    path = ensure_intent_model(tmp_path)
    assert path == model_file(tmp_path) == tmp_path / "nlu" / f"intents-{fingerprint()}.npz"
    written = path.stat().st_mtime_ns
    assert ensure_intent_model(tmp_path).stat().st_mtime_ns == written  # reused, not trained again
    assert load_intent_classifier(tmp_path).predict("restart <svc> please").intent == "remediate"


def test_saving_new_weights_drops_the_files_of_older_code(trained, tmp_path):
    stale = tmp_path / "nlu" / "intents-0123456789abcdef0123.npz"
    stale.parent.mkdir()
    stale.write_bytes(b"old")
    save_intent_classifier(trained, model_file(tmp_path))
    assert sorted(p.name for p in (tmp_path / "nlu").iterdir()) == [model_file(tmp_path).name]


CHAT_WORKER = textwrap.dedent("""
    import json, sys
    from smartcloudops.bootstrap import use_trained_intent_classifier, settings_from_environment
    from pipeline.nlu import EMPTY_CONTEXT, understand
    from pipeline.nlu.vocabulary import vocabulary_from_catalog

    use_trained_intent_classifier(settings_from_environment())  # as a worker on the chat queue does
    vocabulary = vocabulary_from_catalog({"services": [{"name": "billing", "aliases": []}], "alerts": []})
    result = understand("could you give billing a kick", EMPTY_CONTEXT, vocabulary)
    loaded = sorted({n.split(".")[0] for n in sys.modules if n.split(".")[0] in ("sklearn", "scipy")})
    print(json.dumps({"intent": result.intent, "source": result.source, "loaded": loaded}))
""")


def test_a_worker_understands_a_line_the_classifier_answers_without_scikit_learn_or_scipy(tmp_path):
    env = {**os.environ, "SCO_DATA_DIR": str(tmp_path), "SCO_LOG_LEVEL": "WARNING"}
    for name in ("SCO_BROKER_URL", "SCO_DATABASE_URL", "SCO_REDIS_URL"):
        env.pop(name, None)
    done = subprocess.run([sys.executable, "-c", CHAT_WORKER], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert (report["intent"], report["source"]) == ("remediate", "classifier")
    assert report["loaded"] == [], f"understanding a line imported {report['loaded']}"
    assert model_file(tmp_path).is_file()  # trained by a child of the worker, which kept only the weights
