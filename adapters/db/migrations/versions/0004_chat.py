"""Chat operations: silences, silenced alerts, processed chat commands, incident acknowledgement.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "silences",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("alertname", sa.String(256)),
        sa.Column("service", sa.String(256)),
        sa.Column("starts_at", Time, nullable=False),
        sa.Column("ends_at", Time, nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("reason", sa.Text, nullable=False, server_default=""),
        sa.Column("alertmanager_id", sa.String(64)),
        sa.Column("ended_by", sa.String(128)),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.UniqueConstraint("event_id", name="uq_silences_event"),
    )
    op.create_index("ix_silences_ends_at", "silences", ["ends_at"])
    op.create_table(
        "silenced_alerts",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("silence_id", BigId, sa.ForeignKey("silences.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("starts_at", Time, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("alertname", sa.String(256), nullable=False),
        sa.Column("service", sa.String(256), nullable=False),
        sa.Column("labels", Json, nullable=False),
        sa.Column("silenced", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.UniqueConstraint("fingerprint", "starts_at", name="uq_silenced_alerts_identity"),
    )
    op.create_table(
        "chat_commands",
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("user_id", sa.String(128), nullable=False),
        sa.Column("channel_id", sa.String(128), nullable=False),
        sa.Column("intent", sa.String(32), nullable=False),
        sa.Column("processed_at", Time, nullable=False),
    )
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("acknowledged_by", sa.String(128)))
        batch.add_column(sa.Column("acknowledged_at", Time))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("acknowledged_at")
        batch.drop_column("acknowledged_by")
    op.drop_table("chat_commands")
    op.drop_table("silenced_alerts")
    op.drop_index("ix_silences_ends_at", table_name="silences")
    op.drop_table("silences")
