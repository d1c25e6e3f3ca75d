"""What a learner may know about an incident when it ranks actions: the moment a plan is made.

Every feature is observable by the product at that moment (no fault label, nothing from the
future): the signature, the anomaly scores of the incident's series by kind, how long ago
the target last changed, how many actions ran on it recently, the hour of day, and how
often the incident's alert flapped in the last hour.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np

from pipeline.errors import InvalidInput
from pipeline.learning.outcomes import Signature

# Series kinds whose anomaly score is a feature (the highest score of the incident's series
# of that kind; 0 when it has none). Named by what they measure, not by metric names.
SERIES_KINDS = ("cpu", "memory", "latency", "errors", "connections", "disk")
NO_CHANGE_HOURS = 24 * 30.0  # "never changed" as a finite number a tree can split on


@dataclass(frozen=True)
class IncidentContext:
    """One incident as a learner sees it when a plan is made."""

    incident_id: str
    opened_at: datetime
    signature: Signature
    anomaly: Mapping[str, float] = field(default_factory=dict)
    hours_since_change: float | None = None
    recent_actions: int = 0
    flaps_last_hour: int = 0

    def __post_init__(self) -> None:
        unknown = set(self.anomaly) - set(SERIES_KINDS)
        if unknown:
            raise InvalidInput(f"unknown series kinds {sorted(unknown)}; known: {SERIES_KINDS}")


@dataclass(frozen=True)
class FeatureSpace:
    """The columns: numeric features, one-hot alert names, the action, the actions that failed.

    An attempt made after others failed on the same incident is a biased sample (the
    incident was one the first action did not fix); marking what already failed lets the
    model learn from it without mistaking it for a first choice. Ranking a fresh incident
    marks nothing.
    """

    alertnames: tuple[str, ...]
    actions: tuple[str, ...]

    @classmethod
    def of(cls, contexts: Sequence[IncidentContext], actions: Sequence[str]) -> FeatureSpace:
        return cls(tuple(sorted({c.signature.alertname for c in contexts})), tuple(sorted(set(actions))))

    @property
    def width(self) -> int:
        return len(SERIES_KINDS) + 5 + len(self.alertnames) + 2 * len(self.actions)

    def rows(
        self,
        contexts: Sequence[IncidentContext],
        actions: Sequence[str],
        failed_before: Sequence[Sequence[str]] | None = None,
    ) -> np.ndarray:
        """One float32 row per (context, action) pair, in the given order."""
        failed = failed_before if failed_before is not None else [()] * len(contexts)
        if not len(contexts) == len(actions) == len(failed):
            raise InvalidInput("one action and one list of failed actions per context")
        out = np.zeros((len(contexts), self.width), dtype=np.float32)
        for i, (context, action, earlier) in enumerate(zip(contexts, actions, failed)):
            out[i] = self._row(context, action, earlier)
        return out

    def _row(self, context: IncidentContext, action: str, failed: Sequence[str]) -> np.ndarray:
        hour = context.opened_at.hour + context.opened_at.minute / 60.0
        change = context.hours_since_change
        numeric = [context.anomaly.get(kind, 0.0) for kind in SERIES_KINDS] + [
            min(change, NO_CHANGE_HOURS) if change is not None else NO_CHANGE_HOURS,
            float(context.recent_actions),
            float(context.flaps_last_hour),
            float(np.sin(2 * np.pi * hour / 24)),
            float(np.cos(2 * np.pi * hour / 24)),
        ]
        names = [float(context.signature.alertname == a) for a in self.alertnames]
        acts = [float(action == a) for a in self.actions]
        earlier = [float(a in failed) for a in self.actions]
        return np.array(numeric + names + acts + earlier, dtype=np.float32)
