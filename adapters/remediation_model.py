"""The outcome classifier on disk: `remediation.onnx` and `remediation.json` in one folder.

The JSON sidecar holds what the ONNX graph cannot: the feature columns (alert names, actions,
series kinds), which learner the training run chose and why, the prior strength for the rates,
and the graph's SHA-256, checked on load so a sidecar never describes another graph.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from adapters.onnx_scorer import OnnxProbabilityScorer
from pipeline.errors import ConfigurationError, NotFound
from pipeline.learning.classifier import OutcomeClassifier
from pipeline.learning.features import SERIES_KINDS, FeatureSpace

ONNX_FILE, METADATA_FILE = "remediation.onnx", "remediation.json"
FORMAT = 1


def write_model(folder: Path, classifier: OutcomeClassifier, **about: Any) -> dict[str, Any]:
    """Write the classifier's ONNX export and its sidecar; return the sidecar's content."""
    graph = classifier.to_onnx()
    metadata = {
        "format": FORMAT,
        **about,
        "alertnames": list(classifier.space.alertnames),
        "actions": list(classifier.space.actions),
        "series_kinds": list(SERIES_KINDS),
        "onnx_sha256": hashlib.sha256(graph).hexdigest(),
        "trained_at": datetime.now(UTC).isoformat(),
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / ONNX_FILE).write_bytes(graph)
    (folder / METADATA_FILE).write_text(json.dumps(metadata, indent=2, default=str) + "\n", encoding="utf-8")
    return metadata


def load_model(folder: Path) -> tuple[OutcomeClassifier, dict[str, Any]]:
    """The classifier scored through onnxruntime, and its sidecar; refuses a mismatched pair."""
    graph_path, metadata_path = folder / ONNX_FILE, folder / METADATA_FILE
    if not graph_path.is_file() or not metadata_path.is_file():
        raise NotFound(f"{folder} holds no {ONNX_FILE} and {METADATA_FILE} (model train-remediation)")
    graph = graph_path.read_bytes()
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise ConfigurationError(f"{metadata_path} is not JSON: {error}") from error
    if metadata.get("format") != FORMAT:
        raise ConfigurationError(f"{metadata_path}: format {metadata.get('format')!r}, expected {FORMAT}")
    if metadata.get("onnx_sha256") != hashlib.sha256(graph).hexdigest():
        raise ConfigurationError(f"{graph_path} is not the graph {metadata_path} describes (SHA-256 differs)")
    if tuple(metadata.get("series_kinds", ())) != SERIES_KINDS:
        raise ConfigurationError(f"{metadata_path} was trained on other series kinds: retrain it")
    space = FeatureSpace(tuple(metadata["alertnames"]), tuple(metadata["actions"]))
    return OutcomeClassifier(space, None, OnnxProbabilityScorer(graph)), metadata
