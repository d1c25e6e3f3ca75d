"""Per-client API keys: stored hashed, bound to one role, revocable; the CLI makes, lists and revokes them."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.db.api_key_store import ApiKeyStore
from adapters.db.engine import create_engine
from adapters.db.schema import audit_log
from adapters.db.schema_identity import api_keys
from consumers.auth import InMemoryApiKeys
from pipeline.errors import InvalidInput, NotFound
from smartcloudops.cli import main

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "memory"])
def keys(request, engine):
    """The real store and the in-memory fake, held to the same contract."""
    if request.param == "sqlite":
        store = ApiKeyStore(engine)
        return lambda name, role: store.create(name, role, actor="test", now=NOW), store.lookup, \
            lambda name: store.revoke(name, actor="test", now=NOW)
    fake = InMemoryApiKeys()
    made = iter(range(100))

    def create(name: str, role: str) -> str:
        key = f"sco_fake_{next(made)}_{name}"
        fake.add(key, name, role)
        return key

    return create, fake.lookup, fake.revoke


def test_a_key_finds_its_name_and_role_until_revoked(keys) -> None:
    create, lookup, revoke = keys
    key = create("alertmanager", "ingest")
    assert lookup(key) == ("alertmanager", "ingest")
    assert lookup(key + "x") is None
    revoke("alertmanager")
    assert lookup(key) is None


def test_only_the_hash_is_stored_and_the_creation_is_audited(engine) -> None:
    key = ApiKeyStore(engine).create("prometheus", "ingest", actor="cli:ops", now=NOW)
    with engine.connect() as conn:
        row = conn.execute(sa.select(api_keys)).one()
        audit = [json.loads(body) for body in conn.execute(sa.select(audit_log.c.body)).scalars()]
    assert key not in str(tuple(row)) and row.key_hash != key and len(row.key_hash) == 64
    assert [(a["kind"], a["actor"]) for a in audit] == [("identity.api_key_created", "cli:ops")]
    assert key not in json.dumps(audit)


def test_bad_names_roles_and_duplicates_are_refused(engine) -> None:
    store = ApiKeyStore(engine)
    with pytest.raises(InvalidInput, match="key name"):
        store.create("Alert Manager", "ingest", actor="t", now=NOW)
    with pytest.raises(InvalidInput, match="unknown role"):
        store.create("am", "root", actor="t", now=NOW)
    store.create("am", "ingest", actor="t", now=NOW)
    with pytest.raises(InvalidInput, match="revoke it first"):
        store.create("am", "ingest", actor="t", now=NOW)
    with pytest.raises(NotFound):
        store.revoke("nobody", actor="t", now=NOW)


def test_the_cli_creates_lists_and_revokes(monkeypatch, tmp_path, sqlite_url, capsys) -> None:
    monkeypatch.setenv("SCO_DATABASE_URL", sqlite_url)
    monkeypatch.setenv("SCO_DATA_DIR", str(tmp_path))
    assert main(["apikey", "create", "--name", "alertmanager", "--role", "ingest"]) == 0
    key = capsys.readouterr().out.splitlines()[0]
    assert key.startswith("sco_") and len(key) > 40
    assert main(["apikey", "list"]) == 0
    listed = capsys.readouterr().out
    assert "alertmanager\tingest\t" in listed and key not in listed
    assert main(["apikey", "revoke", "alertmanager"]) == 0
    engine = create_engine(sqlite_url)
    try:
        assert ApiKeyStore(engine).lookup(key) is None
    finally:
        engine.dispose()
