"""Writing a human's decision on a run that waits for approval, or the refusal of one not accepted."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db import audit_writer, outbox
from services.remediation_records import StoredRun
from adapters.db.remediation_rows import append_alone, move_run
from adapters.db.schema_remediation import approvals, follow_up_claims
from pipeline.events import CloudEvent
from pipeline.audit import AuditRecord
from pipeline.remediation import audit as records


class ApprovalStore:
    """The only writer of approvals (expiry by deadline is the run store's `expire`)."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def decide(
        self,
        run: StoredRun,
        *,
        approved: bool,
        actor: str,
        roles: Sequence[str],
        reason: str,
        now: datetime,
        trace_id: str,
        event_id: str | None = None,
        reply_to: str | None = None,
        follow_ups: Sequence[tuple[str, CloudEvent]] = (),
    ) -> bool:
        """Record a human's approval (the run resumes) or denial (it ends); only a waiting run changes.

        The claim on `event_id`, the run's `reply_to` and the `follow_ups` (the chain to start, the
        answer to post) commit with the decision, so a crash after the commit loses none of them.
        """
        with self._engine.begin() as conn:
            state = "running" if approved else "denied"
            values = (
                {"approved": True, "reply_to": reply_to}
                if approved
                else {"reason": f"denied by {actor}: {reason}"[:2000]}
            )
            if not move_run(conn, run.id, ("awaiting_approval",), state, now, **values):
                return False
            if event_id is not None:
                conn.execute(follow_up_claims.insert().values(event_id=event_id, kind="decision", claimed_at=now))
            by_task: dict[str, list[CloudEvent]] = defaultdict(list)
            for task, event in follow_ups:
                by_task[task].append(event)
            for task, events in by_task.items():
                outbox.add(conn, task, events, now=now)
            conn.execute(
                approvals.insert().values(
                    run_id=run.id,
                    decision="approved" if approved else "denied",
                    actor=actor,
                    role=",".join(roles)[:64],
                    reason=reason,
                    at=now,
                )
            )
            audit_writer.append(
                conn,
                [
                    records.approval(
                        run.plan.plan_id,
                        approved=approved,
                        approver=actor,
                        roles=roles,
                        reason=reason,
                        incident_id=run.incident_id,
                        at=now,
                        trace_id=trace_id,
                    )
                ],
            )
            return True

    def claimed(self, event_id: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(follow_up_claims.c.event_id).where(follow_up_claims.c.event_id == event_id)
            ).first() is not None

    def refuse_decision(
        self,
        run: StoredRun | None,
        *,
        incident_id: int | None,
        actor: str,
        why: str,
        now: datetime,
        trace_id: str,
    ) -> None:
        """Audit an approval or denial that was not accepted (no role, nothing waiting)."""
        data = {"actor": actor, "reason": why, "plan_id": run.plan.plan_id if run else None}
        append_alone(
            self._engine,
            [
                AuditRecord(
                    kind="remediation.decision_refused",
                    occurred_at=now,
                    actor=actor,
                    incident_id=incident_id,
                    trace_id=trace_id,
                    data=data,
                )
            ],
        )
