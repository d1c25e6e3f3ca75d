"""Tables of learning from outcomes, on the store's one metadata (DDL: migration 0007_outcomes)."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.db.schema import BigId, Time, metadata

# One row per finished run (succeeded or failed), written once its verify horizon has passed.
# `recurred` stays NULL until 24 hours after the incident resolved; `final` says it is known.
remediation_outcomes = sa.Table(
    "remediation_outcomes",
    metadata,
    sa.Column("run_id", BigId, sa.ForeignKey("remediation_runs.id"), primary_key=True,
              autoincrement=False),
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("alertname", sa.String(256), nullable=False),
    sa.Column("service", sa.String(256), nullable=False),
    sa.Column("severity", sa.String(64), nullable=False),
    sa.Column("tier", sa.Integer, nullable=False),
    sa.Column("action", sa.String(256), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("run_state", sa.String(32), nullable=False),
    sa.Column("finished_at", Time, nullable=False),
    sa.Column("horizon_s", sa.Float, nullable=False),
    sa.Column("resolved", sa.Boolean, nullable=False),
    sa.Column("resolved_at", Time),
    sa.Column("worsened", sa.Boolean, nullable=False),
    sa.Column("recurred", sa.Boolean),
    sa.Column("final", sa.Boolean, nullable=False),
    sa.Column("judged_at", Time, nullable=False),
    sa.Index("ix_remediation_outcomes_signature", "alertname", "service", "action"),
    sa.Index("ix_remediation_outcomes_pending", "final", "resolved_at"),
)
