"""What risk scoring reads about an incident: its alerts' labels, anomaly evidence and its targets' history."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from services.remediation_records import ACTED_STATES, IncidentSnapshot
from adapters.db.schema import alerts, incidents
from adapters.db.schema_anomaly import incident_anomaly
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from pipeline.errors import NotFound
from pipeline.events import to_utc
from pipeline.risk import PastAction, TargetHistory


class IncidentFacts:
    """Reads for the domain: an incident as scoring sees it, and earlier actions on its targets."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

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
