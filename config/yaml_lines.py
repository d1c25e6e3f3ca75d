"""Line-aware YAML loading for operator files, so a bad value is reported as file:line: field.

`load_yaml_with_lines(path)` returns the plain data (what `yaml.safe_load` would give) and a
locator that maps a location tuple, as pydantic reports it (`("services", 0, "tier")`), to the
1-based line of that mapping key or sequence item. Locations that do not exist in the file
(a missing required field, a union tag pydantic inserts) resolve to the deepest prefix that does.
`validate_yaml_file(path, model)` loads, validates with a pydantic model and turns every
validation error into one `ConfigurationError` naming the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pipeline.errors import ConfigurationError

Location = tuple[Hashable, ...]
ModelT = TypeVar("ModelT", bound=BaseModel)


def load_yaml_with_lines(path: str | Path) -> tuple[Any, Locator]:
    """Load a YAML file safely and return (data, locator of 1-based lines by location)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
        lines: dict[Location, int] = {(): 1}
        if node is not None:
            _record_lines(loader, node, (), lines)
    except yaml.YAMLError as exc:
        raise ConfigurationError(_describe_yaml_error(path, exc)) from exc
    finally:
        loader.dispose()
    return data, _make_locator(lines)


def validate_yaml_file(path: str | Path, model: type[ModelT]) -> ModelT:
    """Load `path` and validate it as `model`; errors name the file, the line and the field."""
    data, locate = load_yaml_with_lines(path)
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise ConfigurationError(describe_validation_error(path, exc, locate)) from exc


def describe_validation_error(path: str | Path, error: ValidationError, locate: Locator) -> str:
    """One line per pydantic error: `file:line: field.path: message`."""
    problems = []
    for item in error.errors(include_url=False):
        field = format_location(locate.in_file(item["loc"])) or "<root>"
        problems.append(f"{path}:{locate(item['loc'])}: {field}: {item['msg']}")
    return f"{path}: {len(problems)} invalid value(s)\n" + "\n".join(problems)


def format_location(loc: Sequence[Hashable]) -> str:
    """Render ("services", 0, "aws", "region") as services[0].aws.region."""
    text = ""
    for part in loc:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def _record_lines(loader: yaml.SafeLoader, node: Node, loc: Location, lines: dict) -> None:
    if isinstance(node, MappingNode):
        for key_node, value_node in node.value:
            key = _scalar_key(loader, key_node)
            if key is None:
                continue
            child = (*loc, key)
            lines.setdefault(child, key_node.start_mark.line + 1)
            _record_lines(loader, value_node, child, lines)
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            child = (*loc, index)
            lines.setdefault(child, item.start_mark.line + 1)
            _record_lines(loader, item, child, lines)


def _scalar_key(loader: yaml.SafeLoader, key_node: Node) -> Hashable | None:
    # Keys are nearly always strings, but `1: x` is an int key and pydantic reports it as such.
    if not isinstance(key_node, ScalarNode):
        return None
    key = loader.construct_object(key_node)
    return key if isinstance(key, Hashable) else None


class Locator:
    """Maps a pydantic location to the 1-based line of the deepest part present in the file."""

    def __init__(self, lines: dict[Location, int]) -> None:
        self._lines = lines

    def __call__(self, loc: Sequence[Hashable]) -> int:
        parts = tuple(loc)
        for end in range(len(parts), -1, -1):
            found = self._lines.get(parts[:end])
            if found is not None:
                return found
        return 1

    def in_file(self, loc: Sequence[Hashable]) -> Location:
        """The location as the operator wrote it: union tags pydantic inserts are dropped."""
        parts, kept = tuple(loc), ()
        for index, part in enumerate(parts):
            following = parts[index + 1] if index + 1 < len(parts) else None
            is_tag = (*kept, part) not in self._lines and (*kept, following) in self._lines
            if not is_tag:
                kept = (*kept, part)
        return kept


def _make_locator(lines: dict[Location, int]) -> Locator:
    return Locator(lines)


def _describe_yaml_error(path: Path, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    line = mark.line + 1 if mark is not None else 1
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{path}:{line}: malformed YAML: {problem}"
