"""Escalation state in the store: the incident (with its acknowledgement) and the audited page log."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db import audit_writer
from adapters.db.schema import audit_log, incidents
from pipeline.audit import AuditRecord
from pipeline.errors import NotFound
from pipeline.escalation import PageTarget

CLAIMED = "escalation.tier_due"
PAGED = "escalation.paged"
PAGE_FAILED = "escalation.page_failed"


class PageLog:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def incident(self, incident_id: int) -> dict[str, Any]:
        with self._engine.connect() as conn:
            row = conn.execute(
                # acknowledged_by: added by migration 0004, not on the alert path's Table.
                sa.select(incidents.c.id, incidents.c.service, incidents.c.alertname, incidents.c.severity,
                          incidents.c.status, sa.column("acknowledged_by"))
                .select_from(incidents)
                .where(incidents.c.id == incident_id)
            ).first()
        if row is None:
            raise NotFound(f"incident {incident_id} does not exist")
        return dict(row._mapping)

    def paged_tiers(self, incident_id: int) -> set[int]:
        with self._engine.connect() as conn:
            return self._claimed(conn, incident_id)

    def claim_tier(self, incident_id: int, tier: int, *, by: str, now: datetime, trace_id: str) -> bool:
        with self._engine.begin() as conn:
            # The incident row lock serialises claims of one incident (two deliveries at once).
            conn.execute(sa.select(incidents.c.id).where(incidents.c.id == incident_id).with_for_update())
            if tier in self._claimed(conn, incident_id):
                return False
            audit_writer.append(conn, [_record(CLAIMED, incident_id, by, now, trace_id, {"tier": tier})])
            return True

    def record_page(
        self, incident_id: int, tier: int, target: PageTarget, *, ok: bool, detail: str, by: str,
        now: datetime, trace_id: str,
    ) -> None:
        data = {"tier": tier, "target": target.name, "type": target.kind, **({"error": detail} if detail else {})}
        with self._engine.begin() as conn:
            audit_writer.append(conn, [_record(PAGED if ok else PAGE_FAILED, incident_id, by, now, trace_id, data)])

    @staticmethod
    def _claimed(conn: sa.Connection, incident_id: int) -> set[int]:
        bodies = conn.execute(
            sa.select(audit_log.c.body).where(audit_log.c.incident_id == incident_id, audit_log.c.kind == CLAIMED)
        ).scalars()
        return {int(json.loads(body)["data"]["tier"]) for body in bodies}


def _record(kind: str, incident_id: int, by: str, now: datetime, trace_id: str, data: dict[str, Any]) -> AuditRecord:
    return AuditRecord(kind=kind, occurred_at=now, actor=by, incident_id=incident_id, trace_id=trace_id or None,
                       data=data)
