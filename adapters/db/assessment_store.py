"""Writing risk assessments: the score with its factors, and the plan (or refusal) it led to."""

from __future__ import annotations

from datetime import datetime
from typing import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db import audit_writer
from services.remediation_records import AssessmentToRecord, RunStarted
from adapters.db.remediation_rows import started_of, store_outcome
from adapters.db.schema_remediation import risk_assessments
from pipeline.audit import AuditRecord
from pipeline.remediation import audit as records
from pipeline.remediation.plan import PlanRefused, RemediationPlan
from pipeline.risk import RiskAssessment


class AssessmentStore:
    """The only writer of risk assessments; one transaction per call, ending with its audit rows."""

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
        item = AssessmentToRecord(incident_id, event_id, assessment, outcome, trace_id)
        return self.record_assessments([item], mode=mode, approval_timeout_s=approval_timeout_s, now=now)[0]

    def record_assessments(
        self, items: Sequence[AssessmentToRecord], *, mode: str, approval_timeout_s: float, now: datetime
    ) -> list[RunStarted]:
        """Store several in one transaction, one append to the audit chain; an event stored before
        (a redelivery, or the same incident named twice) returns its run and writes nothing."""
        with self._engine.begin() as conn:
            known = set(conn.execute(
                sa.select(risk_assessments.c.event_id)
                .where(risk_assessments.c.event_id.in_(sorted({item.event_id for item in items})))
            ).scalars())
            audit: list[AuditRecord] = []
            started: list[RunStarted] = []
            for item in items:
                if item.event_id in known:
                    started.append(started_of(conn, item.outcome))
                    continue
                known.add(item.event_id)
                started.append(self._store(conn, item, audit, mode=mode, approval_timeout_s=approval_timeout_s,
                                           now=now))
            audit_writer.append(conn, audit)
            return started

    @staticmethod
    def _store(conn: Connection, item: AssessmentToRecord, audit: list[AuditRecord], *, mode: str,
               approval_timeout_s: float, now: datetime) -> RunStarted:
        assessment = item.assessment
        assessment_id = conn.execute(
            risk_assessments.insert()
            .values(
                incident_id=item.incident_id,
                event_id=item.event_id,
                score=assessment.score,
                decision=assessment.decision.value,
                factors=assessment.as_dict()["factors"],
                freeze_window=assessment.freeze_window,
                assessed_at=assessment.assessed_at,
            )
            .returning(risk_assessments.c.id)
        ).scalar_one()
        audit.append(records.assessed(assessment, incident_id=item.incident_id, at=now, trace_id=item.trace_id))
        return store_outcome(
            conn,
            item.outcome,
            audit,
            incident_id=item.incident_id,
            assessment_id=assessment_id,
            mode=mode,
            timeout_s=approval_timeout_s,
            now=now,
            trace_id=item.trace_id,
        )
