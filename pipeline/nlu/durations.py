"""Durations as people type them: `2h`, `45m`, `90 minutes`, `1h30m`, `an hour`, `half an hour`."""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNIT_SECONDS: dict[str, int] = {}
for _names, _seconds in (
    ("s sec secs second seconds", 1),
    ("m min mins minute minutes minuts minits mintues minues", 60),
    ("h hr hrs hour hours hous hors houres horus", 3600),
    ("d day days dys", 86400),
    ("w wk wks week weeks", 604800),
):
    for _name in _names.split():
        _UNIT_SECONDS[_name] = _seconds

_WORD_NUMBERS: dict[str, float] = {
    "a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "fifteen": 15, "twenty": 20, "thirty": 30, "forty": 40, "forty-five": 45,
    "fortyfive": 45, "fifty": 50, "sixty": 60, "ninety": 90, "couple": 2, "few": 3,
}

_UNIT = "|".join(sorted(_UNIT_SECONDS, key=len, reverse=True))
_WORDS = "|".join(sorted(map(re.escape, _WORD_NUMBERS), key=len, reverse=True))
# A digit count may touch its unit (`2h`); a word count may not, or `and` would read as
# `an` + `d`. `(?![a-z])` after the unit stops `2m` from matching inside `2mb`.
_QUANTITY = rf"(?:(\d+(?:\.\d+)?)\s*|(?<![a-z])({_WORDS})(?:\s+|-))"
_PART = rf"{_QUANTITY}(?:of\s+)?(?:an?\s+)?({_UNIT})(?![a-z])"
_HALF = (
    r"(?:half\s+an?\s+(?:hour|hr|day)|an?\s+(?:hour|day)\s+and\s+a\s+half|"
    r"(?:a\s+)?quarter\s+(?:of\s+)?an?\s+hour|(?:a\s+)?quarter\s+hour)"
)
_ANY_PART = re.sub(r"\((?!\?)", "(?:", _PART)
_DURATION_RE = re.compile(
    rf"(?<![a-z0-9-])(?:{_HALF}|(?:an?\s+)?{_ANY_PART}(?:\s*(?:,|and)?\s*{_ANY_PART})*"
    rf"(?:\s*\d+(?![a-z0-9]))?)"
)
_PART_RE = re.compile(_PART)


@dataclass(frozen=True)
class DurationMention:
    """A duration found in text: its length in seconds and where it was written."""

    seconds: int
    start: int
    end: int


def find_durations(text: str) -> list[DurationMention]:
    """Every duration in lower-cased `text`, left to right."""
    found = []
    for match in _DURATION_RE.finditer(text):
        seconds = _seconds_of(match.group(0))
        if seconds > 0:
            found.append(DurationMention(seconds, match.start(), match.end()))
    return found


def parse_duration(text: str) -> int | None:
    """Seconds in `text` when the whole of it is one duration, else None."""
    cleaned = text.strip().lower()
    mentions = find_durations(cleaned)
    if len(mentions) == 1 and mentions[0].start == 0 and mentions[0].end == len(cleaned):
        return mentions[0].seconds
    return None


def _seconds_of(expression: str) -> int:
    special = _special_seconds(expression)
    if special is not None:
        return special
    total = 0.0
    last_unit = 0
    for digits, word, unit in _PART_RE.findall(expression):
        last_unit = _UNIT_SECONDS[unit]
        total += _number(digits or word) * last_unit
    trailing = re.search(r"(?<![.\d])(\d+)\s*$", expression)
    if trailing and last_unit > 1 and not expression.rstrip().endswith(tuple(_UNIT_SECONDS)):
        # `1h30` means one hour thirty minutes: the bare tail is in the next smaller unit.
        total += int(trailing.group(1)) * _smaller_unit(last_unit)
    return round(total)


def _special_seconds(expression: str) -> int | None:
    squashed = " ".join(expression.split())
    if squashed.startswith("half"):
        return 1800 if "hour" in squashed or "hr" in squashed else 43200
    if "and a half" in squashed:
        return 5400 if "hour" in squashed else 129600
    if "quarter" in squashed:
        return 900
    return None


def _number(token: str) -> float:
    return _WORD_NUMBERS[token] if token in _WORD_NUMBERS else float(token)


def _smaller_unit(unit: int) -> int:
    return {604800: 86400, 86400: 3600, 3600: 60, 60: 1}.get(unit, 1)
