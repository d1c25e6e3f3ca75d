"""Per-series streaming state (opaque bytes, bounded size) with expiry of series that stop reporting.

One port, three implementations honouring the same contract (tests/unit/metrics run it on all):
Redis in production (one MGET to load a batch, one pipeline of SET ... EX to save it), a SQLite
file for the embedded default (no Redis configured), and an in-memory store for unit tests.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Mapping, Protocol, Sequence

from pipeline.errors import TransientError

if TYPE_CHECKING:
    from config.settings import Settings

KEY_PREFIX = "sco:series:"
SQLITE_MAX_PARAMS = 500  # well under SQLite's bound on parameters per statement


class SeriesStateStore(Protocol):
    """Loads and saves the state bytes of many series at once; a series silent for the TTL is gone."""

    def load(self, keys: Sequence[str]) -> list[bytes | None]:
        """The stored bytes of each key, in order; None for unknown or expired series."""
        ...

    def save(self, states: Mapping[str, bytes]) -> None:
        """Store each series' bytes, restarting its time to live."""
        ...


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
        except Exception as exc:  # noqa: BLE001 - redis' errors are mapped just below
            raise _transient(exc) from exc

    def save(self, states: Mapping[str, bytes]) -> None:
        if not states:
            return
        pipe = self._client.pipeline(transaction=False)
        for key, data in states.items():
            pipe.set(KEY_PREFIX + key, data, ex=self._ttl_s)
        try:
            pipe.execute()
        except Exception as exc:  # noqa: BLE001
            raise _transient(exc) from exc


def _transient(exc: Exception) -> Exception:
    import redis

    if isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError)):
        return TransientError(f"series state store unreachable: {exc}")
    return exc


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
            conn = sqlite3.connect(str(self._path), timeout=30, check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS series_state "
                         "(key TEXT PRIMARY KEY, data BLOB NOT NULL, expires_at REAL NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS ix_series_state_expiry ON series_state (expires_at)")
            self._connection = conn
        return self._connection

    def load(self, keys: Sequence[str]) -> list[bytes | None]:
        now, found = self._clock(), {}
        with self._lock:
            for start in range(0, len(keys), SQLITE_MAX_PARAMS):
                chunk = list(keys[start:start + SQLITE_MAX_PARAMS])
                marks = ",".join("?" * len(chunk))
                rows = self._conn.execute(
                    f"SELECT key, data FROM series_state WHERE key IN ({marks}) AND expires_at > ?", [*chunk, now])
                found.update((key, bytes(data)) for key, data in rows)
        return [found.get(key) for key in keys]

    def save(self, states: Mapping[str, bytes]) -> None:
        now = self._clock()
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                self._conn.executemany("INSERT OR REPLACE INTO series_state (key, data, expires_at) VALUES (?, ?, ?)",
                                       [(key, data, now + self._ttl_s) for key, data in states.items()])
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
        now = self._clock()
        with self._lock:
            entries = [self._data.get(key) for key in keys]
        return [entry[0] if entry and entry[1] > now else None for entry in entries]

    def save(self, states: Mapping[str, bytes]) -> None:
        expires_at = self._clock() + self._ttl_s
        with self._lock:
            self._data.update({key: (bytes(data), expires_at) for key, data in states.items()})


def series_state_store(settings: Settings) -> SeriesStateStore:
    """Redis when SCO_REDIS_URL is set (or the broker is Redis), else a SQLite file in the data dir."""
    url = settings.redis_url or (settings.broker_url if (settings.broker_url or "").startswith("redis") else None)
    if url is None:
        return SqliteSeriesStateStore(settings.resolved_data_dir / "series_state.sqlite", settings.series_state_ttl_s)
    import redis

    client = redis.Redis.from_url(url, socket_connect_timeout=2.0, socket_timeout=5.0)
    return RedisSeriesStateStore(client, settings.series_state_ttl_s)
