"""What the recogniser may name: services (canonical names and aliases) and alert names.

Built from the parsed service catalog; config/vocabulary.py reads the file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import ConfigurationError

_SEPARATORS = re.compile(r"[\s_\-./]+")


def squash(text: str) -> str:
    """Lower-case `text` without separators, so `api gateway`, `api-gateway`, `API_Gateway` agree."""
    return _SEPARATORS.sub("", text.lower())


@dataclass(frozen=True)
class Vocabulary:
    """Spellings that name a service or an alert, each mapped to its canonical name."""

    services: Mapping[str, str]
    alerts: Mapping[str, str]
    service_names: tuple[str, ...] = field(default=())
    alert_names: tuple[str, ...] = field(default=())

    @classmethod
    def build(
        cls, services: Mapping[str, Iterable[str]], alerts: Iterable[str]
    ) -> Vocabulary:
        """Vocabulary from {canonical service: aliases} and the alert names."""
        spellings: dict[str, str] = {}
        for name, aliases in services.items():
            for spelling in (name, *aliases):
                if squash(spelling):
                    spellings.setdefault(squash(spelling), name)
        written = {
            spelling.lower(): name for name, aliases in services.items()
            for spelling in (name, *aliases)
        }
        for stem, name in _unique_stems(written).items():
            spellings.setdefault(stem, name)
        alert_names = tuple(dict.fromkeys(alerts))
        return cls(
            services=spellings,
            alerts={squash(alert): alert for alert in alert_names if squash(alert)},
            service_names=tuple(services),
            alert_names=alert_names,
        )


_NAME_SUFFIXES = ("service", "svc", "api", "server", "app")


def _unique_stems(written: Mapping[str, str]) -> dict[str, str]:
    # `notification-svc` is also called `notification` (`the notification service`), as
    # long as no other service's name shortens to the same stem. Only a suffix written
    # as a separate part counts: `gameserver` is not `game`.
    stems: dict[str, set[str]] = {}
    for spelling, name in written.items():
        parts = [part for part in _SEPARATORS.split(spelling) if part]
        if len(parts) > 1 and parts[-1] in _NAME_SUFFIXES:
            stem = "".join(parts[:-1])
            if len(stem) >= 4:
                stems.setdefault(stem, set()).add(name)
    return {stem: names.pop() for stem, names in stems.items() if len(names) == 1}


def vocabulary_from_catalog(catalog: Mapping[str, Any]) -> Vocabulary:
    """Vocabulary from a parsed service catalog: `services: [{name, aliases}]`, `alerts: [...]`."""
    services: dict[str, list[str]] = {}
    for index, entry in enumerate(catalog.get("services") or []):
        name, aliases = _service_entry(entry, index)
        services[name] = aliases
    alerts = [_alert_name(entry, index) for index, entry in enumerate(catalog.get("alerts") or [])]
    return Vocabulary.build(services, alerts)


def _service_entry(entry: Any, index: int) -> tuple[str, list[str]]:
    if isinstance(entry, str):
        return entry, []
    if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
        raise ConfigurationError(f"services[{index}]: needs a string `name`")
    aliases = entry.get("aliases") or []
    if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
        raise ConfigurationError(f"services[{index}].aliases: must be a list of strings")
    return entry["name"], list(aliases)


def _alert_name(entry: Any, index: int) -> str:
    if isinstance(entry, str):
        return entry
    if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
        return entry["name"]
    raise ConfigurationError(f"alerts[{index}]: must be a name or a mapping with `name`")


EMPTY_VOCABULARY = Vocabulary.build({}, [])
