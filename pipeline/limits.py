"""What the store can hold: the one definition of input limits the edge and the store both apply.

The HTTP edge refuses (4xx) exactly what a worker would fail to store, and a worker quarantines
an item that breaks these limits anyway (an older producer, a hand-made message) instead of
failing its whole batch. Column widths in `adapters.db.schema` are these numbers; a test keeps
them equal.
"""

from __future__ import annotations

import json
import math
from collections.abc import Collection, Iterable, Mapping
from datetime import datetime, timedelta, timezone
from typing import Any

from pipeline.errors import InvalidInput

# Column widths of the alert path (adapters.db.schema: incidents, alerts).
ALERTNAME_CHARS = 256
SERVICE_CHARS = 256
SEVERITY_CHARS = 64
CORRELATION_KEY_CHARS = 512
FINGERPRINT_CHARS = 64
LABEL_NAME_CHARS = 256
LABEL_VALUE_CHARS = 4096
INDEXED_LABEL_CHARS = {"alertname": ALERTNAME_CHARS, "service": SERVICE_CHARS, "severity": SEVERITY_CHARS}
_INDEXED_LABEL_ITEMS = tuple(INDEXED_LABEL_CHARS.items())

# Integer columns: PostgreSQL INTEGER and BIGINT.
INT32_MAX = 2**31 - 1
BIGINT_MAX = 2**63 - 1

# Times an alert may carry. Correlation adds and subtracts its window; the margin keeps that
# arithmetic inside datetime's range (years 1..9999) for any sane window.
TIME_MIN = datetime(1970, 1, 1, tzinfo=timezone.utc)
TIME_MAX = datetime(9999, 1, 1, tzinfo=timezone.utc) - timedelta(days=1)

# JSON documents the edge parses: deeper nesting than this is refused before it can recurse.
JSON_MAX_DEPTH = 32


class OutOfLimits(InvalidInput, ValueError):
    """A value the store cannot hold. A ValueError too, so pydantic validators report it as a field error."""


def check_text(value: str, what: str, max_chars: int | None = None) -> str:
    """`value` if PostgreSQL text can hold it: no NUL, no lone surrogate, at most `max_chars`."""
    if "\x00" in value:
        raise OutOfLimits(f"{what} contains a NUL character")
    if not _utf8_encodable(value):
        raise OutOfLimits(f"{what} contains a lone UTF-16 surrogate (not valid Unicode text)")
    if max_chars is not None and len(value) > max_chars:
        raise OutOfLimits(f"{what} is longer than {max_chars} characters")
    return value


def check_texts(values: Iterable[tuple[str, str]], what: str) -> None:
    """check_text over (name, value) pairs of a label set or annotations."""
    pairs = tuple(values)
    if _plain_texts([name for name, _ in pairs], [value for _, value in pairs]):
        return  # the usual case, checked at once; a failing set is walked for its message
    for name, value in pairs:
        check_text(name, f"{what} name", LABEL_NAME_CHARS)
        check_text(value, f"{what} {name[:64]!r}", LABEL_VALUE_CHARS)


def check_int(value: int, what: str, *, low: int = 0, high: int = BIGINT_MAX) -> int:
    """`value` if it fits its column: low <= value <= high (BIGINT by default)."""
    if not low <= value <= high:
        raise OutOfLimits(f"{what} must be between {low} and {high}, got {value}")
    return value


def check_finite(value: float, what: str) -> float:
    """`value` if it is a finite float (JSON and the model cannot carry NaN or infinities)."""
    if not math.isfinite(value):
        raise OutOfLimits(f"{what} must be a finite number, got {value!r}")
    return value


def utc_within_limits(moment: datetime, what: str) -> datetime:
    """`moment` as aware UTC, if it lies within TIME_MIN..TIME_MAX (naive is taken as UTC)."""
    try:
        utc = moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)
    except (OverflowError, ValueError) as exc:  # year 1 with a positive offset, 9999 with a negative one
        raise OutOfLimits(f"{what} {moment.isoformat()} is outside {TIME_MIN.year}..{TIME_MAX.year}") from exc
    if not TIME_MIN <= utc <= TIME_MAX:
        raise OutOfLimits(f"{what} {utc.isoformat()} is outside {TIME_MIN.date()}..{TIME_MAX.date()}")
    return utc


def _key_length(labels: Mapping[str, str], key_labels: tuple[str, ...]) -> int:
    """len(correlation_key_of(labels, key_labels)) without building the key."""
    length = max(0, len(key_labels) - 1)  # the commas
    for name in key_labels:  # a loop, not sum() over a generator: it runs for every alert of a webhook
        length += len(name) + 1 + len(labels.get(name, ""))
    return length


def _indexed_within(labels: Mapping[str, str]) -> bool:
    """Every indexed label (alertname, service, severity) fits its column."""
    for name, limit in _INDEXED_LABEL_ITEMS:
        if len(labels.get(name, "")) > limit:
            return False
    return True


