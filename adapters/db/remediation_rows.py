"""Row-level steps the remediation stores share, each inside the caller's transaction.

State changes are conditional updates (`... WHERE state IN (expected)`), so two deliveries of
one message race harmlessly: the loser changes nothing and is told so (`False`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer, outbox
from services.remediation_records import (
    OPEN_RUN_STATES,
    RunStarted,
    StoredRun,
    StoredStep,
    plan_from_dict,
)
from adapters.db.schema import incidents
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from pipeline.policy import Decision
from pipeline.audit import AuditRecord
from pipeline.errors import NotFound
from pipeline.events import TELL_RUN_OUTCOME, run_ended, to_utc
from pipeline.remediation import audit as records
from pipeline.remediation.plan import PlanRefused, PlanStep, RemediationPlan

# A service outside the catalog is simply not ours to remediate: audited, but no human is paged for it.
UNREMARKABLE_REFUSALS = frozenset({"unknown_service"})


def append_alone(engine: Engine, audit: Sequence[AuditRecord]) -> None:
    """Audit rows that change no state: their own transaction."""
    with engine.begin() as conn:
        audit_writer.append(conn, audit)


def load_run(conn: Connection, run_id: int) -> StoredRun:
    row = conn.execute(sa.select(remediation_runs).where(remediation_runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"remediation run {run_id} does not exist")
    steps = conn.execute(
        sa.select(remediation_steps)
        .where(remediation_steps.c.run_id == run_id)
        .order_by(remediation_steps.c.step_index)
    ).all()
    return StoredRun(
        id=row.id,
        incident_id=row.incident_id,
        plan=plan_from_dict(row.plan),
        state=row.state,
        mode=row.mode,
        approved=row.approved,
        approval_deadline=to_utc(row.approval_deadline) if row.approval_deadline else None,
        trace_id=row.trace_id,
        steps=tuple(
            StoredStep(
                s.step_index, s.action, s.target, s.idempotency_key, s.state, s.result, s.observed
            )
            for s in steps
        ),
    )


def started_of(conn: Connection, outcome: RemediationPlan | PlanRefused) -> RunStarted:
    """The run an earlier delivery stored for this outcome (a redelivery returns the same run)."""
    if not isinstance(outcome, RemediationPlan):
        return RunStarted(None, "refused")
    row = conn.execute(
        sa.select(remediation_runs.c.id, remediation_runs.c.state).where(
            remediation_runs.c.plan_id == outcome.plan_id
        )
    ).first()
    if row is None:
        return RunStarted(None, "notify_only" if not outcome.steps else "missing")
    return RunStarted(row.id, row.state, load_run(conn, row.id).next_step())


def store_outcome(
    conn: Connection,
    outcome: RemediationPlan | PlanRefused,
    audit: list[AuditRecord],
    *,
    incident_id: int | None,
    assessment_id: int | None,
    mode: str,
    timeout_s: float,
    now: datetime,
    trace_id: str,
    request: Mapping[str, Any] | None = None,
) -> RunStarted:
    """Store a plan as a run with its pending steps (or audit the refusal); its audit rows go to `audit`."""
    if isinstance(outcome, PlanRefused):
        audit.append(
            records.refused(
                outcome, incident_id=incident_id, at=now, trace_id=trace_id, request=request
            )
        )
        if outcome.reason_code not in UNREMARKABLE_REFUSALS:
            flag_incident(conn, incident_id, now)
        return RunStarted(None, "refused")
    audit.append(
        records.planned(outcome, mode=mode, incident_id=incident_id, at=now, trace_id=trace_id)
    )
    if not outcome.steps:
        return RunStarted(None, "notify_only")
    state = {
        Decision.AUTO: "running",
        Decision.NEEDS_APPROVAL: "awaiting_approval",
        Decision.NOTIFY_ONLY: "notify_only",
    }[outcome.decision]
    deadline = now + timedelta(seconds=timeout_s) if state == "awaiting_approval" else None
    run_id = conn.execute(
        remediation_runs.insert()
        .values(
            plan_id=outcome.plan_id,
            incident_id=incident_id,
            assessment_id=assessment_id,
            service=outcome.service,
            rule=outcome.rule,
            decision=outcome.decision.value,
            mode=mode,
            plan=outcome.as_dict(),
            state=state,
            requested_by=outcome.requested_by,
            approval_deadline=deadline,
            trace_id=trace_id,
            created_at=now,
            updated_at=now,
        )
        .returning(remediation_runs.c.id)
    ).scalar_one()
    conn.execute(
        remediation_steps.insert(),
        [
            {
                "run_id": run_id,
                "step_index": step.index,
                "action": step.action.value,
                "target": step.target,
                "params": step.params.to_dict(),
                "idempotency_key": step.idempotency_key,
                "state": "pending",
                "created_at": now,
                "updated_at": now,
            }
            for step in outcome.steps
        ],
    )
    return RunStarted(run_id, state, 0)


def move_step(
    conn: Connection,
    run_id: int,
    index: int,
    expected: tuple[str, ...],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    return _move(
        conn,
        remediation_steps,
        (remediation_steps.c.run_id == run_id, remediation_steps.c.step_index == index),
        expected,
        state,
        now,
        values,
    )


def move_run(
    conn: Connection,
    run_id: int,
    expected: tuple[str, ...],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    moved = _move(
        conn, remediation_runs, (remediation_runs.c.id == run_id,), expected, state, now, values
    )
    if moved and state in FINAL_RUN_STATES:
        _tell_run_end(conn, run_id, now)
    return moved


# A run in one of these states has ended: the chat that approved it is told, once.
FINAL_RUN_STATES = ("succeeded", "failed", "denied", "expired")


def _tell_run_end(conn: Connection, run_id: int, now: datetime) -> None:
    # The answer leaves through the outbox of the transaction that ends the run: a crash after the
    # commit cannot lose it, and a redelivered step (a no-op on an ended run) cannot repeat it.
    row = conn.execute(
        sa.select(remediation_runs.c.reply_to, remediation_runs.c.trace_id).where(
            remediation_runs.c.id == run_id
        )
    ).first()
    if row is not None and row.reply_to:
        outbox.add(conn, TELL_RUN_OUTCOME, [run_ended(run_id, row.reply_to, row.trace_id, now)], now=now)


def fail_run(conn: Connection, run: StoredRun, why: str, now: datetime) -> None:
    # The chain stops here: later tasks of this run see a failed run and do nothing.
    move_run(conn, run.id, OPEN_RUN_STATES, "failed", now, flagged=True, reason=why[:2000])
    flag_incident(conn, run.incident_id, now)


def flag_incident(conn: Connection, incident_id: int | None, now: datetime) -> None:
    # Flagged and left open: a human has to look at it.
    if incident_id is not None:
        conn.execute(
            incidents.update()
            .where(incidents.c.id == incident_id)
            .values(flagged=True, updated_at=now)
        )


def step_fields(run: StoredRun, step: PlanStep) -> dict[str, Any]:
    return {
        "plan_id": run.plan.plan_id,
        "step_index": step.index,
        "action": step.action.value,
        "target": step.target,
        "idempotency_key": step.idempotency_key,
    }


def system_record(
    kind: str, run: StoredRun, now: datetime, data: Mapping[str, Any]
) -> AuditRecord:
    return AuditRecord(
        kind=kind,
        occurred_at=now,
        actor=records.SYSTEM_ACTOR,
        incident_id=run.incident_id,
        trace_id=run.trace_id,
        data=dict(data),
    )


def _move(
    conn: Connection,
    table: sa.Table,
    which: tuple[Any, ...],
    expected: tuple[str, ...],
    state: str,
    now: datetime,
    values: Mapping[str, Any],
) -> bool:
    # One row moves only from an expected state: a concurrent delivery's update matches nothing.
    result = conn.execute(
        table.update()
        .where(*which, table.c.state.in_(expected))
        .values(state=state, updated_at=now, **values)
    )
    return result.rowcount == 1
