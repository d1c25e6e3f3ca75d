"""What the console reads and the accounts it signs in: ports the composition root fills."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol


class ConsoleAccounts(Protocol):
    """Local accounts: password check, one-time links (spent once), live role, refusal audit."""

    def verify(self, username: str, password: str) -> tuple[str, str] | None: ...

    def consume_link(self, token: str, *, now: datetime) -> tuple[str, str] | None: ...

    def role_of(self, username: str) -> str | None: ...

    def record_refusal(self, *, actor: str, action: str, path: str, reason: str, now: datetime,
                       incident_id: int | None = None, trace_id: str | None = None) -> None: ...


class ConsoleReads(Protocol):
    """The console's read model (see adapters/db/console_queries.py)."""

    def incident_list(self, *, status: str | None = None, service: str | None = None,
                      severity: str | None = None, since: datetime | None = None, before: int | None = None,
                      limit: int = 50) -> dict[str, Any]: ...

    def incident(self, incident_id: int) -> dict[str, Any]: ...

    def safety(self, *, now: datetime) -> dict[str, Any]: ...
