"""Outcomes of finished remediation runs, the facts learning ranks actions from.

Revision ID: 0007_outcomes
Revises: 0006
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_outcomes"
down_revision = "0006"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "remediation_outcomes",
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
    )
    op.create_index("ix_remediation_outcomes_signature", "remediation_outcomes",
                    ["alertname", "service", "action"])
    op.create_index("ix_remediation_outcomes_pending", "remediation_outcomes", ["final", "resolved_at"])


def downgrade() -> None:
    op.drop_index("ix_remediation_outcomes_pending", table_name="remediation_outcomes")
    op.drop_index("ix_remediation_outcomes_signature", table_name="remediation_outcomes")
    op.drop_table("remediation_outcomes")
