"""Follow-ups of decisions and run ends through the outbox: the chat a run answers to, and claimed decisions.

`remediation_runs.reply_to` keeps the chat that approved a run, so the run's end can be told from the
transaction that ends it. `follow_up_claims` remembers every decision message whose state change
committed (with its follow-ups in the outbox), so a redelivery is recognised and does nothing twice.

Revision ID: 0007_lost4
Revises: 0007_console3_users
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_lost4"
down_revision = "0007_console3_users"
branch_labels = None
depends_on = None

Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("remediation_runs") as batch:
        batch.add_column(sa.Column("reply_to", sa.String(2048)))
    op.create_table(
        "follow_up_claims",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("claimed_at", Time, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("follow_up_claims")
    with op.batch_alter_table("remediation_runs") as batch:
        batch.drop_column("reply_to")
