"""Chat conversation context in Redis: one JSON value per user and channel, with a TTL."""

from __future__ import annotations

import json

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
