"""Silences: a matcher on alertname and/or service, active over a time range.

Correlation leaves out an alert an active silence matches: it is recorded as silenced and
opens or escalates no incident. An alert already part of an incident is not silenced, so
its resolution still resolves the incident.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from pipeline.errors import InvalidInput


@dataclass(frozen=True, slots=True)
class Silence:
    """Mutes alerts whose labels match every given field (None matches any) while active."""

    id: int
    alertname: str | None
    service: str | None
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.alertname is None and self.service is None:
            raise InvalidInput(
                "a silence needs an alertname or a service: it would mute everything"
            )
        if self.ends_at <= self.starts_at:
            raise InvalidInput("a silence must end after it starts")

    def active(self, now: datetime) -> bool:
        """True when `now` is inside the silence's range."""
        return self.starts_at <= now < self.ends_at

    def matches(self, labels: Mapping[str, str]) -> bool:
        """True when every field the silence names equals the alert's label."""
        return (self.alertname is None or labels.get("alertname") == self.alertname) and (
            self.service is None or labels.get("service") == self.service
        )


def silencing(
    labels: Mapping[str, str], silences: Iterable[Silence], now: datetime
) -> Silence | None:
    """The active silence that mutes an alert with these labels, if any (the one ending last)."""
    muting = [s for s in silences if s.active(now) and s.matches(labels)]
    return max(muting, key=lambda s: s.ends_at, default=None)
