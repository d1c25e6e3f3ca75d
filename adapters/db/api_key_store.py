"""Per-client API keys: created, listed, revoked (each change audited); looked up by hash only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from adapters.db import audit_writer
from adapters.db.schema_identity import api_keys
from pipeline.api_keys import SHOWN_PREFIX_CHARS, check_key_name, hash_api_key, new_api_key
from pipeline.audit import AuditRecord
from pipeline.errors import InvalidInput, NotFound
from pipeline.nlu.authz import Role


@dataclass(frozen=True, slots=True)
class ApiKeyInfo:
    """A key as `apikey list` shows it: never the key itself."""

    name: str
    role: str
    prefix: str
    created_by: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyStore:
    """The api_keys table; `lookup` is the edge's ApiKeyLookup port."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def create(self, name: str, role: str, *, actor: str, now: datetime) -> str:
        """Make a key for `name` bound to `role`; the key is returned once and stored as a hash."""
        try:
            check_key_name(name)
            role = Role.parse(role).label
        except ValueError as exc:
            raise InvalidInput(str(exc)) from exc
        key = new_api_key()
        with self._engine.begin() as conn:
            live = conn.execute(sa.select(api_keys.c.id).where(
                api_keys.c.name == name, api_keys.c.revoked_at.is_(None))).first()
            if live is not None:
                raise InvalidInput(f"a live key named {name!r} exists; revoke it first")
            conn.execute(api_keys.insert().values(
                name=name, role=role, key_hash=hash_api_key(key), key_prefix=key[:SHOWN_PREFIX_CHARS],
                created_by=actor, created_at=now))
            audit_writer.append(conn, [AuditRecord(
                kind="identity.api_key_created", occurred_at=now, actor=actor,
                data={"name": name, "role": role, "prefix": key[:SHOWN_PREFIX_CHARS]})])
        return key

    def revoke(self, name: str, *, actor: str, now: datetime) -> None:
        """End the live key named `name` (NotFound when there is none)."""
        with self._engine.begin() as conn:
            done = conn.execute(api_keys.update().where(
                api_keys.c.name == name, api_keys.c.revoked_at.is_(None)).values(
                revoked_at=now, revoked_by=actor))
            if done.rowcount == 0:
                raise NotFound(f"no live API key named {name!r}")
            audit_writer.append(conn, [AuditRecord(
                kind="identity.api_key_revoked", occurred_at=now, actor=actor, data={"name": name})])

    def list(self, *, include_revoked: bool = False) -> list[ApiKeyInfo]:
        query = sa.select(api_keys).order_by(api_keys.c.name, api_keys.c.id)
        if not include_revoked:
            query = query.where(api_keys.c.revoked_at.is_(None))
        with self._engine.connect() as conn:
            return [ApiKeyInfo(r.name, r.role, r.key_prefix, r.created_by, r.created_at, r.revoked_at)
                    for r in conn.execute(query)]

    def lookup(self, key: str) -> tuple[str, str] | None:
        """The live key's (name, role), found by the key's hash; None for unknown or revoked."""
        with self._engine.connect() as conn:
            row = conn.execute(sa.select(api_keys.c.name, api_keys.c.role).where(
                api_keys.c.key_hash == hash_api_key(key), api_keys.c.revoked_at.is_(None))).first()
        return (row.name, row.role) if row is not None else None
