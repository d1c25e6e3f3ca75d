"""Console tables (revision 0007): local accounts and one-time login links."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.db.schema import BigId, Time, audit_log, metadata

console_users = sa.Table(
    "console_users",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(256), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("disabled_at", Time),
    sa.UniqueConstraint("username", name="uq_console_users_username"),
)

console_login_links = sa.Table(
    "console_login_links",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("token_hash", sa.String(64), nullable=False),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("expires_at", Time, nullable=False),
    sa.Column("used_at", Time),
    sa.UniqueConstraint("token_hash", name="uq_console_login_links_hash"),
)

# The safety banner reads the latest kill-switch row, breakers of the last day and refusals of the
# last hour by kind: without this each was a scan of the whole audit log.
sa.Index("ix_audit_log_kind_time", audit_log.c.kind, audit_log.c.occurred_at)
