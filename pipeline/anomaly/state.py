"""Bounded per-series streaming state and its compact byte encoding."""

import struct
from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.spec import QUANTITIES, FeatureSpec
from pipeline.errors import InvalidInput

# fingerprint (u32), count (u64), last timestamp (f64)
_HEADER = struct.Struct("<IQd")
_NO_TIMESTAMP = float("-inf")


@dataclass(frozen=True, eq=False)
class SeriesState:
    """What one series remembers: a ring of recent samples and a range per tracked quantity.

    `ring[i % ring_length]` holds the i-th sample seen; `high`/`low` are the slowly
    forgetting range of each quantity (NaN until the quantity has a first value).
    """

    fingerprint: int
    count: int
    last_timestamp: float
    ring: np.ndarray
    high: np.ndarray
    low: np.ndarray

    @classmethod
    def fresh(cls, spec: FeatureSpec) -> "SeriesState":
        """The state of a series never seen before."""
        unset = np.full(len(QUANTITIES), np.nan)
        return cls(spec.fingerprint(), 0, _NO_TIMESTAMP, np.zeros(spec.ring_length), unset, unset.copy())

    def to_bytes(self) -> bytes:
        """Compact encoding: a 20-byte header then float64 arrays (about 2.4 KB per series)."""
        header = _HEADER.pack(self.fingerprint, self.count, self.last_timestamp)
        return header + self.ring.tobytes() + self.high.tobytes() + self.low.tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, spec: FeatureSpec) -> "SeriesState":
        """Decode a state; raise InvalidInput when it is corrupt or belongs to another spec."""
        expected = _HEADER.size + 8 * (spec.ring_length + 2 * len(QUANTITIES))
        if len(data) != expected:
            raise InvalidInput(f"series state has {len(data)} bytes, expected {expected}")
        fingerprint, count, last_timestamp = _HEADER.unpack_from(data)
        if fingerprint != spec.fingerprint():
            raise InvalidInput("series state was written for another feature spec")
        arrays = np.frombuffer(data, dtype="<f8", offset=_HEADER.size).copy()
        ring, ranges = np.split(arrays, [spec.ring_length])
        high, low = np.split(ranges, 2)
        return cls(fingerprint, count, last_timestamp, ring, high, low)


def load_state(data: bytes | None, spec: FeatureSpec) -> SeriesState:
    """The stored state of a series, or a fresh one when absent, stale (old spec) or corrupt."""
    if data is None:
        return SeriesState.fresh(spec)
    try:
        return SeriesState.from_bytes(data, spec)
    except InvalidInput:
        # A model or format change invalidates what a series learnt; it simply warms up again.
        return SeriesState.fresh(spec)
