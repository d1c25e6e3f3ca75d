"""The Redis context store against a real Redis honours the same contract as the fake."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import pytest
import redis

from adapters.chat_context import RedisContextStore

pytestmark = pytest.mark.integration


def _load_contract():
    # Test folders are not packages; load the shared contract by its path.
    path = Path(__file__).resolve().parents[2] / "unit" / "nlu" / "nlu_context_store_contract.py"
    spec = importlib.util.spec_from_file_location("nlu_context_store_contract", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_contract = _load_contract()


class TestRedisContextStoreOnRealRedis(_contract.ContextStoreContract):
    @pytest.fixture
    def store(self, redis_url):
        client = redis.Redis.from_url(redis_url)
        yield RedisContextStore(client, prefix="sco:test:chat:context:")
        client.close()

    @pytest.fixture
    def wait_past(self):
        return time.sleep

    def test_a_store_in_another_process_sees_the_context(self, store, redis_url):
        store.put("U1", "C1", _contract.CONTEXT, ttl_s=60)
        other = RedisContextStore(redis.Redis.from_url(redis_url), prefix="sco:test:chat:context:")
        assert other.get("U1", "C1") == _contract.CONTEXT
