"""Every SeriesStateStore honours one contract: ordered bulk load, overwrite, expiry."""

import fakeredis
import pytest

from adapters.series_state import (
    KEY_PREFIX,
    InMemorySeriesStateStore,
    RedisSeriesStateStore,
    SqliteSeriesStateStore,
    StateConflict,
)
from pipeline.errors import TransientError

TTL = 3600


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture(params=["memory", "sqlite", "fakeredis"])
def store(request, tmp_path, clock):
    if request.param == "memory":
        return InMemorySeriesStateStore(TTL, clock)
    if request.param == "sqlite":
        sqlite_store = SqliteSeriesStateStore(tmp_path / "state.sqlite", TTL, clock)
        request.addfinalizer(sqlite_store.close)
        return sqlite_store
    return RedisSeriesStateStore(fakeredis.FakeRedis(), TTL)


def test_load_returns_bytes_in_the_order_asked_and_none_for_unknown(store):
    store.save({"a": b"\x00state-a", "b": b"state-b\xff"})
    assert store.load(["b", "missing", "a"]) == [b"state-b\xff", None, b"\x00state-a"]


def test_save_overwrites_a_series_state(store):
    store.save({"a": b"old"})
    store.save({"a": b"new"})
    assert store.load(["a"]) == [b"new"]


def test_empty_load_and_save_are_no_ops(store):
    store.save({})
    assert store.load([]) == []


def test_many_series_load_in_one_call(store):
    states = {f"series-{i}": i.to_bytes(4, "little") * 100 for i in range(1200)}
    store.save(states)
    keys = list(states)[::-1]
    assert store.load(keys) == [states[key] for key in keys]


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_series_silent_for_the_ttl_expires_and_a_write_restarts_its_ttl(kind, tmp_path, clock):
    store = (
        InMemorySeriesStateStore(TTL, clock)
        if kind == "memory"
        else SqliteSeriesStateStore(tmp_path / "s.sqlite", TTL, clock)
    )
    store.save({"quiet": b"q", "busy": b"b"})
    clock.now += TTL - 1
    store.save({"busy": b"b2"})
    assert store.load(["quiet", "busy"]) == [b"q", b"b2"]
    clock.now += 2
    assert store.load(["quiet", "busy"]) == [None, b"b2"]


def test_redis_keys_carry_the_prefix_and_the_ttl():
    client = fakeredis.FakeRedis()
    RedisSeriesStateStore(client, TTL).save({"abc": b"x"})
    assert client.get(KEY_PREFIX + "abc") == b"x"
    assert 0 < client.ttl(KEY_PREFIX + "abc") <= TTL


def test_redis_down_is_a_transient_error():
    server = fakeredis.FakeServer()
    server.connected = False
    store = RedisSeriesStateStore(fakeredis.FakeRedis(server=server), TTL)
    with pytest.raises(TransientError):
        store.load(["a"])
    with pytest.raises(TransientError):
        store.save({"a": b"x"})


def test_conditional_save_writes_when_nothing_changed_since_the_load(store):
    store.save({"a": b"v1"})
    loaded = dict(zip(["a", "new"], store.load(["a", "new"])))
    store.save({"a": b"v2", "new": b"n1"}, expected=loaded)
    assert store.load(["a", "new"]) == [b"v2", b"n1"]


def test_conditional_save_writes_nothing_when_another_writer_got_there_first(store):
    store.save({"a": b"v1"})
    loaded = dict(zip(["a", "b"], store.load(["a", "b"])))
    store.save({"b": b"other worker"})
    with pytest.raises(StateConflict):
        store.save({"a": b"mine", "b": b"mine"}, expected=loaded)
    assert store.load(["a", "b"]) == [b"v1", b"other worker"]
    assert issubclass(StateConflict, TransientError)


def test_the_store_is_redis_when_configured_else_sqlite_in_the_data_dir(tmp_path):
    from adapters.series_state import series_state_store
    from config.settings import load_settings

    embedded = series_state_store(load_settings(data_dir=tmp_path))
    assert isinstance(embedded, SqliteSeriesStateStore)
    embedded.save({"a": b"x"})
    assert (tmp_path / "series_state.sqlite").is_file()
    embedded.close()
    assert isinstance(
        series_state_store(load_settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0")),
        RedisSeriesStateStore,
    )
    assert isinstance(
        series_state_store(load_settings(data_dir=tmp_path, broker_url="redis://127.0.0.1:1/0")),
        RedisSeriesStateStore,
    )
