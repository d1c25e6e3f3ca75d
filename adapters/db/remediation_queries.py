"""Read-only queries of risk and remediation for the HTTP API (`ApiDeps.extras["remediation"]`)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db.engine import reading
from adapters.db.schema import incidents
from adapters.db.schema_learning import remediation_outcomes
from adapters.db.schema_remediation import (
    approvals,
    remediation_runs,
    remediation_steps,
    risk_assessments,
)
from pipeline.events import to_utc


class RemediationQueries:
    """An incident's risk assessments, remediation runs, their steps and approvals, as JSON-ready dicts."""

    def __init__(
        self, engine: Engine, advisor: Callable[..., list[dict[str, Any]]] | None = None
    ) -> None:
        """`advisor(incident_id, alertname, service, severity, planned=...)` ranks the possible actions."""
        self._engine = reading(engine)
        self._advisor = advisor

    def for_incident(self, incident_id: int) -> dict[str, Any]:
        """Everything remediation knows about one incident; empty lists when nothing happened yet."""
        with self._engine.connect() as conn:
            assessments = conn.execute(
                sa.select(risk_assessments)
                .where(risk_assessments.c.incident_id == incident_id)
                .order_by(risk_assessments.c.id)
            ).all()
            runs = conn.execute(
                sa.select(remediation_runs)
                .where(remediation_runs.c.incident_id == incident_id)
                .order_by(remediation_runs.c.id)
            ).all()
            run_ids = [run.id for run in runs]
            steps = (
                conn.execute(
                    sa.select(remediation_steps)
                    .where(remediation_steps.c.run_id.in_(run_ids))
                    .order_by(remediation_steps.c.run_id, remediation_steps.c.step_index)
                ).all()
                if run_ids
                else []
            )
            decisions = (
                conn.execute(
                    sa.select(approvals)
                    .where(approvals.c.run_id.in_(run_ids))
                    .order_by(approvals.c.id)
                ).all()
                if run_ids
                else []
            )
            outcomes = (
                {
                    row.run_id: row
                    for row in conn.execute(
                        sa.select(remediation_outcomes).where(remediation_outcomes.c.run_id.in_(run_ids))
                    )
                }
                if run_ids
                else {}
            )
            incident = conn.execute(
                sa.select(incidents.c.alertname, incidents.c.service, incidents.c.severity)
                .where(incidents.c.id == incident_id)
            ).first()
        # The incident's first plan is what its rule chose: first in the advice when the rule ranks.
        planned = tuple(s.action for s in sorted((s for s in steps if runs and s.run_id == runs[0].id),
                                                  key=lambda s: s.step_index))
        advice = (
            self._advisor(incident_id, incident.alertname, incident.service, incident.severity or "",
                          planned=planned)
            if self._advisor is not None and incident is not None and runs
            else []
        )
        return {
            "advice": advice,
            "risk": [_assessment(row) for row in assessments],
            "remediation": [
                _run(
                    run,
                    [s for s in steps if s.run_id == run.id],
                    [a for a in decisions if a.run_id == run.id],
                    outcomes.get(run.id),
                )
                for run in runs
            ],
        }


def _time(value: datetime | None) -> str | None:
    return to_utc(value).isoformat() if value else None


def _assessment(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "score": round(row.score, 2),
        "decision": row.decision,
        "factors": row.factors,
        "freeze_window": row.freeze_window,
        "assessed_at": _time(row.assessed_at),
    }


def _run(row: Any, steps: list[Any], decisions: list[Any], outcome: Any | None) -> dict[str, Any]:
    return {
        "id": row.id,
        "plan_id": row.plan_id,
        "state": row.state,
        "decision": row.decision,
        "mode": row.mode,
        "rule": row.rule,
        "service": row.service,
        "flagged": row.flagged,
        "reason": row.reason,
        "requested_by": row.requested_by,
        "approval_deadline": _time(row.approval_deadline),
        "plan": row.plan,
        "created_at": _time(row.created_at),
        "updated_at": _time(row.updated_at),
        "steps": [_step(step) for step in steps],
        "approvals": [_approval(a) for a in decisions],
        "outcome": _outcome(outcome) if outcome is not None else None,
    }


def _outcome(row: Any) -> dict[str, Any]:
    """What the run achieved, once its verify horizon passed (recurrence known a day later)."""
    final = row.final
    return {
        "resolved": row.resolved,
        "resolved_at": _time(row.resolved_at),
        "worsened": row.worsened,
        "recurred": row.recurred,
        "final": final,
        "fixed": (row.resolved and not row.worsened and not row.recurred) if final else None,
        "horizon_s": row.horizon_s,
        "judged_at": _time(row.judged_at),
    }


def _step(row: Any) -> dict[str, Any]:
    return {
        "index": row.step_index,
        "action": row.action,
        "target": row.target,
        "params": row.params,
        "idempotency_key": row.idempotency_key,
        "state": row.state,
        "result": row.result,
        "observed": row.observed,
        "reason": row.reason,
        "updated_at": _time(row.updated_at),
    }


def _approval(row: Any) -> dict[str, Any]:
    return {
        "decision": row.decision,
        "actor": row.actor,
        "role": row.role,
        "reason": row.reason,
        "at": _time(row.at),
    }
