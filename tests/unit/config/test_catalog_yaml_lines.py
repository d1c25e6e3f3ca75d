"""The line-aware YAML loader points operators at the exact line of a bad value."""

from pathlib import Path

import pytest
from pydantic import BaseModel, Field

from config.yaml_lines import format_location, load_yaml_with_lines, validate_yaml_file
from pipeline.errors import ConfigurationError

DOCUMENT = """\
# comment line
services:
  - name: checkout
    aliases: [checkout-api, co]
  - name: payments
    tier: nine
limits:
  per_hour: 3
"""


class _Service(BaseModel):
    name: str
    tier: int = Field(default=2, ge=1, le=3)
    aliases: list[str] = []


class _File(BaseModel):
    services: list[_Service]
    limits: dict[str, int]


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "catalog.yaml"
    path.write_text(DOCUMENT, encoding="utf-8")
    return path


def test_data_is_what_safe_load_gives(document: Path) -> None:
    data, _ = load_yaml_with_lines(document)
    assert data["services"][0] == {"name": "checkout", "aliases": ["checkout-api", "co"]}
    assert data["limits"] == {"per_hour": 3}


def test_locator_gives_the_line_of_keys_and_sequence_items(document: Path) -> None:
    _, locate = load_yaml_with_lines(document)
    assert locate(("services",)) == 2
    assert locate(("services", 0)) == 3
    assert locate(("services", 1, "tier")) == 6
    assert locate(("limits", "per_hour")) == 8


def test_unknown_location_falls_back_to_the_deepest_known_parent(document: Path) -> None:
    _, locate = load_yaml_with_lines(document)
    assert locate(("services", 1, "owners", 0)) == 5
    assert locate(("nowhere",)) == 1


def test_validation_error_names_file_line_and_field(document: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        validate_yaml_file(document, _File)
    message = str(caught.value)
    assert f"{document}:6: services[1].tier:" in message


def test_malformed_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("services:\n  - name: a\n  bad: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"broken\.yaml:\d+: malformed YAML"):
        load_yaml_with_lines(path)


def test_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_yaml_with_lines(tmp_path / "absent.yaml")


def test_location_is_rendered_as_a_dotted_path() -> None:
    assert format_location(("services", 0, "aws", "region")) == "services[0].aws.region"
