"""Tables of the store, as SQLAlchemy Core metadata (the migrations are the source of truth for DDL)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

metadata = sa.MetaData()

# BIGINT on PostgreSQL; INTEGER on SQLite so that it is the rowid and autoincrements.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)

incidents = sa.Table(
    "incidents", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("correlation_key", sa.String(512), nullable=False),
    sa.Column("alertname", sa.String(256), nullable=False),
    sa.Column("service", sa.String(256), nullable=False),
    sa.Column("severity", sa.String(64), nullable=False, server_default=""),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("opened_at", Time, nullable=False),
    sa.Column("last_seen_at", Time, nullable=False),
    sa.Column("resolved_at", Time),
    sa.Column("firing_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("alert_count", sa.Integer, nullable=False, server_default="0"),
    sa.Column("truncated_alerts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("flagged", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("trace_id", sa.String(64), nullable=False, server_default=""),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.Index("ix_incidents_key_status", "correlation_key", "status"),
    sa.Index("ix_incidents_status_id", "status", "id"),
    sa.Index("ix_incidents_service_id", "service", "id"),
)

alerts = sa.Table(
    "alerts", metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("incident_id", BigId, sa.ForeignKey("incidents.id"), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("starts_at", Time, nullable=False),
    sa.Column("ends_at", Time),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("alertname", sa.String(256), nullable=False),
    sa.Column("service", sa.String(256), nullable=False),
    sa.Column("severity", sa.String(64), nullable=False, server_default=""),
    sa.Column("labels", Json, nullable=False),
    sa.Column("annotations", Json, nullable=False),
    sa.Column("generator_url", sa.Text, nullable=False, server_default=""),
    sa.Column("firing_event_id", sa.String(36)),
    sa.Column("resolved_event_id", sa.String(36)),
    sa.Column("received_at", Time, nullable=False),
    sa.Column("updated_at", Time, nullable=False),
    sa.UniqueConstraint("fingerprint", "starts_at", name="uq_alerts_identity"),
    sa.Index("ix_alerts_incident", "incident_id"),
)

audit_log = sa.Table(
    "audit_log", metadata,
    sa.Column("seq", BigId, primary_key=True, autoincrement=False),
    sa.Column("occurred_at", Time, nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("incident_id", sa.BigInteger),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index("ix_audit_log_incident", "incident_id", "seq"),
)

audit_head = sa.Table(
    "audit_head", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.BigInteger, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
)
