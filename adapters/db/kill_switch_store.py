"""Recording who engaged or released the remediation kill switch, and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.engine import Engine

from adapters.db.remediation_rows import append_alone
from pipeline.remediation import audit as records


class KillSwitchStore:
    """The kill switch's history is its audit rows."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def record_kill_switch(
        self, *, engaged: bool, by: str, reason: str, now: datetime, trace_id: str
    ) -> None:
        append_alone(
            self._engine,
            [records.kill_switch(engaged, by=by, reason=reason, at=now, trace_id=trace_id)],
        )
