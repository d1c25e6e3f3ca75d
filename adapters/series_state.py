"""Per-series streaming state (opaque bytes, bounded size); series that stop reporting expire.

One port, three implementations honouring the same contract (tests/unit/metrics run it on all):
Redis in production (one MGET to load a batch, one pipeline of SET ... EX or one script to save it), a SQLite
file for the embedded default (no Redis configured), and an in-memory store for unit tests.

Saving can be conditional: `save(states, expected=loaded)` writes nothing and raises
StateConflict when another worker changed any of the series since they were loaded (Redis: one
script compares and writes), so two processes scoring the same series never silently lose a window.
"""

from __future__ import annotations

import functools
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from pipeline.errors import TransientError
from services.ports import SeriesStateStore

if TYPE_CHECKING:
    from config.settings import Settings

KEY_PREFIX = "sco:series:"
SQLITE_MAX_PARAMS = 500  # well under SQLite's bound on parameters per statement


class StateConflict(TransientError):
    """Another writer changed a series' state since it was loaded; retry from a fresh load."""


class RedisSeriesStateStore:
    """State in Redis under `sco:series:<series key>`, each with a TTL so silent series expire."""

    def __init__(self, client, ttl_s: int) -> None:  # type: ignore[no-untyped-def]  # redis.Redis
        self._client = client
        self._ttl_s = ttl_s

    def load(self, keys: Sequence[str]) -> list[bytes | None]:
        if not keys:
            return []
        try:
            return list(self._client.mget([KEY_PREFIX + key for key in keys]))
        except Exception as exc:
            _raise_transient_if_unreachable(exc)
            raise

    def save(
        self, states: Mapping[str, bytes], expected: Mapping[str, bytes | None] | None = None
    ) -> None:
        if not states:
            return
        try:
            if expected is None:
                self._write(self._client.pipeline(transaction=False), states)
            else:
                self._write_if_unchanged(states, expected)
        except StateConflict:
            raise
        except Exception as exc:
            _raise_transient_if_unreachable(exc)
            raise

    def _write(self, pipe, states: Mapping[str, bytes]) -> None:  # type: ignore[no-untyped-def]
        for key, data in states.items():
            pipe.set(KEY_PREFIX + key, data, ex=self._ttl_s)
        pipe.execute()

    def _write_if_unchanged(
        self, states: Mapping[str, bytes], expected: Mapping[str, bytes | None]
    ) -> None:
        # One round trip: the script compares each stored state with the one loaded and writes only
        # if none changed (atomic, as a script runs alone). WATCH + MGET + MULTI/EXEC took three.
        keys = [KEY_PREFIX + key for key in states]
        loaded = [expected.get(key) for key in states]
        changed = self._save_if_unchanged(
            keys=keys,
            args=[self._ttl_s, *("1" if data is None else "0" for data in loaded),
                  *(data or b"" for data in loaded), *states.values()],
        )
        if changed:
            raise StateConflict(f"series state changed since it was loaded ({keys[int(changed) - 1]})")

    @functools.cached_property
    def _save_if_unchanged(self):  # type: ignore[no-untyped-def]  # a redis-py Script
        return self._client.register_script(_SAVE_IF_UNCHANGED)


# KEYS: the states' keys; ARGV: the TTL, for each key "1" if it had no state when loaded (else "0"),
# each key's state as loaded, each key's new state. Returns 0 when written, else the 1-based index of
# the first key whose state changed (nothing is written then).
_SAVE_IF_UNCHANGED = """
local n = #KEYS
for i = 1, n do
  local current = redis.call('GET', KEYS[i])
  if ARGV[i + 1] == '1' then
    if current then return i end
  elseif current ~= ARGV[n + i + 1] then
    return i
  end
end
for i = 1, n do
  redis.call('SET', KEYS[i], ARGV[2 * n + i + 1], 'EX', ARGV[1])
end
return 0
"""


def _changed(
    states: Mapping[str, bytes],
    expected: Mapping[str, bytes | None],
    current: Sequence[bytes | None],
) -> bool:
    return any(expected.get(key) != now for key, now in zip(states, current))


def _raise_transient_if_unreachable(exc: Exception) -> None:
    import redis

    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        raise TransientError(f"series state store unreachable: {exc}") from exc


