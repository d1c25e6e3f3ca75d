"""Chat conversation context in Redis (or SQLite for the embedded default): one JSON value per user and channel, with a TTL."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import redis

from pipeline.errors import InvalidInput, TransientError
from pipeline.nlu.context import EMPTY_CONTEXT, ChatContext, check_chat_id

DEFAULT_PREFIX = "sco:chat:context:"


class RedisContextStore:
    """A ContextStore on redis-py: `GET` / `SET ... EX ttl` of the context as JSON."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def get(self, user: str, channel: str) -> ChatContext:
        """The stored context, or an empty one when none is stored, it expired or is corrupt."""
        try:
            raw = self._client.get(self._key(user, channel))
        except redis.RedisError as exc:
            raise TransientError(f"cannot read chat context from Redis: {exc}") from exc
        if raw is None:
            return EMPTY_CONTEXT
        try:
            return ChatContext.from_json(json.loads(raw))
        except (ValueError, TypeError, InvalidInput):
            # A context is a convenience; an unreadable one (old format, manual edit) must
            # not stop the user's command, so the conversation simply starts afresh.
            return EMPTY_CONTEXT

    def put(self, user: str, channel: str, context: ChatContext, ttl_s: int) -> None:
        """Store `context` for `ttl_s` seconds."""
        if ttl_s <= 0:
            raise InvalidInput(f"ttl_s must be positive, got {ttl_s}")
        value = json.dumps(context.to_json(), separators=(",", ":"))
        try:
            self._client.set(self._key(user, channel), value, ex=int(ttl_s))
        except redis.RedisError as exc:
            raise TransientError(f"cannot store chat context in Redis: {exc}") from exc

    def _key(self, user: str, channel: str) -> str:
        return f"{self._prefix}{check_chat_id('user', user)}:{check_chat_id('channel', channel)}"


class SqliteContextStore:
    """A ContextStore in a SQLite file: the embedded default's prefork children (and a restarted
    worker) share one conversation, so "approve it" means what the previous answer showed even
    when another process served that answer."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time) -> None:
        self._path = path
        self._clock = clock
        path.parent.mkdir(parents=True, exist_ok=True)
        self._run("CREATE TABLE IF NOT EXISTS chat_contexts "
                  "(user_channel TEXT PRIMARY KEY, context TEXT NOT NULL, expires_at REAL NOT NULL)")

    def get(self, user: str, channel: str) -> ChatContext:
        """The stored context, or an empty one when none is stored, it expired or is corrupt."""
        row = self._run("SELECT context FROM chat_contexts WHERE user_channel = ? AND expires_at > ?",
                        (self._key(user, channel), self._clock()))
        if row is None:
            return EMPTY_CONTEXT
        try:
            return ChatContext.from_json(json.loads(row[0]))
        except (ValueError, TypeError, InvalidInput):
            return EMPTY_CONTEXT

    def put(self, user: str, channel: str, context: ChatContext, ttl_s: int) -> None:
        """Store `context` for `ttl_s` seconds (and forget expired ones)."""
        if ttl_s <= 0:
            raise InvalidInput(f"ttl_s must be positive, got {ttl_s}")
        now = self._clock()
        value = json.dumps(context.to_json(), separators=(",", ":"))
        self._run("DELETE FROM chat_contexts WHERE expires_at <= ?", (now,))
        self._run("INSERT OR REPLACE INTO chat_contexts VALUES (?, ?, ?)",
                  (self._key(user, channel), value, now + ttl_s))

    def _run(self, sql: str, args: tuple[Any, ...] = ()) -> Any:
        try:
            with closing(sqlite3.connect(self._path, timeout=5.0)) as conn, conn:
                return conn.execute(sql, args).fetchone()
        except sqlite3.Error as exc:
            raise TransientError(f"cannot use chat context in {self._path}: {exc}") from exc

    @staticmethod
    def _key(user: str, channel: str) -> str:
        return f"{check_chat_id('user', user)}:{check_chat_id('channel', channel)}"
