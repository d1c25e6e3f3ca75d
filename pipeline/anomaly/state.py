"""Bounded per-series streaming state and its compact byte encoding.

One series' state is one fixed-size record (1,916 bytes with the default spec): a header
(spec fingerprint, sample count, last timestamp), the recent samples as float32 and the
block ranges as float64. `StateBatch` holds the
states of many series as stacked arrays, so a batch is decoded, advanced and encoded
without a Python object per series.
"""

import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.spec import QUANTITIES, FeatureSpec
from pipeline.errors import InvalidInput

_NO_TIMESTAMP = float("-inf")


def record_dtype(spec: FeatureSpec) -> np.dtype:
    """The packed little-endian layout of one encoded state."""
    return _record_dtype(spec.history_length, (len(QUANTITIES), spec.range_columns))


def _record_dtype(history_length: int, range_shape: tuple[int, ...]) -> np.dtype:
    return np.dtype(
        [
            ("fingerprint", "<u4"),
            ("count", "<u8"),
            ("last_timestamp", "<f8"),
            # Samples enter as float32 (see features), so four bytes keep them exactly.
            ("recent", "<f4", (history_length,)),
            ("high", "<f8", range_shape),
            ("low", "<f8", range_shape),
        ]
    )


@dataclass(frozen=True, eq=False)
class SeriesState:
    """What one series remembers: its recent samples and the recent range of each quantity.

    `recent` holds the last `history_length` samples (float32 values, held as float64),
    oldest first (zeros before the series had that many). `high`/`low` have one row per
    tracked quantity: the extremes of the last `range_blocks` completed blocks of samples,
    oldest first, then of the block being filled; NaN where nothing was seen yet. `count`
    is how many samples the series has had.
    """

    fingerprint: int
    count: int
    last_timestamp: float
    recent: np.ndarray
    high: np.ndarray
    low: np.ndarray

    @classmethod
    def fresh(cls, spec: FeatureSpec) -> "SeriesState":
        """The state of a series never seen before."""
        return StateBatch.fresh(1, spec).to_states()[0]

    def to_bytes(self) -> bytes:
        """The compact encoding (see `record_dtype`)."""
        return StateBatch.from_states([self]).to_bytes()[0]

    @classmethod
    def from_bytes(cls, data: bytes, spec: FeatureSpec) -> "SeriesState":
        """Decode a state; raise InvalidInput when it is corrupt or belongs to another spec."""
        dtype = record_dtype(spec)
        if len(data) != dtype.itemsize:
            raise InvalidInput(f"series state has {len(data)} bytes, expected {dtype.itemsize}")
        record = np.frombuffer(data, dtype=dtype)
        if record["fingerprint"][0] != spec.fingerprint():
            raise InvalidInput("series state was written for another feature spec")
        return StateBatch.from_records(record, spec.fingerprint()).to_states()[0]


@dataclass(frozen=True, eq=False)
class StateBatch:
    """The states of many series, stacked: one row per series."""

    fingerprint: int
    count: np.ndarray  # (series,) int64
    last_timestamp: np.ndarray  # (series,) float64
    recent: np.ndarray  # (series, history_length)
    high: np.ndarray  # (series, quantities, range_columns)
    low: np.ndarray

    def __len__(self) -> int:
        return len(self.count)

    @classmethod
    def fresh(cls, n_series: int, spec: FeatureSpec) -> "StateBatch":
        """States of `n_series` series never seen before."""
        unset = np.full((n_series, len(QUANTITIES), spec.range_columns), np.nan)
        return cls(
            spec.fingerprint(),
            np.zeros(n_series, dtype=np.int64),
            np.full(n_series, _NO_TIMESTAMP),
            np.zeros((n_series, spec.history_length)),
            unset,
            unset.copy(),
        )

    @classmethod
    def from_states(cls, states: Sequence[SeriesState]) -> "StateBatch":
        fingerprints = {s.fingerprint for s in states}
        if len(fingerprints) > 1:
            raise InvalidInput("a batch mixes states of different feature specs")
        return cls(
            fingerprints.pop() if fingerprints else 0,
            np.array([s.count for s in states], dtype=np.int64),
            np.array([s.last_timestamp for s in states], dtype=np.float64),
            np.array([s.recent for s in states], dtype=np.float64),
            np.array([s.high for s in states], dtype=np.float64),
            np.array([s.low for s in states], dtype=np.float64),
        )

    @classmethod
    def from_records(cls, records: np.ndarray, fingerprint: int) -> "StateBatch":
        return cls(
            fingerprint,
            records["count"].astype(np.int64),
            records["last_timestamp"].astype(np.float64),
            records["recent"].astype(np.float64),
            records["high"].astype(np.float64),
            records["low"].astype(np.float64),
        )

    @classmethod
    def decode(cls, encoded: Sequence[bytes | None], spec: FeatureSpec) -> "StateBatch":
        """Decode stored states in bulk; absent, stale (other spec) or corrupt ones start fresh."""
        dtype, fresh = record_dtype(spec), _fresh_record(spec)
        fingerprint = spec.fingerprint()
        joined = b"".join(data if _usable(data, dtype, fingerprint) else fresh for data in encoded)
        return cls.from_records(np.frombuffer(joined, dtype=dtype), fingerprint)

    def to_bytes(self) -> list[bytes]:
        """Each series' state encoded as one record."""
        dtype = _record_dtype(self.recent.shape[1], self.high.shape[1:])
        records = np.empty(len(self), dtype=dtype)
        records["fingerprint"] = self.fingerprint
        for name in ("count", "last_timestamp", "recent", "high", "low"):
            records[name] = getattr(self, name)
        raw, size = memoryview(records).cast("B"), dtype.itemsize
        return [raw[i * size : (i + 1) * size].tobytes() for i in range(len(self))]

    def to_states(self) -> list[SeriesState]:
        return [
            SeriesState(
                self.fingerprint,
                int(self.count[i]),
                float(self.last_timestamp[i]),
                self.recent[i].copy(),
                self.high[i].copy(),
                self.low[i].copy(),
            )
            for i in range(len(self))
        ]


@functools.cache
def _fresh_record(spec: FeatureSpec) -> bytes:
    return StateBatch.fresh(1, spec).to_bytes()[0]


def _usable(data: bytes | None, dtype: np.dtype, fingerprint: int) -> bool:
    # A model or format change invalidates what a series learnt; it simply warms up again.
    if data is None or len(data) != dtype.itemsize:
        return False
    return int.from_bytes(data[:4], "little") == fingerprint


def load_state(data: bytes | None, spec: FeatureSpec) -> SeriesState:
    """The stored state of a series, or a fresh one when absent, stale (old spec) or corrupt."""
    return StateBatch.decode([data], spec).to_states()[0]
