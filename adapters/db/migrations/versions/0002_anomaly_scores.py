"""Streaming anomaly scoring: scored samples, series label index, anomaly evidence per incident.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)
Double = sa.Float(precision=53)


def upgrade() -> None:
    op.create_table(
        "anomaly_scores",
        sa.Column("series_key", sa.String(40), primary_key=True),
        sa.Column("ts", Time, primary_key=True),
        sa.Column("value", Double, nullable=False),
        sa.Column("score", Double, nullable=False),
        sa.Column("is_anomaly", sa.Boolean, nullable=False),
        sa.Column("model_version", sa.String(64), nullable=False),
        sa.Column("labels", Json, nullable=False),
    )
    op.create_table(
        "anomaly_series",
        sa.Column("series_key", sa.String(40), primary_key=True),
        sa.Column("name", sa.String(256), nullable=False),
        sa.Column("instance", sa.String(256)),
        sa.Column("job", sa.String(256)),
        sa.Column("service", sa.String(256)),
        sa.Column("labels", Json, nullable=False),
        sa.Column("first_seen_at", Time, nullable=False),
    )
    for column in ("instance", "job", "service"):
        op.create_index(f"ix_anomaly_series_{column}", "anomaly_series", [column])
    op.create_table(
        "incident_anomaly",
        sa.Column(
            "incident_id",
            BigId,
            sa.ForeignKey("incidents.id"),
            primary_key=True,
            autoincrement=False,
        ),
        sa.Column("max_score", Double, nullable=False),
        sa.Column("mean_score", Double, nullable=False),
        sa.Column("points", sa.Integer, nullable=False),
        sa.Column("anomalous_points", sa.Integer, nullable=False),
        sa.Column("series_count", sa.Integer, nullable=False),
        sa.Column("top_series", Json, nullable=False),
        sa.Column("window_start", Time, nullable=False),
        sa.Column("window_end", Time, nullable=False),
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("updated_at", Time, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("incident_anomaly")
    for column in ("instance", "job", "service"):
        op.drop_index(f"ix_anomaly_series_{column}", "anomaly_series")
    op.drop_table("anomaly_series")
    op.drop_table("anomaly_scores")
