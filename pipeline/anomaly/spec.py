"""The feature specification: which quantities are tracked and over what spans."""

import functools
import json
import zlib
from dataclasses import asdict, dataclass

# Bumped when the meaning of the state or the features changes; old states then reset.
STATE_FORMAT_VERSION = 2

# The tracked quantities, in feature order. For each, the feature is how far the current
# value falls outside the range the quantity has recently covered (0 inside the range).
QUANTITIES: tuple[str, ...] = (
    "value",  # the sample itself
    "short_mean",  # mean of the last `short_window` samples: level shifts
    "short_std",  # spread of the last `short_window` samples: volatility changes
    "seasonal_delta",  # sample minus the sample one season ago: broken daily patterns
    "seasonal_mean_delta",  # short mean minus the short mean one season ago
)


@dataclass(frozen=True)
class FeatureSpec:
    """Spans (in samples) of the streaming features; part of a model's identity."""

    short_window: int = 6
    season_length: int = 288  # one day at NAB's and a typical scrape-and-downsample 5 minutes
    block_length: int = 128  # the recent range is kept as the extremes of blocks of samples
    range_blocks: int = 8  # completed blocks remembered: the range covers the last ~1,000 samples
    warmup: int = 50  # samples before a series scores anything

    @property
    def history_length(self) -> int:
        """Recent samples a series keeps: one season plus the short window."""
        return self.season_length + self.short_window

    @property
    def range_columns(self) -> int:
        """Per quantity: one extreme per remembered block, plus the block being filled."""
        return self.range_blocks + 1

    @property
    def feature_names(self) -> tuple[str, ...]:
        return tuple(f"{name}_excess" for name in QUANTITIES)

    @property
    def n_features(self) -> int:
        return len(QUANTITIES)

    def fingerprint(self) -> int:
        """A 32-bit id of the spec and state format, stored in every state."""
        return _fingerprint(self)

    def to_dict(self) -> dict:
        return {**asdict(self), "feature_names": list(self.feature_names)}

    @classmethod
    def from_dict(cls, data: dict) -> "FeatureSpec":
        return cls(
            short_window=int(data["short_window"]),
            season_length=int(data["season_length"]),
            block_length=int(data["block_length"]),
            range_blocks=int(data["range_blocks"]),
            warmup=int(data["warmup"]),
        )


@functools.cache
def _fingerprint(spec: FeatureSpec) -> int:
    text = json.dumps({"format": STATE_FORMAT_VERSION, **asdict(spec)}, sort_keys=True)
    return zlib.crc32(text.encode())
