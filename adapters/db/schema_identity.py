"""Identity tables: per-client API keys, stored as hashes only."""

from __future__ import annotations

import sqlalchemy as sa

from adapters.db.schema import BigId, Time, metadata

api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", BigId, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("key_hash", sa.String(64), nullable=False),  # sha256 hex of the whole key
    sa.Column("key_prefix", sa.String(16), nullable=False),  # shown by `apikey list` to tell keys apart
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("created_at", Time, nullable=False),
    sa.Column("revoked_at", Time),
    sa.Column("revoked_by", sa.String(128)),
    sa.UniqueConstraint("key_hash", name="uq_api_keys_hash"),
)
# One live key per name: rotate by revoking, then creating again.
sa.Index("uq_api_keys_live_name", api_keys.c.name, unique=True,
         postgresql_where=api_keys.c.revoked_at.is_(None), sqlite_where=api_keys.c.revoked_at.is_(None))