class SqliteSeriesStateStore:
    """State in a small SQLite table `series_state(key, data, expires_at)`: the embedded default."""

    def __init__(self, path: Path, ttl_s: int, clock: Callable[[], float] = time.time) -> None:
        self._path, self._ttl_s, self._clock = Path(path), ttl_s, clock
        self._lock = threading.Lock()
        self._connection: sqlite3.Connection | None = None

    @property
    def _conn(self) -> sqlite3.Connection:
        # Opened on first use, so building a runtime (the HTTP server does too) creates no file.
        if self._connection is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(
                str(self._path), timeout=30, check_same_thread=False, isolation_level=None
            )
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(
                "CREATE TABLE IF NOT EXISTS series_state "
                "(key TEXT PRIMARY KEY, data BLOB NOT NULL, expires_at REAL NOT NULL)"
            )
            conn.execute(
                "CREATE INDEX IF NOT EXISTS ix_series_state_expiry ON series_state (expires_at)"
            )
            self._connection = conn
        return self._connection

    def load(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            return self._load_unlocked(keys, self._clock())

    def _load_unlocked(self, keys: Sequence[str], now: float) -> list[bytes | None]:
        found: dict[str, bytes] = {}
        for start in range(0, len(keys), SQLITE_MAX_PARAMS):
            chunk = list(keys[start : start + SQLITE_MAX_PARAMS])
            marks = ",".join("?" * len(chunk))
            rows = self._conn.execute(
                f"SELECT key, data FROM series_state WHERE key IN ({marks}) AND expires_at > ?",
                [*chunk, now],
            )
            found.update((key, bytes(data)) for key, data in rows)
        return [found.get(key) for key in keys]

    def save(
        self, states: Mapping[str, bytes], expected: Mapping[str, bytes | None] | None = None
    ) -> None:
        now = self._clock()
        with self._lock:
            self._conn.execute(
                "BEGIN IMMEDIATE"
            )  # the write lock also makes the check below atomic
            try:
                if expected is not None and _changed(
                    states, expected, self._load_unlocked(list(states), now)
                ):
                    raise StateConflict("series state changed since it was loaded")
                self._conn.executemany(
                    "INSERT OR REPLACE INTO series_state (key, data, expires_at) VALUES (?, ?, ?)",
                    [(key, data, now + self._ttl_s) for key, data in states.items()],
                )
                # Expired rows go as writes come: the table stays the size of the live series.
                self._conn.execute("DELETE FROM series_state WHERE expires_at <= ?", (now,))
                self._conn.execute("COMMIT")
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


class InMemorySeriesStateStore:
    """The fake: a dict with expiry times, for unit tests."""

    def __init__(self, ttl_s: int = 3600, clock: Callable[[], float] = time.time) -> None:
        self._ttl_s, self._clock = ttl_s, clock
        self._data: dict[str, tuple[bytes, float]] = {}
        self._lock = threading.Lock()

    def load(self, keys: Sequence[str]) -> list[bytes | None]:
        with self._lock:
            return self._load_unlocked(keys)

    def _load_unlocked(self, keys: Sequence[str]) -> list[bytes | None]:
        now = self._clock()
        entries = [self._data.get(key) for key in keys]
        return [entry[0] if entry and entry[1] > now else None for entry in entries]

    def save(
        self, states: Mapping[str, bytes], expected: Mapping[str, bytes | None] | None = None
    ) -> None:
        expires_at = self._clock() + self._ttl_s
        with self._lock:
            if expected is not None and _changed(
                states, expected, self._load_unlocked(list(states))
            ):
                raise StateConflict("series state changed since it was loaded")
            self._data.update({key: (bytes(data), expires_at) for key, data in states.items()})


def series_state_store(settings: Settings) -> SeriesStateStore:
    """Redis when SCO_REDIS_URL is set (or the broker is Redis), else SQLite in the data dir."""
    url = settings.shared_redis_url
    if url is None:
        return SqliteSeriesStateStore(
            settings.resolved_data_dir / "series_state.sqlite", settings.series_state_ttl_s
        )
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0)
    return RedisSeriesStateStore(client, settings.series_state_ttl_s)
