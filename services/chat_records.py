"""Records the chat use cases write and read back: the command a write belongs to, acks, silences."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Command:
    """The chat command a write belongs to: its event id is the idempotency key."""

    event_id: str
    user: str
    channel: str
    intent: str
    trace_id: str
    now: datetime


@dataclass(frozen=True, slots=True)
class Acknowledged:
    incident_id: int
    by: str
    at: datetime
    first: bool  # False: someone (maybe the same user) had already acknowledged it


@dataclass(frozen=True, slots=True)
class SilenceRow:
    id: int
    alertname: str | None
    service: str | None
    starts_at: datetime
    ends_at: datetime
    created_by: str
    alertmanager_id: str | None
