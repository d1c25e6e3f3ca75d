"""Local console accounts and one-time login links; every change and every refusal audited.

This is the console's ConsoleAccounts port. It writes (a link is consumed once, a refusal is an
audit row) the way the API key store does: the edge calls the port, never the database.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db import audit_writer
from adapters.db.schema_console import console_login_links, console_users
from pipeline.audit import AuditRecord
from pipeline.console_accounts import (
    UNUSABLE_PASSWORD,
    check_password,
    check_username,
    hash_login_token,
    hash_password,
    new_login_token,
    verify_password,
)
from pipeline.errors import InvalidInput, NotFound
from pipeline.nlu.authz import Role

# A scrypt check even for an unknown user, so timing does not tell which usernames exist.
_DUMMY_HASH = hash_password("not-a-password-of-anyone", salt=b"0" * 16)


class ConsoleUserStore:
    """console_users and console_login_links."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, username: str, role: str, password: str | None, *, actor: str, now: datetime) -> None:
        """Add an account; without a password it signs in only through one-time links."""
        try:
            check_username(username)
            role = Role.parse(role).label
            stored = hash_password(check_password(password)) if password is not None else UNUSABLE_PASSWORD
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        with self._engine.begin() as conn:
            if conn.execute(sa.select(console_users.c.id).where(console_users.c.username == username)).first():
                raise InvalidInput(f"a console user named {username!r} exists")
            conn.execute(console_users.insert().values(
                username=username, role=role, password_hash=stored, created_by=actor, created_at=now))
            audit_writer.append(conn, [AuditRecord(
                kind="console.user_created", occurred_at=now, actor=actor,
                data={"username": username, "role": role, "password": password is not None})])

    def exists(self, username: str) -> bool:
        with self._engine.connect() as conn:
            return conn.execute(sa.select(console_users.c.id).where(
                console_users.c.username == username)).first() is not None

    def verify(self, username: str, password: str) -> tuple[str, str] | None:
        """(username, role) when the password is right and the account live; None otherwise."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(console_users).where(
                console_users.c.username == username, console_users.c.disabled_at.is_(None))).first()
        stored = row.password_hash if row is not None and row.password_hash != UNUSABLE_PASSWORD else None
        ok = verify_password(password, stored or _DUMMY_HASH)
        return (row.username, row.role) if ok and row is not None and stored else None

    def role_of(self, username: str) -> str | None:
        """The live account's role (a session is re-checked on every request), or None."""
        with self._engine.connect() as conn:
            return conn.execute(sa.select(console_users.c.role).where(
                console_users.c.username == username, console_users.c.disabled_at.is_(None))).scalar()

    def issue_link(self, username: str, *, ttl: timedelta, actor: str, now: datetime) -> str:
        """A one-time login token for a live account (NotFound otherwise); audited, stored as a hash."""
        token = new_login_token()
        with self._engine.begin() as conn:
            if conn.execute(sa.select(console_users.c.id).where(
                    console_users.c.username == username, console_users.c.disabled_at.is_(None))).first() is None:
                raise NotFound(f"no live console user named {username!r}")
            conn.execute(console_login_links.insert().values(
                token_hash=hash_login_token(token), username=username, created_by=actor, created_at=now,
                expires_at=now + ttl))
            audit_writer.append(conn, [AuditRecord(
                kind="console.login_link_issued", occurred_at=now, actor=actor,
                data={"username": username, "expires_at": (now + ttl).isoformat()})])
        return token

    def consume_link(self, token: str, *, now: datetime) -> tuple[str, str] | None:
        """(username, role) for an unused, unexpired link, which is then spent; None otherwise."""
        links = console_login_links.c
        with self._engine.begin() as conn:
            # One UPDATE decides: two tabs posting the same link cannot both sign in.
            spent = conn.execute(console_login_links.update().where(
                links.token_hash == hash_login_token(token), links.used_at.is_(None), links.expires_at > now,
            ).values(used_at=now).returning(links.username)).first()
            if spent is None:
                return None
            row = conn.execute(sa.select(console_users.c.username, console_users.c.role).where(
                console_users.c.username == spent.username, console_users.c.disabled_at.is_(None))).first()
            if row is None:
                return None
            audit_writer.append(conn, [AuditRecord(
                kind="console.login_link_used", occurred_at=now, actor=f"console:{row.username}",
                data={"username": row.username})])
        return row.username, row.role

    def record_refusal(self, *, actor: str, action: str, path: str, reason: str, now: datetime,
                       incident_id: int | None = None, trace_id: str | None = None) -> None:
        """An audit row for a console request that was refused (a forged or unauthorised POST)."""
        with self._engine.begin() as conn:
            audit_writer.append(conn, [AuditRecord(
                kind="console.refused", occurred_at=now, actor=actor, incident_id=incident_id,
                trace_id=trace_id, data={"action": action, "path": path[:256], "reason": reason[:256]})])

