"""The chat classifier's weights in a file under the data dir, so a worker scores with numpy alone.

Training imports scikit-learn and SciPy (~100 MB of a process that keeps them). The file is
trained once, in a short-lived child (`smartcloudops nlu train`), named after a fingerprint of
what training depends on (the package's NLU sources and the scikit-learn and numpy versions), so
a changed corpus or library trains a new one and a stale file is never read. Plain arrays
(`np.load(allow_pickle=False)`): loading runs no code from the file.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from importlib import metadata, resources
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import ConfigurationError

if TYPE_CHECKING:
    from pipeline.nlu.classifier import IntentClassifier

FORMAT = "1"
# The modules whose code decides the trained weights (the corpus, the examples, the features).
_TRAINING_SOURCES = ("classifier.py", "corpus.py", "development_examples.py")


def fingerprint() -> str:
    """A digest of everything the trained weights depend on; imports neither numpy nor the corpus."""
    digest = hashlib.sha256(FORMAT.encode())
    package = resources.files("pipeline.nlu")
    for name in _TRAINING_SOURCES:
        digest.update(name.encode() + b"\0" + (package / name).read_bytes())
    for distribution in ("scikit-learn", "numpy"):
        digest.update(f"{distribution}=={_version(distribution)}".encode())
    return digest.hexdigest()[:20]


def model_file(data_dir: Path) -> Path:
    """Where the weights of this code's classifier are kept."""
    return Path(data_dir) / "nlu" / f"intents-{fingerprint()}.npz"


def ensure_intent_model(data_dir: Path, *, preexec_fn: Callable[[], None] | None = None) -> Path:
    """The weights file, trained in a child process first if this code has none yet.

    `preexec_fn` runs in the child before training (a process supervisor: have it die with its parent).
    """
    path = model_file(data_dir)
    if not path.is_file():
        done = subprocess.run([sys.executable, "-m", "smartcloudops", "nlu", "train", "--out", str(path)],
                              stdout=subprocess.DEVNULL, preexec_fn=preexec_fn)
        if done.returncode != 0 or not path.is_file():
            raise ConfigurationError(f"training the chat classifier into {path} failed (exit {done.returncode})")
    return path


def load_intent_classifier(data_dir: Path) -> IntentClassifier:
    """The classifier from its weights file (numpy only), trained in a child first if need be."""
    import numpy as np

    from pipeline.nlu.classifier import IntentClassifier

    with np.load(ensure_intent_model(data_dir), allow_pickle=False) as arrays:
        return IntentClassifier.from_arrays(dict(arrays))


def save_intent_classifier(classifier: IntentClassifier, path: Path) -> None:
    """Write the weights atomically (a reader never sees half a file) and drop older versions beside it."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
    with partial.open("wb") as out:
        np.savez(out, **classifier.to_arrays())
    os.replace(partial, path)
    for old in path.parent.glob("intents-*.npz"):
        if old != path:
            old.unlink(missing_ok=True)


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "absent"
