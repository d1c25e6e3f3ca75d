"""Tables of chat operations, on the store's one metadata (DDL: migration 0004)."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.db.schema import BigId, Json, Time, metadata

# Alert silences made from chat: a matcher (alertname and/or service; None matches any)
# and a time range. Unsilencing ends a silence early (`ends_at` moves to that moment).
silences = sa.Table(
    "silences",
    metadata,
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
    sa.Index("ix_silences_ends_at", "ends_at"),
)

# Alerts that arrived while a silence matched them: kept, flagged, and out of correlation.
silenced_alerts = sa.Table(
    "silenced_alerts",
    metadata,
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

# One row per chat command whose side effects were committed: a redelivered message is then
# answered again but acts only once.
chat_commands = sa.Table(
    "chat_commands",
    metadata,
    sa.Column("event_id", sa.String(64), primary_key=True),
    sa.Column("user_id", sa.String(128), nullable=False),
    sa.Column("channel_id", sa.String(128), nullable=False),
    sa.Column("intent", sa.String(32), nullable=False),
    sa.Column("processed_at", Time, nullable=False),
)

# The acknowledgement columns migration 0004 adds to `incidents` (a lightweight view of the
# table, so the alert path's Table definition stays as it is).
incident_acks = sa.table(
    "incidents",
    sa.column("id", BigId),
    sa.column("service", sa.String),
    sa.column("status", sa.String),
    sa.column("acknowledged_by", sa.String),
    sa.column("acknowledged_at", Time),
)
