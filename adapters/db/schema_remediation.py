"""Tables of risk scoring and remediation, on the store's one metadata (DDL: migration 0003)."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.db.schema import BigId, Json, Time, metadata

# A run's life: planned -> (awaiting_approval ->) running -> succeeded | failed;
# awaiting_approval -> denied | expired; a notify-only plan is stored and never runs.
RUN_STATES = (
    "planned",
    "awaiting_approval",
    "running",
    "succeeded",
    "failed",
    "denied",
    "expired",
    "notify_only",
)
# A step's life: pending -> guarded -> executing -> executed -> verified -> succeeded, or failed/refused.
STEP_STATES = (
    "pending",
    "guarded",
    "executing",
    "executed",
    "verified",
    "succeeded",
    "failed",
    "refused",
)

risk_assessments = sa.Table(
    "risk_assessments",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id")),
    sa.Column("event_id", sa.String(64), nullable=False),
    sa.Column("score", sa.Float, nullable=False),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("factors", Json, nullable=False),
    sa.Column("freeze_window", sa.String(256)),
    sa.Column("assessed_at", Time, nullable=False),
    sa.UniqueConstraint("event_id", name="uq_risk_assessments_event"),
    sa.Index("ix_risk_assessments_incident", "incident_id", "id"),
)

remediation_runs = sa.Table(
    "remediation_runs",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("plan_id", sa.String(64), nullable=False),
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id")),
    sa.Column("assessment_id", BigId, sa.ForeignKey("risk_assessments.id")),
    sa.Column("service", sa.String(256), nullable=False),
    sa.Column("rule", sa.String(256)),
    sa.Column("decision", sa.String(32), nullable=False),
    sa.Column("mode", sa.String(16), nullable=False),
    sa.Column("plan", Json, nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("approved", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("reason", sa.Text),
    sa.Column("requested_by", sa.String(128)),
    sa.Column("approval_deadline", Time),
    sa.Column("trace_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    # The chat that approved the run (a response_url): told how the run ends, from the ending transaction.
    sa.Column("reply_to", sa.String(2048)),
    sa.UniqueConstraint("plan_id", name="uq_remediation_runs_plan"),
    sa.Index("ix_remediation_runs_incident", "incident_id", "id"),
    sa.Index("ix_remediation_runs_state", "state", "id"),
)

remediation_steps = sa.Table(
    "remediation_steps",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", BigId, sa.ForeignKey("remediation_runs.id"), nullable=False),
    sa.Column("step_index", sa.Integer, nullable=False),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("target", sa.String(512), nullable=False),
    sa.Column("params", Json, nullable=False),
    sa.Column("idempotency_key", sa.String(64), nullable=False),
    sa.Column("state", sa.String(32), nullable=False),
    sa.Column("result", Json),
    sa.Column("observed", Json),
    sa.Column("reason", sa.Text),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.UniqueConstraint("idempotency_key", name="uq_remediation_steps_key"),
    sa.UniqueConstraint("run_id", "step_index", name="uq_remediation_steps_run_index"),
    sa.Index("ix_remediation_steps_target", "target", "updated_at"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("run_id", BigId, sa.ForeignKey("remediation_runs.id"), nullable=False),
    sa.Column("decision", sa.String(16), nullable=False),  # approved | denied | expired
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("role", sa.String(64), nullable=False),
    sa.Column("reason", sa.Text, nullable=False, server_default=""),
    sa.Column("at", Time, nullable=False),
    # One decision per run: a second approve (or a redelivered one) cannot land twice.
    sa.UniqueConstraint("run_id", name="uq_approvals_run"),
)

# A decision message whose state change committed, with its follow-ups in the outbox: a redelivery of
# the same message finds its claim and does nothing twice (neither the chain nor the reply).
follow_up_claims = sa.Table(
    "follow_up_claims",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("claimed_at", Time, nullable=False),
)