def correlation_key_of(labels: Mapping[str, str], key_labels: Iterable[str]) -> str:
    """The joined correlation key (as pipeline.correlation builds it), if its column can hold it."""
    key = ",".join(f"{name}={labels.get(name, '')}" for name in key_labels)
    if len(key) > CORRELATION_KEY_CHARS:
        raise OutOfLimits(
            f"the correlation key of labels {', '.join(key_labels)} is {len(key)} characters long; "
            f"at most {CORRELATION_KEY_CHARS} fit")
    return key


def check_alert_fields(labels: Mapping[str, str], annotations: Mapping[str, str], *, key_labels: Iterable[str],
                       fingerprint: str, generator_url: str) -> None:
    """Every limit one alert must meet to be stored: the edge refuses it, a worker quarantines it."""
    if not isinstance(key_labels, tuple):
        key_labels = tuple(key_labels)
    if (_plain_texts([*labels, *annotations], [*labels.values(), *annotations.values()], fingerprint, generator_url)
            and _indexed_within(labels)
            and _key_length(labels, key_labels) <= CORRELATION_KEY_CHARS and len(fingerprint) <= FINGERPRINT_CHARS):
        return  # the usual alert, checked at once; one that fails is walked for what is wrong
    walk_alert_fields(labels, annotations, key_labels=key_labels, fingerprint=fingerprint, generator_url=generator_url)


def alerts_within_limits(alerts: Iterable[tuple[Mapping[str, str], Mapping[str, str], str, str]], *,
                         key_labels: tuple[str, ...]) -> bool:
    """True when every (labels, annotations, fingerprint, generator URL) passes check_alert_fields: one
    pass over a whole webhook's alerts. False only says that some alert must be checked on its own."""
    names: list[str] = []
    values: list[str] = []
    others: list[str] = []
    for labels, notes, fingerprint, generator_url in alerts:
        if (not _indexed_within(labels) or _key_length(labels, key_labels) > CORRELATION_KEY_CHARS
                or len(fingerprint) > FINGERPRINT_CHARS):
            return False
        names += labels
        names += notes
        values += labels.values()
        values += notes.values()
        others += (fingerprint, generator_url)
    return _plain_texts(names, values, *others)


def walk_alert_fields(labels: Mapping[str, str], annotations: Mapping[str, str], *, key_labels: tuple[str, ...],
                      fingerprint: str, generator_url: str) -> None:
    """check_alert_fields field by field, raising for the first field out of its limits."""
    check_texts(labels.items(), "label")
    check_texts(annotations.items(), "annotation")
    for name, limit in INDEXED_LABEL_CHARS.items():
        check_text(labels.get(name, ""), f"label {name!r}", limit)
    correlation_key_of(labels, tuple(key_labels))
    check_text(fingerprint, "fingerprint", FINGERPRINT_CHARS)
    check_text(generator_url, "generatorURL")


def check_json_value(value: Any, what: str = "body") -> Any:
    """`value` (parsed JSON) if no string in it holds NUL or a lone surrogate and it nests at most JSON_MAX_DEPTH."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > JSON_MAX_DEPTH:
                raise OutOfLimits(f"{what} nests deeper than {JSON_MAX_DEPTH} levels")
            children = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in children:
                if isinstance(key, str):
                    check_text(key, f"{what} key")
                stack.append((child, depth + 1))
        elif isinstance(item, str):
            check_text(item, f"{what} string")
        elif isinstance(item, float):
            check_finite(item, f"{what} number")
        elif isinstance(item, int) and not isinstance(item, bool):
            check_int(item, f"{what} integer", low=-BIGINT_MAX - 1)
    return value


def parse_json(body: bytes | str, what: str = "body") -> Any:
    """Parse JSON within the limits; InvalidInput (never RecursionError) for anything else."""
    if _nesting_exceeds(body, JSON_MAX_DEPTH):
        raise OutOfLimits(f"{what} nests deeper than {JSON_MAX_DEPTH} levels")
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"{what} is not valid JSON: {exc}") from exc
    return check_json_value(value, what)


def _nesting_exceeds(body: bytes | str, limit: int) -> bool:
    # Counting brackets outside strings before parsing keeps a 100,000-deep document from ever recursing.
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    if text.count("[") + text.count("{") <= limit:
        return False
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            depth += 1
            if depth > limit:
                return True
        elif char in "]}":
            depth -= 1
    return False


def _plain_texts(names: Collection[str], values: Collection[str], *others: str) -> bool:
    """Every name and value within its length, and no text holds a NUL or a lone surrogate (one pass
    over the joined text: a surrogate stays unencodable beside any neighbour)."""
    if max(map(len, names), default=0) > LABEL_NAME_CHARS or max(map(len, values), default=0) > LABEL_VALUE_CHARS:
        return False
    joined = "".join([*names, *values, *others])
    return "\x00" not in joined and _utf8_encodable(joined)


def _utf8_encodable(value: str) -> bool:
    if value.isascii():
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
