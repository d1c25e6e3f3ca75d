"""Judging finished remediation runs from the alert stream, and reading the outcomes back.

A sweep (`OutcomeRecorder.sweep`, run by the worker parent every minute) does two things:
1. every run that ended (succeeded or failed) more than the verify horizon ago and has no
   outcome yet is judged (`pipeline.learning.outcomes.judge`) and stored with an
   `remediation.outcome` audit row, in one transaction;
2. every stored outcome whose incident resolved more than 24 hours ago and whose recurrence is
   still open gets it (`remediation.outcome_final`).
Both steps are idempotent (the run id is the outcome's key; a finalised row is never touched
again), so a crash, a second worker or a redelivered sweep changes nothing. A sweep rather than a
Celery ETA task per run: with a Redis broker an ETA task longer than the visibility timeout is
delivered again, and a lost one would leave a run unjudged for ever; the sweep catches up after
any outage by construction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
import structlog
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from adapters.db.schema import alerts, incidents
from adapters.db.schema_learning import remediation_outcomes
from adapters.db.schema_remediation import approvals, remediation_runs, remediation_steps
from adapters.periodic import PeriodicJob
from pipeline.audit import AuditRecord
from pipeline.events import to_utc
from pipeline.learning.outcomes import RECURRENCE_SECONDS, Outcome, Signature, first_attempts, judge
from pipeline.learning.rates import Estimate, OutcomeRates
from pipeline.risk import LearnedFix

if TYPE_CHECKING:
    from pipeline.learning.classifier import OutcomeClassifier
    from pipeline.learning.features import IncidentContext

log = structlog.get_logger("outcomes")

ACTOR = "worker:outcomes"
ENDED_STATES = ("succeeded", "failed")
BATCH = 200


@dataclass(frozen=True, slots=True)
class SweepResult:
    judged: tuple[int, ...]  # run ids given an outcome
    finalised: tuple[int, ...]  # run ids whose recurrence became known


class OutcomeRecorder:
    """Writes the outcomes of finished runs; `tier_of` maps a service to its catalog tier."""

    def __init__(self, engine: Engine, *, horizon_s: float, tier_of: Callable[[str], int]) -> None:
        if horizon_s <= 0:
            raise ValueError("the verify horizon must be positive")
        self._engine, self._horizon_s, self._tier_of = engine, horizon_s, tier_of

    def sweep(self, now: datetime) -> SweepResult:
        return SweepResult(judged=self._judge_due(now), finalised=self._finalise_due(now))

    # ------------------------------------------------------------------ step 1: judge

    def _judge_due(self, now: datetime) -> tuple[int, ...]:
        cutoff = now - timedelta(seconds=self._horizon_s)
        judged: list[int] = []
        with self._engine.begin() as conn:
            runs = conn.execute(
                sa.select(remediation_runs, incidents.c.alertname, incidents.c.severity)
                .join(incidents, incidents.c.id == remediation_runs.c.incident_id)
                .outerjoin(remediation_outcomes,
                           remediation_outcomes.c.run_id == remediation_runs.c.id)
                .where(remediation_runs.c.state.in_(ENDED_STATES),
                       remediation_runs.c.updated_at <= cutoff,
                       remediation_outcomes.c.run_id.is_(None))
                .order_by(remediation_runs.c.id)
                .limit(BATCH)
            ).all()
            records = []
            for run in runs:
                values = self._judge(conn, run, now)
                if values is None:
                    continue
                conn.execute(remediation_outcomes.insert().values(**values))
                records.append(_audit("remediation.outcome", values, now))
                judged.append(run.id)
            audit_writer.append(conn, records)
        return tuple(judged)

    def _judge(self, conn: Connection, run: Any, now: datetime) -> dict[str, Any] | None:
        actions = list(
            conn.execute(
                sa.select(remediation_steps.c.action)
                .where(remediation_steps.c.run_id == run.id)
                .order_by(remediation_steps.c.step_index)
            ).scalars()
        )
        if not actions:  # a run without steps did nothing to learn from
            return None
        finished_at = to_utc(run.updated_at)
        horizon_end = finished_at + timedelta(seconds=self._horizon_s)
        resolved_at = _all_resolved_at(conn, run.incident_id)
        worsened_at = conn.execute(
            sa.select(sa.func.min(alerts.c.starts_at)).where(
                alerts.c.service == run.service,
                alerts.c.alertname != run.alertname,
                alerts.c.starts_at >= finished_at,
                alerts.c.starts_at <= horizon_end,
            )
        ).scalar()
        # Acting began at the approval if there was one, else when the run was planned.
        approved_at = conn.execute(
            sa.select(approvals.c.at).where(approvals.c.run_id == run.id)
        ).scalar()
        acted_at = to_utc(approved_at if approved_at is not None else run.created_at)
        resolved, _, worsened = judge(
            last_step_at=finished_at, horizon_seconds=self._horizon_s, resolved_at=resolved_at,
            refired_at=None, new_alert_at=to_utc(worsened_at) if worsened_at else None,
            acted_at=acted_at,
        )
        return {
            "run_id": run.id,
            "incident_id": run.incident_id,
            "alertname": run.alertname,
            "service": run.service,
            "severity": run.severity or "",
            "tier": self._tier_of(run.service),
            "action": "+".join(dict.fromkeys(actions)),
            "mode": run.mode,
            "run_state": run.state,
            "finished_at": finished_at,
            "horizon_s": self._horizon_s,
            "resolved": resolved,
            "resolved_at": resolved_at if resolved else None,
            "worsened": worsened,
            # Unresolved means it cannot recur: the outcome is already final.
            "recurred": None if resolved else False,
            "final": not resolved,
            "judged_at": now,
        }

    # ------------------------------------------------------------------ step 2: recurrence

    def _finalise_due(self, now: datetime) -> tuple[int, ...]:
        cutoff = now - timedelta(seconds=RECURRENCE_SECONDS)
        finalised: list[int] = []
        with self._engine.begin() as conn:
            rows = conn.execute(
                sa.select(remediation_outcomes)
                .where(remediation_outcomes.c.final.is_(False),
                       remediation_outcomes.c.resolved_at <= cutoff)
                .order_by(remediation_outcomes.c.run_id)
                .limit(BATCH)
            ).all()
            records = []
            for row in rows:
                resolved_at = to_utc(row.resolved_at)
                refired = conn.execute(
                    sa.select(sa.func.min(alerts.c.starts_at)).where(
                        alerts.c.service == row.service,
                        alerts.c.alertname == row.alertname,
                        alerts.c.starts_at > resolved_at,
                        alerts.c.starts_at <= resolved_at + timedelta(seconds=RECURRENCE_SECONDS),
                    )
                ).scalar()
                recurred = refired is not None
                conn.execute(
                    remediation_outcomes.update()
                    .where(remediation_outcomes.c.run_id == row.run_id,
                           remediation_outcomes.c.final.is_(False))
                    .values(recurred=recurred, final=True)
                )
                values = {**row._asdict(), "recurred": recurred, "final": True}
                records.append(_audit("remediation.outcome_final", values, now))
                finalised.append(row.run_id)
            audit_writer.append(conn, records)
        return tuple(finalised)

    # ------------------------------------------------------------------ reading

    def outcomes(self, *, mode: str | None = "execute", final_only: bool = False) -> list[Outcome]:
        return read_outcomes(self._engine, mode=mode, final_only=final_only)


def read_outcomes(engine: Engine, *, mode: str | None = "execute", final_only: bool = False) -> list[Outcome]:
    """Every stored outcome as a learning fact (runs in `mode` only, unless None), oldest first.

    Dry runs are left out by default: nothing was done, so what followed says nothing of the action.
    """
    query = sa.select(remediation_outcomes).order_by(remediation_outcomes.c.finished_at)
    if mode is not None:
        query = query.where(remediation_outcomes.c.mode == mode)
    if final_only:
        query = query.where(remediation_outcomes.c.final.is_(True))
    with engine.connect() as conn:
        return [as_outcome(row) for row in conn.execute(query)]


class LearnedRates:
    """Learner (a) fitted on the stored outcomes, refitted at most every `refresh_s` (a worker's view).

    Outcomes arrive a horizon after each run, so a minute-old fit loses nothing; refitting reads
    every executed run's outcome, which is a few thousand rows a year on a busy estate, and learns
    from each incident's first attempt only, as the learner is evaluated.
    """

    def __init__(self, engine: Engine, *, strength: float = 5.0, refresh_s: float = 60.0,
                 clock: Callable[[], float] | None = None) -> None:
        import time

        self._engine, self._strength, self._refresh_s = engine, strength, refresh_s
        self._clock = clock or time.monotonic
        self._lock = threading.Lock()
        self._rates: OutcomeRates | None = None
        self._fitted_at = 0.0

    def rates(self) -> OutcomeRates:
        with self._lock:
            now = self._clock()
            if self._rates is None or now - self._fitted_at >= self._refresh_s:
                self._rates = OutcomeRates.fit(first_attempts(read_outcomes(self._engine)), self._strength)
                self._fitted_at = now
            return self._rates

    def advice(
        self, signature: Signature, actions: tuple[str, ...], *,
        classifier: OutcomeClassifier | None = None, context: IncidentContext | None = None,
        rule_order: Sequence[str] | None = None,
    ) -> list[dict[str, Any]]:
        """The possible actions ranked by their record on incidents alike (empty: no record); with
        the chosen classifier and the incident's context, in the classifier's order instead; with
        `rule_order` (the training run chose the rule), the plan's actions first and learning
        reorders nothing."""
        from pipeline.learning.advice import advise, advise_by_classifier, advise_in_rule_order

        ranked: list[tuple[Estimate, float | None]] | None = None
        by = "classifier"
        if rule_order is not None:
            ranked, by = [(e, None) for e in advise_in_rule_order(self.rates(), signature, actions, rule_order)], "rule"
        elif classifier is not None and context is not None:
            try:
                ranked = advise_by_classifier(self.rates(), classifier, context, actions)
            except Exception as error:  # noqa: BLE001 - onnxruntime raises its own untyped errors
                # The advice only ranks: a model that fails to score leaves it to the rates.
                log.warning("learning.classifier_failed", error=repr(error)[:300])
        if ranked is None:
            ranked, by = [(e, None) for e in advise(self.rates(), signature, actions)], "rates"
        return [
            {"action": e.action, "probability": round(e.probability, 4), "low": round(e.low, 4),
             "high": round(e.high, 4), "fixed": e.fixed, "tried": e.tried, "explanation": e.explain(),
             "ranked_by": by, "classifier_probability": None if p is None else round(p, 4)}
            for e, p in ranked
        ]

    def has_outcomes(self) -> bool:
        """Whether any executed run was judged yet (a cheap check before fitting anything)."""
        with self._engine.connect() as conn:
            return conn.execute(
                sa.select(remediation_outcomes.c.run_id).where(remediation_outcomes.c.mode == "execute").limit(1)
            ).first() is not None

    def learned_fix(self, signature: Signature, action: str) -> LearnedFix | None:
        estimate = self.rates().estimate(signature, action)
        if not estimate.tried:  # nothing tried at any level: the prior alone says nothing
            return None
        return LearnedFix(action, estimate.probability, estimate.tried, estimate.explain())


def as_outcome(row: Any) -> Outcome:
    """A stored outcome as the learners' fact; an open recurrence counts as none yet."""
    return Outcome(
        run_id=str(row.run_id),
        incident_id=str(row.incident_id),
        signature=Signature(row.alertname, row.service, row.severity, row.tier),
        action=row.action,
        finished_at=to_utc(row.finished_at),
        resolved=row.resolved,
        recurred=bool(row.recurred),
        worsened=row.worsened,
    )


def _all_resolved_at(conn: Connection, incident_id: int) -> datetime | None:
    """When the incident's last alert resolved, or None while any of them still fires."""
    row = conn.execute(
        sa.select(
            sa.func.count().label("alerts"),
            sa.func.sum(sa.case((alerts.c.status == "resolved", 1), else_=0)).label("resolved"),
            sa.func.max(alerts.c.ends_at).label("last_end"),
        ).where(alerts.c.incident_id == incident_id)
    ).one()
    if not row.alerts or row.resolved != row.alerts or row.last_end is None:
        return None
    return to_utc(row.last_end)


def _audit(kind: str, values: dict[str, Any], now: datetime) -> AuditRecord:
    data = {
        key: (value.isoformat() if isinstance(value, datetime) else value)
        for key, value in values.items()
        if key not in ("incident_id", "judged_at")
    }
    fixed = values["resolved"] and not values["worsened"] and values["recurred"] is False
    data["fixed"] = fixed if values["final"] else None
    return AuditRecord(kind=kind, occurred_at=now, actor=ACTOR, incident_id=values["incident_id"],
                       data=data)


class OutcomeSweeper:
    """A worker-side thread that judges due runs every interval (database down: next time)."""

    def __init__(self, recorder: OutcomeRecorder, *, interval_s: float) -> None:
        self._recorder = recorder
        self._job = PeriodicJob(self.run_once, interval_s=interval_s, name="outcome-sweeper", log=log,
                                failure_event="outcomes.sweep_failed")

    def run_once(self) -> SweepResult:
        result = self._recorder.sweep(datetime.now(UTC))
        if result.judged or result.finalised:
            log.info("outcomes.recorded", judged=list(result.judged), finalised=list(result.finalised))
        return result

    def start(self) -> threading.Thread:
        return self._job.start()

    def stop(self) -> None:
        self._job.stop()
