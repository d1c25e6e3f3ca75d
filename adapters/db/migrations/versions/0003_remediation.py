"""Risk assessments, remediation runs and steps, and approvals.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "risk_assessments",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id")),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column("factors", Json, nullable=False),
        sa.Column("freeze_window", sa.String(256)),
        sa.Column("assessed_at", Time, nullable=False),
        sa.UniqueConstraint("event_id", name="uq_risk_assessments_event"),
    )
    op.create_index("ix_risk_assessments_incident", "risk_assessments", ["incident_id", "id"])
    op.create_table(
        "remediation_runs",
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
        sa.UniqueConstraint("plan_id", name="uq_remediation_runs_plan"),
    )
    op.create_index("ix_remediation_runs_incident", "remediation_runs", ["incident_id", "id"])
    op.create_index("ix_remediation_runs_state", "remediation_runs", ["state", "id"])
    op.create_table(
        "remediation_steps",
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
    )
    op.create_index("ix_remediation_steps_target", "remediation_steps", ["target", "updated_at"])
    op.create_table(
        "approvals",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("run_id", BigId, sa.ForeignKey("remediation_runs.id"), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("role", sa.String(64), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("at", Time, nullable=False),
        sa.UniqueConstraint("run_id", name="uq_approvals_run"),
    )


def downgrade() -> None:
    op.drop_table("approvals")
    op.drop_table("remediation_steps")
    op.drop_index("ix_remediation_runs_state", "remediation_runs")
    op.drop_index("ix_remediation_runs_incident", "remediation_runs")
    op.drop_table("remediation_runs")
    op.drop_index("ix_risk_assessments_incident", "risk_assessments")
    op.drop_table("risk_assessments")
