"""Chat answers handed from the worker to the waiting API request, and the chat a run reports to:
Redis, or SQLite in the data dir (the embedded default's processes share one machine).

`POST /v1/chat/command` with `"wait": true` publishes the line like any other, then blocks (in a
thread) on this box until the worker that answered it leaves the answer here, so a script or a test
reads the answer in the response instead of needing an https response_url.
"""

from __future__ import annotations

import json
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any

import redis

from pipeline.errors import TransientError

DEFAULT_PREFIX = "sco:chat:answer:"


class RedisChatAnswers:
    """ChatAnswers on a Redis list per event: RPUSH + EXPIRE by the worker, BLPOP by the API."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def put(self, event_id: str, message: dict[str, Any], ttl_s: int) -> None:
        key = self._prefix + event_id
        try:
            with self._client.pipeline(transaction=True) as pipe:
                pipe.rpush(key, json.dumps(message, separators=(",", ":")))
                pipe.expire(key, max(1, int(ttl_s)))
                pipe.execute()
        except redis.RedisError as exc:
            raise TransientError(f"cannot hand the chat answer over in Redis: {exc}") from exc

    def wait(self, event_id: str, timeout_s: float) -> dict[str, Any] | None:
        try:
            found = self._client.blpop([self._prefix + event_id], timeout=max(0.01, timeout_s))
        except redis.RedisError as exc:
            raise TransientError(f"cannot wait for the chat answer in Redis: {exc}") from exc
        return None if found is None else json.loads(found[1])


class SqliteChatAnswers:
    """ChatAnswers in a SQLite file shared by the embedded server and worker (one machine); polled."""

    def __init__(self, path: Path, poll_s: float = 0.1) -> None:
        self._path = path
        self._poll_s = poll_s
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run("CREATE TABLE IF NOT EXISTS chat_answers "
                  "(event_id TEXT PRIMARY KEY, message TEXT NOT NULL, expires_at REAL NOT NULL)")

    def _run(self, *statements: tuple[str, tuple[Any, ...]] | str) -> Any:
        """Run the statements in one transaction; the last one's first row."""
        try:
            with closing(sqlite3.connect(self._path, timeout=5.0)) as conn, conn:
                row = None
                for statement in statements:
                    sql, args = (statement, ()) if isinstance(statement, str) else statement
                    row = conn.execute(sql, args).fetchone()
                return row
        except sqlite3.Error as exc:
            raise TransientError(f"cannot hand a chat answer over in {self._path}: {exc}") from exc

    def put(self, event_id: str, message: dict[str, Any], ttl_s: int) -> None:
        now = time.time()
        self._run(("DELETE FROM chat_answers WHERE expires_at < ?", (now,)),
                  ("INSERT OR REPLACE INTO chat_answers VALUES (?, ?, ?)",
                   (event_id, json.dumps(message, separators=(",", ":")), now + ttl_s)))

    def wait(self, event_id: str, timeout_s: float) -> dict[str, Any] | None:
        deadline = time.monotonic() + timeout_s
        while True:
            row = self._run(("DELETE FROM chat_answers WHERE event_id = ? RETURNING message", (event_id,)))
            if row is not None:
                return json.loads(row[0])
            if time.monotonic() >= deadline:
                return None
            time.sleep(self._poll_s)


REPLY_PREFIX = "sco:chat:reply_to:run:"


class RedisReplyRoutes:
    """ReplyRoutes as one Redis key per run, expiring with the chat's response_url."""

    def __init__(self, client: redis.Redis, prefix: str = REPLY_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def remember(self, run_id: int, reply_to: str, ttl_s: int) -> None:
        try:
            self._client.set(f"{self._prefix}{int(run_id)}", reply_to, ex=max(1, int(ttl_s)))
        except redis.RedisError as exc:
            raise TransientError(f"cannot remember the chat of run {run_id} in Redis: {exc}") from exc

    def reply_to(self, run_id: int) -> str | None:
        try:
            found = self._client.get(f"{self._prefix}{int(run_id)}")
        except redis.RedisError as exc:
            raise TransientError(f"cannot read the chat of run {run_id} from Redis: {exc}") from exc
        return None if found is None else found.decode() if isinstance(found, bytes) else str(found)


class SqliteReplyRoutes:
    """ReplyRoutes in a SQLite file in the data dir (embedded default)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run("CREATE TABLE IF NOT EXISTS reply_routes "
                  "(run_id INTEGER PRIMARY KEY, reply_to TEXT NOT NULL, expires_at REAL NOT NULL)")

    def remember(self, run_id: int, reply_to: str, ttl_s: int) -> None:
        now = time.time()
        self._run("DELETE FROM reply_routes WHERE expires_at < ?", (now,))
        self._run("INSERT OR REPLACE INTO reply_routes VALUES (?, ?, ?)", (int(run_id), reply_to, now + ttl_s))

    def reply_to(self, run_id: int) -> str | None:
        row = self._run("SELECT reply_to FROM reply_routes WHERE run_id = ? AND expires_at >= ?",
                        (int(run_id), time.time()))
        return None if row is None else str(row[0])

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        try:
            with closing(sqlite3.connect(self._path, timeout=5.0)) as conn, conn:
                return conn.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise TransientError(f"cannot use reply routes in {self._path}: {exc}") from exc
