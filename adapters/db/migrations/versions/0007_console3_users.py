"""Local console accounts (scrypt password hashes) and one-time login links (sha256 of the token);
audit rows indexed by kind and time, for the console's safety banner (kill switch, breakers, refusals).

Revision ID: 0007_console3_users
Revises: 0007_outcomes
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_console3_users"
down_revision = "0007_outcomes"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(256), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("disabled_at", Time),
        sa.UniqueConstraint("username", name="uq_console_users_username"),
    )
    op.create_table(
        "console_login_links",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("username", sa.String(64), nullable=False),
        sa.Column("created_by", sa.String(128), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("expires_at", Time, nullable=False),
        sa.Column("used_at", Time),
        sa.UniqueConstraint("token_hash", name="uq_console_login_links_hash"),
    )
    op.create_index("ix_audit_log_kind_time", "audit_log", ["kind", "occurred_at"])


def downgrade() -> None:
    op.drop_index("ix_audit_log_kind_time", table_name="audit_log")
    op.drop_table("console_login_links")
    op.drop_table("console_users")
