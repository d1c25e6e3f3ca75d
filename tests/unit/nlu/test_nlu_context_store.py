"""The in-memory fake and the Redis adapter (on fakeredis) honour the same ContextStore contract."""

from __future__ import annotations

import time

import fakeredis
import pytest
from nlu_context_store_contract import CONTEXT, ContextStoreContract

from adapters.chat_context import RedisContextStore
from pipeline.nlu.context import EMPTY_CONTEXT, InMemoryContextStore


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class TestInMemoryContextStore(ContextStoreContract):
    @pytest.fixture
    def clock(self):
        return FakeClock()

    @pytest.fixture
    def store(self, clock):
        return InMemoryContextStore(clock)

    @pytest.fixture
    def wait_past(self, clock):
        def advance(seconds: float) -> None:
            clock.now += seconds

        return advance


class TestRedisContextStoreOnFakeRedis(ContextStoreContract):
    @pytest.fixture
    def client(self):
        return fakeredis.FakeRedis()

    @pytest.fixture
    def store(self, client):
        return RedisContextStore(client)

    @pytest.fixture
    def wait_past(self):
        return time.sleep

    def test_the_value_is_json_with_a_ttl(self, client, store):
        store.put("U1", "C1", CONTEXT, ttl_s=90)
        key = "sco:chat:context:U1:C1"
        assert client.get(key).startswith(b'{"last_incident":42')
        assert 0 < client.ttl(key) <= 90

    def test_a_corrupt_value_starts_the_conversation_afresh(self, client, store):
        client.set("sco:chat:context:U1:C1", b"{not json")
        assert store.get("U1", "C1") == EMPTY_CONTEXT


class TestSqliteContextStore(ContextStoreContract):
    @pytest.fixture
    def clock(self):
        return FakeClock()

    @pytest.fixture
    def store(self, clock, tmp_path):
        from adapters.chat_context import SqliteContextStore

        return SqliteContextStore(tmp_path / "contexts.sqlite", clock)

    @pytest.fixture
    def wait_past(self, clock):
        def advance(seconds: float) -> None:
            clock.now += seconds

        return advance


def test_embedded_worker_processes_share_one_conversation(tmp_path):
    """Prefork children (or a restarted worker) built from the same embedded settings see one context:
    "show incident 6" served by one child, "approve it" by another, still means incident 6."""
    from config.settings import load_settings
    from smartcloudops.bootstrap import context_store

    settings = load_settings(data_dir=tmp_path)
    context_store(settings).put("U1", "C1", CONTEXT, ttl_s=60)
    assert context_store(settings).get("U1", "C1") == CONTEXT
