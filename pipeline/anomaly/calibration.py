"""From forest output and features to one anomaly score in [0, 1], point by point.

Two pieces of evidence must agree, so the score is their geometric mean:
- the forest's anomaly score `2^(-E[h]/c)` (Liu, Ting & Zhou 2008), about 0.5 for an
  ordinary row and towards 1 for a row isolated at once, i.e. `-score_samples`;
- the range excess of the evidence quantities: how many range widths the level (short
  mean) or the change against one season ago lies outside what the series has recently
  covered, mapped to [0, 1) by `1 - exp(-gain * excess)`. The raw sample, the spread and
  the seasonal change of the mean still reach the forest, but on their own they fire on
  ordinary single-sample spikes.
Both use only the point's own feature row, so a score never depends on its batch.
"""

from dataclasses import dataclass

import numpy as np

from pipeline.anomaly.spec import QUANTITIES
from pipeline.errors import ConfigurationError

DEFAULT_EVIDENCE = ("short_mean", "seasonal_delta")


@dataclass(frozen=True)
class Calibration:
    """Which quantities count as direct evidence, and how fast excess turns into certainty."""

    evidence_quantities: tuple[str, ...] = DEFAULT_EVIDENCE
    excess_gain: float = 2.0

    def __post_init__(self) -> None:
        unknown = set(self.evidence_quantities) - set(QUANTITIES)
        if unknown or not self.evidence_quantities:
            raise ConfigurationError(
                f"calibration evidence must name some of {QUANTITIES}, got {unknown or 'none'}"
            )

    def combine(self, score_samples: np.ndarray, features: np.ndarray) -> np.ndarray:
        """Anomaly score in [0, 1] of every row."""
        forest_evidence = np.clip(-np.asarray(score_samples, dtype=np.float64), 0.0, 1.0)
        excess_evidence = -np.expm1(-self.excess_gain * self._excess(features))
        return np.sqrt(forest_evidence * excess_evidence)

    def has_evidence(self, features: np.ndarray) -> np.ndarray:
        """Rows whose score can be above 0: the only rows the forest is ever asked to judge."""
        return self._excess(features) > 0

    def _excess(self, features: np.ndarray) -> np.ndarray:
        """The largest range excess among the evidence quantities of every row."""
        columns = [QUANTITIES.index(name) for name in self.evidence_quantities]
        rows = np.asarray(features, dtype=np.float64)[:, columns]
        return np.expm1(rows).max(axis=1, initial=0.0)

    def to_dict(self) -> dict:
        return {
            "evidence_quantities": list(self.evidence_quantities),
            "excess_gain": self.excess_gain,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Calibration":
        return cls(
            evidence_quantities=tuple(data["evidence_quantities"]),
            excess_gain=float(data["excess_gain"]),
        )
