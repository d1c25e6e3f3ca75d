"""Writing risk assessments, remediation runs, steps and approvals, each change with its audit rows.

Every method is one transaction that ends with `audit_writer.append`. State changes are
conditional updates (`... WHERE state IN (expected)`), so two deliveries of one message race
harmlessly: the loser changes nothing and is told so (`False` / `None`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.schema import alerts, incidents
from adapters.db.schema_anomaly import incident_anomaly
from adapters.db.schema_remediation import (
    approvals,
    remediation_runs,
    remediation_steps,
    risk_assessments,
)
from pipeline.audit import AuditRecord
from pipeline.errors import NotFound
from pipeline.events import to_utc
from pipeline.policy import ActionName, Decision
from pipeline.remediation import audit as records
from pipeline.remediation.guards import BreakerSnapshot, GuardDecision
from pipeline.remediation.params import parse_params
from pipeline.remediation.plan import PlanRefused, PlanStep, RemediationPlan
from pipeline.risk import PastAction, RiskAssessment, TargetHistory

# Steps whose call went out (or may have): they count as actions on their target.
ACTED_STATES = ("executing", "executed", "verified", "succeeded", "failed")
OPEN_RUN_STATES = ("planned", "awaiting_approval", "running")
# A service outside the catalog is simply not ours to remediate: audited, but no human is paged for it.
UNREMARKABLE_REFUSALS = frozenset({"unknown_service"})


@dataclass(frozen=True, slots=True)
class StoredStep:
    index: int
    action: str
    target: str
    idempotency_key: str
    state: str
    result: Mapping[str, Any] | None
    observed: Mapping[str, Any] | None


@dataclass(frozen=True, slots=True)
class StoredRun:
    """A run as stored, with its plan rebuilt (and re-validated) from the stored primitives."""

    id: int
    incident_id: int | None
    plan: RemediationPlan
    state: str
    mode: str
    approved: bool
    approval_deadline: datetime | None
    trace_id: str
    steps: tuple[StoredStep, ...]

    def step(self, index: int) -> StoredStep:
        if not 0 <= index < len(self.steps):
            raise NotFound(f"run {self.id} has no step {index}")
        return self.steps[index]

    def next_step(self) -> int:
        """The first step that has not finished: where a run (re)starts."""
        return next((s.index for s in self.steps if s.state != "succeeded"), len(self.steps))


@dataclass(frozen=True, slots=True)
class RunStarted:
    """What planning stored: the run to start (from `next_step`) when its state is running."""

    run_id: int | None
    state: str
    next_step: int = 0


@dataclass(frozen=True, slots=True)
class IncidentSnapshot:
    id: int
    status: str
    service: str
    alertname: str
    firing_labels: tuple[Mapping[str, str], ...]
    trace_id: str
    # Peak and mean anomaly score attached when the alerts arrived (None: nothing was scored).
    anomaly: tuple[float, float] | None = None


def plan_from_dict(data: Mapping[str, Any]) -> RemediationPlan:
    """Rebuild a stored plan; every parameter is validated again on the way in."""
    steps = tuple(
        PlanStep(
            int(s["index"]),
            ActionName(s["action"]),
            parse_params(s["action"], s["params"]),
            str(s["idempotency_key"]),
        )
        for s in data["steps"]
    )
    return RemediationPlan(
        str(data["plan_id"]),
        str(data["incident_id"]),
        str(data["service"]),
        data.get("rule"),
        Decision(data["decision"]),
        steps,
        data.get("requested_by"),
    )


class RemediationStore:
    """The only writer of the remediation tables."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    # ------------------------------------------------------------------ reading for the domain

    def incident(self, incident_id: int) -> IncidentSnapshot:
        """The incident and the labels of its firing alerts (all alerts when none fires)."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(incidents).where(incidents.c.id == incident_id)).first()
            if row is None:
                raise NotFound(f"incident {incident_id} does not exist")
            rows = conn.execute(
                sa.select(alerts.c.labels, alerts.c.status)
                .where(alerts.c.incident_id == incident_id)
                .order_by(alerts.c.id)
            ).all()
            evidence = conn.execute(
                sa.select(incident_anomaly.c.max_score, incident_anomaly.c.mean_score).where(
                    incident_anomaly.c.incident_id == incident_id, incident_anomaly.c.points > 0
                )
            ).first()
        firing = [r.labels for r in rows if r.status == "firing"] or [r.labels for r in rows]
        anomaly = (evidence.max_score, evidence.mean_score) if evidence else None
        return IncidentSnapshot(
            row.id, row.status, row.service, row.alertname, tuple(firing), row.trace_id, anomaly
        )

    def target_history(self, targets: Iterable[str], since: datetime) -> TargetHistory:
        """Earlier executed steps on these targets (flapping and failures feed the risk score)."""
        wanted = sorted(set(targets))
        if not wanted:
            return TargetHistory()
        query = (
            sa.select(
                remediation_steps.c.action,
                remediation_steps.c.state,
                remediation_steps.c.updated_at,
            )
            .join(remediation_runs, remediation_runs.c.id == remediation_steps.c.run_id)
            .where(
                remediation_steps.c.target.in_(wanted),
                remediation_steps.c.updated_at >= since,
                remediation_steps.c.state.in_(ACTED_STATES),
                remediation_runs.c.mode == "execute",
            )
            .order_by(remediation_steps.c.updated_at)
        )
        with self._engine.connect() as conn:
            rows = conn.execute(query).all()
        outcome = {"succeeded": True, "failed": False}
        return TargetHistory(
            tuple(PastAction(to_utc(r.updated_at), r.action, outcome.get(r.state)) for r in rows)
        )

    def run(self, run_id: int) -> StoredRun:
        with self._engine.connect() as conn:
            return _load_run(conn, run_id)

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

    # ------------------------------------------------------------------ planning

    def record_assessment(
        self,
        *,
        incident_id: int,
        event_id: str,
        assessment: RiskAssessment,
        outcome: RemediationPlan | PlanRefused,
        mode: str,
        approval_timeout_s: float,
        now: datetime,
        trace_id: str,
    ) -> RunStarted:
        """Store the score with its factors and the plan (or the refusal); a redelivery returns the same run."""
        with self._engine.begin() as conn:
            known = conn.execute(
                sa.select(risk_assessments.c.id).where(risk_assessments.c.event_id == event_id)
            ).scalar()
            if known is not None:
                return _started_of(conn, outcome)
            assessment_id = conn.execute(
                risk_assessments.insert()
                .values(
                    incident_id=incident_id,
                    event_id=event_id,
                    score=assessment.score,
                    decision=assessment.decision.value,
                    factors=assessment.as_dict()["factors"],
                    freeze_window=assessment.freeze_window,
                    assessed_at=assessment.assessed_at,
                )
                .returning(risk_assessments.c.id)
            ).scalar_one()
            audit = [
                records.assessed(assessment, incident_id=incident_id, at=now, trace_id=trace_id)
            ]
            started = self._store_outcome(
                conn,
                outcome,
                audit,
                incident_id=incident_id,
                assessment_id=assessment_id,
                mode=mode,
                timeout_s=approval_timeout_s,
                now=now,
                trace_id=trace_id,
            )
            audit_writer.append(conn, audit)
            return started

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
                existing = _started_of(conn, outcome)
                if existing.run_id is not None:
                    return existing
            audit: list[AuditRecord] = []
            started = self._store_outcome(
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

    def _store_outcome(
        self,
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
        if isinstance(outcome, PlanRefused):
            audit.append(
                records.refused(
                    outcome, incident_id=incident_id, at=now, trace_id=trace_id, request=request
                )
            )
            if outcome.reason_code not in UNREMARKABLE_REFUSALS:
                _flag_incident(conn, incident_id, now)
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

    # ------------------------------------------------------------------ one step's life

    def step_guarded(
        self, run: StoredRun, index: int, decision: GuardDecision, *, now: datetime
    ) -> bool:
        """Record a guard's verdict; a refusal fails the run and flags the incident."""
        step = run.plan.steps[index]
        with self._engine.begin() as conn:
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
                changed = _move_step(conn, run.id, index, ("pending",), "guarded", now)
            else:
                why = f"guard refused step {index}: {decision.reason_code}: {decision.detail}"
                changed = _move_step(conn, run.id, index, ("pending",), "refused", now, reason=why)
                if changed:
                    _fail_run(conn, run, why, now)
            if changed:
                audit_writer.append(conn, audit)
            return changed

    def step_executing(self, run: StoredRun, index: int, *, now: datetime) -> bool:
        """Mark the step as calling out, before the call: a redelivery then verifies, never re-sends."""
        step = run.plan.steps[index]
        with self._engine.begin() as conn:
            changed = _move_step(conn, run.id, index, ("guarded",), "executing", now)
            if changed:
                audit_writer.append(
                    conn,
                    [
                        _record(
                            "remediation.step_executing",
                            run,
                            now,
                            {**_step_fields(run, step), "mode": run.mode},
                        )
                    ],
                )
            return changed

    def step_not_sent(self, run: StoredRun, index: int, error: str, *, now: datetime) -> bool:
        """The call provably never reached AWS (throttled, unreachable): the retry may send it."""
        step = run.plan.steps[index]
        with self._engine.begin() as conn:
            changed = _move_step(conn, run.id, index, ("executing",), "guarded", now)
            if changed:
                audit_writer.append(
                    conn,
                    [
                        _record(
                            "remediation.step_not_sent",
                            run,
                            now,
                            {**_step_fields(run, step), "error": error[:2000]},
                        )
                    ],
                )
            return changed

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
        with self._engine.begin() as conn:
            changed = _move_step(
                conn, run.id, index, ("executing",), "executed", now, result=dict(result)
            )
            if changed:
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
                audit_writer.append(conn, [record])
            return changed

    def step_duplicate(self, run: StoredRun, index: int, task: str, *, now: datetime) -> None:
        """A redelivered or retried message found its step already past this stage: say so, do nothing."""
        step = run.plan.steps[index]
        stored = run.step(index).state
        with self._engine.begin() as conn:
            record = records.not_repeated(
                run.plan.plan_id,
                step,
                stored,
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
            audit_writer.append(conn, [record])

    def step_verified(
        self, run: StoredRun, index: int, result: Mapping[str, Any], *, now: datetime
    ) -> bool:
        """Record what the real API showed; a failed verification fails the run and flags the incident."""
        step = run.plan.steps[index]
        ok = bool(result.get("ok"))
        with self._engine.begin() as conn:
            why = (
                None
                if ok
                else f"step {index} ({step.action.value} on {step.target}) did not verify: "
                f"{result.get('detail', '')}"
            )
            changed = _move_step(
                conn,
                run.id,
                index,
                ("executed",),
                "verified" if ok else "failed",
                now,
                observed=dict(result),
                reason=why,
            )
            if changed:
                if not ok:
                    _fail_run(conn, run, why or "", now)
                audit_writer.append(
                    conn,
                    [
                        records.verified(
                            run.plan.plan_id,
                            step,
                            result,
                            incident_id=run.incident_id,
                            at=now,
                            trace_id=run.trace_id,
                        )
                    ],
                )
            return changed

    def step_failed(self, run: StoredRun, index: int, error: str, *, now: datetime) -> bool:
        """An action failed outright (AWS refused it): the step and the run fail, the incident is flagged."""
        step = run.plan.steps[index]
        with self._engine.begin() as conn:
            why = f"step {index} ({step.action.value} on {step.target}) failed: {error}"[:2000]
            changed = _move_step(
                conn, run.id, index, ("guarded", "executing", "executed"), "failed", now, reason=why
            )
            if changed:
                _fail_run(conn, run, why, now)
                audit_writer.append(
                    conn,
                    [
                        records.verified(
                            run.plan.plan_id,
                            step,
                            {"ok": False, "detail": why, "observed_state": {}},
                            incident_id=run.incident_id,
                            at=now,
                            trace_id=run.trace_id,
                        )
                    ],
                )
            return changed

    def step_recorded(
        self, run: StoredRun, index: int, breaker: BreakerSnapshot | None, *, now: datetime
    ) -> bool:
        """Close a verified step; the last one closes the run."""
        step = run.plan.steps[index]
        with self._engine.begin() as conn:
            changed = _move_step(conn, run.id, index, ("verified",), "succeeded", now)
            if not changed:
                return False
            audit = [
                _record(
                    "remediation.step_succeeded",
                    run,
                    now,
                    {**_step_fields(run, step), "mode": run.mode},
                )
            ]
            if breaker is not None:
                audit.append(
                    records.breaker(
                        breaker, incident_id=run.incident_id, at=now, trace_id=run.trace_id
                    )
                )
            if index == len(run.steps) - 1:
                _move_run(conn, run.id, ("running",), "succeeded", now)
                audit.append(
                    _record(
                        "remediation.run_succeeded",
                        run,
                        now,
                        {"plan_id": run.plan.plan_id, "steps": len(run.steps), "mode": run.mode},
                    )
                )
            audit_writer.append(conn, audit)
            return True

    def breaker_recorded(self, run: StoredRun, snapshot: BreakerSnapshot, *, now: datetime) -> None:
        with self._engine.begin() as conn:
            audit_writer.append(
                conn,
                [
                    records.breaker(
                        snapshot, incident_id=run.incident_id, at=now, trace_id=run.trace_id
                    )
                ],
            )

    # ------------------------------------------------------------------ approvals

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
    ) -> bool:
        """Record a human's approval (the run resumes) or denial (it ends); only a waiting run changes."""
        with self._engine.begin() as conn:
            state = "running" if approved else "denied"
            values = (
                {"approved": True}
                if approved
                else {"reason": f"denied by {actor}: {reason}"[:2000]}
            )
            if not _move_run(conn, run.id, ("awaiting_approval",), state, now, **values):
                return False
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
        with self._engine.begin() as conn:
            audit_writer.append(
                conn,
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

    def expire(self, run: StoredRun, *, now: datetime) -> bool:
        """End a run whose approval did not come in time."""
        with self._engine.begin() as conn:
            waited = (
                (now - to_utc(run.approval_deadline)).total_seconds()
                if run.approval_deadline
                else 0.0
            )
            if not _move_run(
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

    def record_kill_switch(
        self, *, engaged: bool, by: str, reason: str, now: datetime, trace_id: str
    ) -> None:
        with self._engine.begin() as conn:
            audit_writer.append(
                conn,
                [records.kill_switch(engaged, by=by, reason=reason, at=now, trace_id=trace_id)],
            )


# ---------------------------------------------------------------------- helpers


def _load_run(conn: Connection, run_id: int) -> StoredRun:
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


def _started_of(conn: Connection, outcome: RemediationPlan | PlanRefused) -> RunStarted:
    if not isinstance(outcome, RemediationPlan):
        return RunStarted(None, "refused")
    row = conn.execute(
        sa.select(remediation_runs.c.id, remediation_runs.c.state).where(
            remediation_runs.c.plan_id == outcome.plan_id
        )
    ).first()
    if row is None:
        return RunStarted(None, "notify_only" if not outcome.steps else "missing")
    return RunStarted(row.id, row.state, _load_run(conn, row.id).next_step())


def _move_step(
    conn: Connection,
    run_id: int,
    index: int,
    expected: tuple[str, ...],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    result = conn.execute(
        remediation_steps.update()
        .where(
            remediation_steps.c.run_id == run_id,
            remediation_steps.c.step_index == index,
            remediation_steps.c.state.in_(expected),
        )
        .values(state=state, updated_at=now, **values)
    )
    return result.rowcount == 1


def _move_run(
    conn: Connection,
    run_id: int,
    expected: tuple[str, ...],
    state: str,
    now: datetime,
    **values: Any,
) -> bool:
    result = conn.execute(
        remediation_runs.update()
        .where(
            remediation_runs.c.id == run_id,
            remediation_runs.c.state.in_(expected),
        )
        .values(state=state, updated_at=now, **values)
    )
    return result.rowcount == 1


def _fail_run(conn: Connection, run: StoredRun, why: str, now: datetime) -> None:
    # The chain stops here: later tasks of this run see a failed run and do nothing.
    _move_run(conn, run.id, OPEN_RUN_STATES, "failed", now, flagged=True, reason=why[:2000])
    _flag_incident(conn, run.incident_id, now)


def _flag_incident(conn: Connection, incident_id: int | None, now: datetime) -> None:
    # Flagged and left open: a human has to look at it.
    if incident_id is not None:
        conn.execute(
            incidents.update()
            .where(incidents.c.id == incident_id)
            .values(flagged=True, updated_at=now)
        )


def _step_fields(run: StoredRun, step: PlanStep) -> dict[str, Any]:
    return {
        "plan_id": run.plan.plan_id,
        "step_index": step.index,
        "action": step.action.value,
        "target": step.target,
        "idempotency_key": step.idempotency_key,
    }


def _record(kind: str, run: StoredRun, now: datetime, data: Mapping[str, Any]) -> AuditRecord:
    return AuditRecord(
        kind=kind,
        occurred_at=now,
        actor=records.SYSTEM_ACTOR,
        incident_id=run.incident_id,
        trace_id=run.trace_id,
        data=dict(data),
    )
