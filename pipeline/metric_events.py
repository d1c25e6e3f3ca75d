"""Metric samples on their way from the intake to the scoring workers: normalised, compact, batched.

Rules every intake applies (remote write and JSON alike), so a worker sees one shape:
- a series needs a non-empty `__name__` and valid Prometheus label names; bad ones are refused;
- timestamps are integer milliseconds in [1970, 9999]; NaN, infinite or out-of-range: refused;
- NaN values are dropped and counted (Prometheus marks a stale series with a NaN sample), and so
  are infinite ones (JSON cannot carry them and the model cannot score them);
- samples of a series are sorted by time; an exact-duplicate timestamp keeps its first sample;
- entries with the same label set in one request are merged into one series.
Samples older than what a series has already had scored are dropped later, by the worker,
which alone knows the series' state.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import InvalidInput

METRIC_SAMPLES_RECEIVED = "dev.smartcloudops.metrics.samples.received"

LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
MAX_LABEL_VALUE = 4096
MAX_LABELS = 128
MIN_TIMESTAMP_MS = 0
MAX_TIMESTAMP_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z: datetime's upper bound


@dataclass(frozen=True, slots=True, eq=False)
class SeriesSamples:
    """One series' samples of one request: sorted by time, unique timestamps, finite values.

    The intake builds tuples; a worker decodes the message straight into numpy arrays.
    """

    key: str
    labels: Mapping[str, str]
    timestamps_ms: Sequence[int]
    values: Sequence[float]


@dataclass(frozen=True, slots=True)
class DropCounts:
    """Samples an intake accepted but did not forward, by reason."""

    non_finite: int = 0
    duplicate: int = 0

    def __add__(self, other: DropCounts) -> DropCounts:
        return DropCounts(self.non_finite + other.non_finite, self.duplicate + other.duplicate)


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Many series' samples in one broker message: labels once per series, then two arrays."""

    series: tuple[SeriesSamples, ...]
    dropped: DropCounts = field(default_factory=DropCounts)

    @property
    def sample_count(self) -> int:
        return sum(len(s.timestamps_ms) for s in self.series)

    def to_data(self) -> dict[str, Any]:
        """The compact JSON-ready form of the message."""
        return {
            "series": [
                {
                    "key": s.key,
                    "labels": dict(s.labels),
                    "t": _plain(s.timestamps_ms),
                    "v": _plain(s.values),
                }
                for s in self.series
            ],
            "dropped": {"non_finite": self.dropped.non_finite, "duplicate": self.dropped.duplicate},
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> SampleBatch:
        """Rebuild from a broker message; a malformed one is an InvalidInput."""
        try:
            series = tuple(_series_from_data(item) for item in data["series"])
            dropped = data.get("dropped") or {}
            return cls(
                series,
                DropCounts(int(dropped.get("non_finite", 0)), int(dropped.get("duplicate", 0))),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidInput(f"metric sample batch is malformed: {exc!r}") from exc


def _series_from_data(item: Mapping[str, Any]) -> SeriesSamples:
    # numpy converts (and type-checks) the whole column at once: no Python object per sample. Imported
    # here: only the worker decodes into arrays; the HTTP intake builds tuples and never loads numpy.
    import numpy as np

    timestamps = np.asarray(item["t"], dtype=np.int64)
    values = np.asarray(item["v"], dtype=np.float64)
    if timestamps.ndim != 1 or timestamps.shape != values.shape:
        raise ValueError(
            f"series {item['key']} has {timestamps.shape} timestamps and {values.shape} values"
        )
    return SeriesSamples(
        str(item["key"]), {str(k): str(v) for k, v in item["labels"].items()}, timestamps, values
    )


def _plain(column: Sequence[Any]) -> list[Any]:
    return column.tolist() if hasattr(column, "tolist") else list(column)  # a numpy array or a sequence


def series_key(labels: Mapping[str, str]) -> str:
    """Stable identity of a series: sha1 of its canonical (sorted) label set."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha1(canonical.encode()).hexdigest()


def check_labels(pairs: Sequence[tuple[str, str]]) -> dict[str, str]:
    """The label set as a dict; InvalidInput names the problem (no `__name__`, bad names)."""
    if len(pairs) > MAX_LABELS:
        raise InvalidInput(f"series has {len(pairs)} labels, at most {MAX_LABELS} are accepted")
    labels: dict[str, str] = {}
    for name, value in pairs:
        if not LABEL_NAME.match(name):
            raise InvalidInput(f"label name {name[:64]!r} is not a valid Prometheus label name")
        if name in labels:
            raise InvalidInput(f"label {name!r} appears twice in one series")
        if "\x00" in value:  # PostgreSQL text and JSON cannot hold NUL: refuse it at the edge
            raise InvalidInput(f"label {name!r} value contains a NUL character")
        if len(value) > MAX_LABEL_VALUE:
            raise InvalidInput(f"label {name!r} value is longer than {MAX_LABEL_VALUE} characters")
        labels[name] = value
    if not labels.get("__name__"):
        raise InvalidInput(f"series {_describe(labels)} has no __name__ label")
    return labels


def check_timestamp_ms(timestamp_ms: int, labels: Mapping[str, str]) -> int:
    if not MIN_TIMESTAMP_MS <= timestamp_ms <= MAX_TIMESTAMP_MS:
        raise InvalidInput(
            f"series {_describe(labels)}: timestamp {timestamp_ms} ms is outside 1970..9999"
        )
    return timestamp_ms


def seconds_to_ms(seconds: float, labels: Mapping[str, str]) -> int:
    """A JSON timestamp in seconds as integer milliseconds; NaN or infinite is an InvalidInput."""
    if not math.isfinite(seconds):
        raise InvalidInput(
            f"series {_describe(labels)}: timestamp {seconds!r} is not a finite number"
        )
    return check_timestamp_ms(round(seconds * 1000), labels)


def normalise(
    labels: dict[str, str],
    timestamps_ms: Sequence[int],
    values: Sequence[float],
    key: str | None = None,
) -> tuple[SeriesSamples, DropCounts]:
    """Sort, drop non-finite values and repeated timestamps (first wins), and key one series."""
    finite = [(t, v) for t, v in zip(timestamps_ms, values) if math.isfinite(v)]
    # Stable: among equal timestamps the first sent stays first.
    finite.sort(key=lambda pair: pair[0])
    kept: list[tuple[int, float]] = []
    for pair in finite:
        if not kept or pair[0] != kept[-1][0]:
            kept.append(pair)
    dropped = DropCounts(non_finite=len(values) - len(finite), duplicate=len(finite) - len(kept))
    return SeriesSamples(
        key or series_key(labels), labels, tuple(t for t, _ in kept), tuple(v for _, v in kept)
    ), dropped


def merge_series(parts: Iterable[tuple[dict[str, str], list[int], list[float]]]) -> SampleBatch:
    """Normalise each series of a request, merging entries that share a label set."""
    grouped: dict[str, tuple[dict[str, str], list[int], list[float]]] = {}
    for labels, timestamps, values in parts:
        key = series_key(labels)
        if key in grouped:
            grouped[key][1].extend(timestamps)
            grouped[key][2].extend(values)
        else:
            grouped[key] = (labels, list(timestamps), list(values))
    series, dropped = [], DropCounts()
    for key, (labels, timestamps, values) in grouped.items():
        one, drops = normalise(labels, timestamps, values, key)
        dropped += drops
        if one.timestamps_ms:
            series.append(one)
    return SampleBatch(tuple(series), dropped)


def split(batch: SampleBatch, max_samples: int) -> list[SampleBatch]:
    """Cut a batch into messages of at most `max_samples` samples (a longer series goes alone)."""
    chunks: list[list[SeriesSamples]] = [[]]
    size = 0
    for series in batch.series:
        if chunks[-1] and size + len(series.timestamps_ms) > max_samples:
            chunks.append([])
            size = 0
        chunks[-1].append(series)
        size += len(series.timestamps_ms)
    return [
        SampleBatch(tuple(chunk), batch.dropped if i == 0 else DropCounts())
        for i, chunk in enumerate(chunks)
        if chunk
    ]


def _describe(labels: Mapping[str, str]) -> str:
    text = "{" + ",".join(f'{k}="{v}"' for k, v in list(labels.items())[:6]) + "}"
    return text if len(text) <= 200 else text[:197] + "..."
