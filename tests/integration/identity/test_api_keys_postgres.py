"""API keys on PostgreSQL: the migration's partial unique index, lookup by hash, revocation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from adapters.db.api_key_store import ApiKeyStore
from adapters.db.engine import create_engine
from pipeline.errors import InvalidInput

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def test_keys_live_revoke_and_rotate_on_postgres(pg_url) -> None:
    engine = create_engine(pg_url)
    try:
        store = ApiKeyStore(engine)
        first = store.create("alertmanager", "ingest", actor="t", now=NOW)
        with pytest.raises(InvalidInput):
            store.create("alertmanager", "ingest", actor="t", now=NOW)
        assert store.lookup(first) == ("alertmanager", "ingest")
        store.revoke("alertmanager", actor="t", now=NOW)
        second = store.create("alertmanager", "ingest", actor="t", now=NOW)  # rotation
        assert (store.lookup(first), store.lookup(second)) == (None, ("alertmanager", "ingest"))
        assert [k.revoked_at is not None for k in store.list(include_revoked=True)] == [True, False]
    finally:
        engine.dispose()
