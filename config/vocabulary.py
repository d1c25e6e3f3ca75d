"""Read a service catalog file into the chat recogniser's Vocabulary (names and aliases only)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from pipeline.errors import ConfigurationError
from pipeline.nlu.vocabulary import Vocabulary, vocabulary_from_catalog


def load_vocabulary(path: str | Path) -> Vocabulary:
    """Read a service catalog YAML file into a Vocabulary; errors name the file."""
    path = Path(path)
    try:
        catalog = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"{path}: cannot read service catalog: {exc}") from exc
    if not isinstance(catalog, Mapping):
        raise ConfigurationError(f"{path}: a service catalog must be a mapping")
    try:
        return vocabulary_from_catalog(catalog)
    except ConfigurationError as exc:
        raise ConfigurationError(f"{path}: {exc}") from exc
