"""From forest output and features to one anomaly score in [0, 1], point by point.

Two pieces of evidence are combined as independent probabilities (noisy OR):
- the forest's verdict on the whole feature row, using the reading of Liu, Ting & Zhou
  (2008): an anomaly score 2^(-E[h]/c) of 0.5 is ordinary and 1 is certain isolation, so
  `2 * anomaly_score - 1` (clipped to [0, 1]) is how far beyond ordinary the row is;
- the largest single excess: how many range widths the most surprising quantity lies outside
  what the series has recently covered, mapped by `1 - exp(-gain * excess)`.
Both use only the point's own feature row, so a score never depends on its batch.
"""

from dataclasses import asdict, dataclass

import numpy as np


@dataclass(frozen=True)
class Calibration:
    """The one tunable of the combination: how fast excess turns into certainty."""

    excess_gain: float = 2.0

    def combine(self, score_samples: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Anomaly score in [0, 1] of every row."""
        forest_evidence = np.clip(2.0 * -np.asarray(score_samples, dtype=np.float64) - 1.0, 0.0, 1.0)
        excess = np.expm1(np.asarray(features, dtype=np.float64)).max(axis=1, initial=0.0)
        excess_evidence = -np.expm1(-self.excess_gain * excess)
        return 1.0 - (1.0 - forest_evidence) * (1.0 - excess_evidence)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        return cls(excess_gain=float(data["excess_gain"]))
