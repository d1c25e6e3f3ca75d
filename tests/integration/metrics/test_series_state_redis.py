"""The Redis series state store on a real Redis: bulk load order, TTL, a conditional save race."""

from __future__ import annotations

import pytest
import redis

from adapters.series_state import KEY_PREFIX, RedisSeriesStateStore, StateConflict

pytestmark = pytest.mark.integration


@pytest.fixture
def client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def test_bulk_round_trip_with_ttl(client):
    store = RedisSeriesStateStore(client, ttl_s=120)
    states = {f"s{i}": bytes([i % 256]) * 1900 for i in range(2000)}
    store.save(states)
    keys = list(states)[::-1] + ["absent"]
    assert store.load(keys) == [states[k] for k in keys[:-1]] + [None]
    assert 0 < client.ttl(KEY_PREFIX + "s7") <= 120


def test_conditional_save_loses_to_a_concurrent_writer_and_writes_nothing(client):
    store = RedisSeriesStateStore(client, ttl_s=120)
    store.save({"a": b"1", "b": b"1"})
    loaded = dict(zip("ab", store.load(["a", "b"])))
    RedisSeriesStateStore(redis.Redis(connection_pool=client.connection_pool), 120).save(
        {"b": b"other"}
    )
    with pytest.raises(StateConflict):
        store.save({"a": b"mine", "b": b"mine"}, expected=loaded)
    assert store.load(["a", "b"]) == [b"1", b"other"]
    store.save({"a": b"2", "b": b"2"}, expected={"a": b"1", "b": b"other"})
    assert store.load(["a", "b"]) == [b"2", b"2"]
