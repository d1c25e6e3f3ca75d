"""Read the operator's service catalog (config/catalog.yaml) into the domain's Catalog.

The types live in pipeline/catalog.py; this module only reads and validates the file, so a bad
value stops start with file:line: field.
"""

from __future__ import annotations

from pathlib import Path

from config.yaml_lines import validate_yaml_file
from pipeline.catalog import Catalog

DEFAULT_CATALOG_PATH = Path(__file__).with_name("catalog.yaml")


def load_catalog(path: str | Path = DEFAULT_CATALOG_PATH) -> Catalog:
    """Load and validate the catalog; a bad value raises ConfigurationError naming file:line."""
    return validate_yaml_file(path, Catalog)
