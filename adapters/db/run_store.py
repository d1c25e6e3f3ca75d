"""Writing remediation runs and their steps, each change with its audit rows.

Every method is one transaction that ends with `audit_writer.append`. A step moves only
from the state its stage expects, so a redelivered message changes nothing and is told so.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db import audit_writer
from services.remediation_records import RunStarted, StoredRun
from adapters.db.remediation_rows import (
    append_alone,
    fail_run,
    load_run,
    move_run,
    move_step,
    started_of,
    step_fields,
    store_outcome,
    system_record,
)
from adapters.db.schema_remediation import approvals, remediation_runs, remediation_steps
from pipeline.audit import AuditRecord
from pipeline.events import to_utc
from pipeline.remediation import audit as records
from pipeline.remediation.guards import BreakerSnapshot, GuardDecision
from pipeline.remediation.plan import PlanRefused, RemediationPlan


class RunStore:
    """The only writer of remediation runs and steps."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ reading

    def run(self, run_id: int) -> StoredRun:
        with self._engine.connect() as conn:
            return load_run(conn, run_id)

    def awaiting_run_of(self, incident_id: int) -> int | None:
        """The newest run of an incident that waits for a human, if any."""
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(remediation_runs.c.id)
                .where(
                    remediation_runs.c.incident_id == incident_id,
                    remediation_runs.c.state == "awaiting_approval",
                )
                .order_by(remediation_runs.c.id.desc())
                .limit(1)
            ).scalar()

    def runs_past_deadline(self, now: datetime) -> list[int]:
        with self._engine.connect() as conn:
            return list(
                conn.execute(
                    sa.select(remediation_runs.c.id)
                    .where(
                        remediation_runs.c.state == "awaiting_approval",
                        remediation_runs.c.approval_deadline <= now,
                    )
                    .order_by(remediation_runs.c.id)
                ).scalars()
            )

    def stalled_runs(self, quiet_since: datetime) -> list[StoredRun]:
        """Running runs neither they nor any of their steps changed since `quiet_since`."""
        recent_step = (
            sa.select(remediation_steps.c.id)
            .where(remediation_steps.c.run_id == remediation_runs.c.id,
                   remediation_steps.c.updated_at >= quiet_since)
            .exists()
        )
        with self._engine.connect() as conn:
            ids = conn.execute(
                sa.select(remediation_runs.c.id)
                .where(remediation_runs.c.state == "running", remediation_runs.c.updated_at < quiet_since,
                       ~recent_step)
                .order_by(remediation_runs.c.id)
                .limit(100)
            ).scalars().all()
            return [load_run(conn, run_id) for run_id in ids]

    # ------------------------------------------------------------------ planning

    def record_request(
        self,
        *,
        incident_id: int | None,
        outcome: RemediationPlan | PlanRefused,
        request: Mapping[str, Any],
        mode: str,
        approval_timeout_s: float,
        now: datetime,
        trace_id: str,
    ) -> RunStarted:
        """Store what a person asked for: the validated plan, or the refusal with what was asked."""
        with self._engine.begin() as conn:
            if isinstance(outcome, RemediationPlan):
                existing = started_of(conn, outcome)
                if existing.run_id is not None:
                    return existing
            audit: list[AuditRecord] = []
            if incident_id is None and isinstance(outcome, RemediationPlan):
                # A plan nobody's alert asked for still needs an incident: it is what chat, the
                # API and the console approve, acknowledge and show.
                incident_id = _open_request_incident(conn, outcome, audit, now=now, trace_id=trace_id)
            started = store_outcome(
                conn,
                outcome,
                audit,
                incident_id=incident_id,
                assessment_id=None,
                mode=mode,
                timeout_s=approval_timeout_s,
                now=now,
                trace_id=trace_id,
                request=request,
            )
            audit_writer.append(conn, audit)
            return started

    # ------------------------------------------------------------------ one step's life

    def step_guarded(
        self, run: StoredRun, index: int, decision: GuardDecision, *, now: datetime
    ) -> bool:
        """Record a guard's verdict; a refusal fails the run and flags the incident."""
        step = run.plan.steps[index]
        audit = [
            records.guarded(
                run.plan.plan_id,
                step,
                decision,
                incident_id=run.incident_id,
                at=now,
                trace_id=run.trace_id,
            )
        ]
        if decision.allowed:
            return self._advance(run, index, ("pending",), "guarded", now, audit)
        why = f"guard refused step {index}: {decision.reason_code}: {decision.detail}"
        return self._advance(run, index, ("pending",), "refused", now, audit, failing=why, reason=why)

    def step_executing(self, run: StoredRun, index: int, *, now: datetime) -> bool:
        """Mark the step as calling out, before the call: a redelivery then verifies, never re-sends."""
        fields = {**step_fields(run, run.plan.steps[index]), "mode": run.mode}
        audit = [system_record("remediation.step_executing", run, now, fields)]
        return self._advance(run, index, ("guarded",), "executing", now, audit)

    def step_not_sent(self, run: StoredRun, index: int, error: str, *, now: datetime) -> bool:
        """The call provably never reached AWS (throttled, unreachable): the retry may send it."""
        fields = {**step_fields(run, run.plan.steps[index]), "error": error[:2000]}
        audit = [system_record("remediation.step_not_sent", run, now, fields)]
        return self._advance(run, index, ("executing",), "guarded", now, audit)

    def step_executed(
        self,
        run: StoredRun,
        index: int,
        result: Mapping[str, Any],
        *,
        recovered: bool,
        now: datetime,
    ) -> bool:
        """Record the call made (or, in a dry run, the exact call that would be made)."""
        step = run.plan.steps[index]
        record = (
            records.not_repeated(
                run.plan.plan_id,
                step,
                "executing",
                incident_id=run.incident_id,
                at=now,
                trace_id=run.trace_id,
            )
            if recovered
            else records.executed(
                run.plan.plan_id,
                step,
                {**result, "mode": run.mode},
                incident_id=run.incident_id,
                at=now,
                trace_id=run.trace_id,
            )
        )
        return self._advance(
            run, index, ("executing",), "executed", now, [record], result=dict(result)
        )

    def step_duplicate(self, run: StoredRun, index: int, task: str, *, now: datetime) -> None:
        """A redelivered or retried message found its step already past this stage: say so, do nothing."""
        record = records.not_repeated(
            run.plan.plan_id,
            run.plan.steps[index],
            run.step(index).state,
            incident_id=run.incident_id,
            at=now,
            trace_id=run.trace_id,
        )
        record = AuditRecord(
            kind="remediation.step_skipped_duplicate",
            occurred_at=record.occurred_at,
            actor=record.actor,
            incident_id=record.incident_id,
            trace_id=record.trace_id,
            data={**(record.data or {}), "task": task},
        )
        append_alone(self._engine, [record])

    def step_verified(
        self, run: StoredRun, index: int, result: Mapping[str, Any], *, now: datetime
    ) -> bool:
        """Record what the real API showed; a failed verification fails the run and flags the incident."""
        step = run.plan.steps[index]
        ok = bool(result.get("ok"))
        why = (
            None
            if ok
            else f"step {index} ({step.action.value} on {step.target}) did not verify: "
            f"{result.get('detail', '')}"
        )
        audit = [self._verified(run, index, result, now)]
        return self._advance(
            run,
            index,
            ("executed",),
            "verified" if ok else "failed",
            now,
            audit,
            failing=why,
            observed=dict(result),
            reason=why,
        )

    def step_failed(self, run: StoredRun, index: int, error: str, *, now: datetime) -> bool:
        """An action failed outright (AWS refused it): the step and the run fail, the incident is flagged."""
        step = run.plan.steps[index]
        why = f"step {index} ({step.action.value} on {step.target}) failed: {error}"[:2000]
        audit = [self._verified(run, index, {"ok": False, "detail": why, "observed_state": {}}, now)]
        expected = ("guarded", "executing", "executed")
        return self._advance(run, index, expected, "failed", now, audit, failing=why, reason=why)

    def step_recorded(
        self, run: StoredRun, index: int, breaker: BreakerSnapshot | None, *, now: datetime
    ) -> bool:
        """Close a verified step; the last one closes the run."""
        step = run.plan.steps[index]
        with self._engine.begin() as conn:
            changed = move_step(conn, run.id, index, ("verified",), "succeeded", now)
            if not changed:
                return False
            audit = [
                system_record(
                    "remediation.step_succeeded",
                    run,
                    now,
                    {**step_fields(run, step), "mode": run.mode},
                )
            ]
            if breaker is not None:
                audit.append(
                    records.breaker(
                        breaker, incident_id=run.incident_id, at=now, trace_id=run.trace_id
                    )
                )
            if index == len(run.steps) - 1:
                move_run(conn, run.id, ("running",), "succeeded", now)
                audit.append(
                    system_record(
                        "remediation.run_succeeded",
                        run,
                        now,
                        {"plan_id": run.plan.plan_id, "steps": len(run.steps), "mode": run.mode},
                    )
                )
            audit_writer.append(conn, audit)
            return True

    def breaker_recorded(self, run: StoredRun, snapshot: BreakerSnapshot, *, now: datetime) -> None:
        append_alone(
            self._engine,
            [records.breaker(snapshot, incident_id=run.incident_id, at=now, trace_id=run.trace_id)],
        )

    # ------------------------------------------------------------------ waiting runs

    def expire(self, run: StoredRun, *, now: datetime) -> bool:
        """End a run whose approval did not come in time."""
        with self._engine.begin() as conn:
            waited = (
                (now - to_utc(run.approval_deadline)).total_seconds()
                if run.approval_deadline
                else 0.0
            )
            if not move_run(
                conn,
                run.id,
                ("awaiting_approval",),
                "expired",
                now,
                reason="no approval before the deadline",
            ):
                return False
            conn.execute(
                approvals.insert().values(
                    run_id=run.id,
                    decision="expired",
                    actor="smartcloudops",
                    role="",
                    reason="approval timed out",
                    at=now,
                )
            )
            audit_writer.append(
                conn,
                [
                    records.approval_expired(
                        run.plan.plan_id,
                        waited_s=max(0.0, waited),
                        incident_id=run.incident_id,
                        at=now,
                        trace_id=run.trace_id,
                    )
                ],
            )
            return True

    # ------------------------------------------------------------------ helpers

    def _advance(
        self,
        run: StoredRun,
        index: int,
        expected: tuple[str, ...],
        state: str,
        now: datetime,
        audit: Sequence[AuditRecord],
        *,
        failing: str | None = None,
        **values: Any,
    ) -> bool:
        """Move one step on with its audit rows; with `failing`, the run fails for that reason too.

        Only a step in an `expected` state moves: a redelivery's move changes nothing, writes
        no audit row, and is told so (False).
        """
        with self._engine.begin() as conn:
            if not move_step(conn, run.id, index, expected, state, now, **values):
                return False
            if failing is not None:
                fail_run(conn, run, failing, now)
            audit_writer.append(conn, audit)
            return True

    @staticmethod
    def _verified(
        run: StoredRun, index: int, result: Mapping[str, Any], now: datetime
    ) -> AuditRecord:
        return records.verified(
            run.plan.plan_id,
            run.plan.steps[index],
            result,
            incident_id=run.incident_id,
            at=now,
            trace_id=run.trace_id,
        )


REQUEST_ALERTNAME = "RemediationRequested"


def _open_request_incident(
    conn: sa.Connection, plan: RemediationPlan, audit: list[AuditRecord], *, now: datetime, trace_id: str
) -> int:
    from adapters.db.schema import incidents

    incident_id = conn.execute(
        incidents.insert().values(
            correlation_key=f"request:{plan.plan_id}",
            alertname=REQUEST_ALERTNAME,
            service=plan.service,
            severity="",
            status="open",
            opened_at=now,
            last_seen_at=now,
            trace_id=trace_id[:64],
            created_at=now,
            updated_at=now,
        )
    ).inserted_primary_key[0]
    audit.append(
        AuditRecord(
            kind="incident.opened",
            occurred_at=now,
            actor=plan.requested_by or "system",
            incident_id=incident_id,
            trace_id=trace_id,
            data={"reason": "remediation requested", "service": plan.service, "plan_id": plan.plan_id},
        )
    )
    return incident_id
