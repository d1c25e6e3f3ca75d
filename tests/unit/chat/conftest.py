"""The `bench` fixture: a chat handler on a migrated SQLite store with in-memory peers."""

from __future__ import annotations

import pytest
from chat_bench import Bench, FakeAlertmanager

from adapters.db.engine import create_engine


@pytest.fixture
def bench(sqlite_url):
    engine = create_engine(sqlite_url)
    yield Bench(engine, FakeAlertmanager())
    engine.dispose()
