"""The ports: what the use cases need from the outside world, as protocols.

Adapters implement them (adapters/), in-memory fakes stand in for them in unit tests, and
`smartcloudops.bootstrap` chooses which. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class ReplayGuard(Protocol):
    """Remembers accepted signatures for a while (Redis `SET key 1 NX EX ttl` in production)."""

    def first_seen(self, signature: str, ttl_s: int) -> bool:
        """Record `signature` for `ttl_s` seconds; False when it was already recorded."""


class InMemoryReplayGuard:
    """A ReplayGuard in a dict with expiry by an injected clock (tests, one process)."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._seen: dict[str, float] = {}

    def first_seen(self, signature: str, ttl_s: int) -> bool:
        """Record `signature` for `ttl_s` seconds; False when it was already recorded."""
        now = self._clock()
        self._seen = {sig: until for sig, until in self._seen.items() if until > now}
        if signature in self._seen:
            return False
        self._seen[signature] = now + ttl_s
        return True


class IncidentReads(Protocol):
    """The incidents read model the API and pages show (adapters.db.queries)."""

    def list(self, *, status: str | None = None, service: str | None = None, limit: int = 50,
             before: int | None = None) -> dict[str, Any]: ...

    def get(self, incident_id: int) -> dict[str, Any]: ...


class RemediationReads(Protocol):
    """Risk assessments and remediation runs of one incident (adapters.db.remediation_queries)."""

    def for_incident(self, incident_id: int) -> dict[str, Any]: ...


class KillSwitch(Protocol):
    """The shared guard state's kill switch, set at once by the API (the worker audits it)."""

    def set_kill_switch(self, engaged: bool) -> None: ...
