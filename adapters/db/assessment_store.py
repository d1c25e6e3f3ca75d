"""Writing risk assessments: the score with its factors, and the plan (or refusal) it led to."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db import audit_writer
from services.remediation_records import RunStarted
from adapters.db.remediation_rows import started_of, store_outcome
from adapters.db.schema_remediation import risk_assessments
from pipeline.audit import AuditRecord
from pipeline.remediation import audit as records
from pipeline.remediation.plan import PlanRefused, RemediationPlan
from pipeline.risk import RiskAssessment


class AssessmentStore:
    """The only writer of risk assessments; one transaction each, ending with its audit rows."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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
                return started_of(conn, outcome)
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
            audit: list[AuditRecord] = [
                records.assessed(assessment, incident_id=incident_id, at=now, trace_id=trace_id)
            ]
            started = store_outcome(
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
