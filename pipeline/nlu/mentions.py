"""Entity mentions: what was found in a chat line, where, and the placeholder that hides it."""

from __future__ import annotations

from dataclasses import dataclass

# Placeholder tokens stand in for entity values before classification, so the classifier
# learns `restart <svc>` and works for any catalog, not the names it was trained with.
PLACEHOLDERS: dict[str, str] = {
    "service": "<svc>",
    "alertname": "<alert>",
    "instance": "<inst>",
    "region": "<region>",
    "duration_s": "<dur>",
    "incident": "<inc>",
    "capacity": "<cap>",
    "number": "<num>",
    # A number that belongs to something else (`customer 4411`, `PR #4412`, `last 10 actions`).
    "quantity": "<num>",
    "target": "<target>",
}


@dataclass(frozen=True)
class Mention:
    """One entity value found in text; `value` is canonical (catalog name, int, pattern match)."""

    kind: str
    value: str | int
    start: int
    end: int

    def overlaps(self, start: int, end: int) -> bool:
        """True when this mention shares a character with [start, end)."""
        return self.start < end and start < self.end


@dataclass(frozen=True)
class Token:
    """A word of the lower-cased text, its span, and its spelling after typo correction."""

    text: str
    start: int
    end: int
    word: str
