"""Replay guards for signed chat requests: Redis `SET NX EX` across processes, or in memory."""

from __future__ import annotations

import hashlib
import time

import redis

from config.settings import Settings
from services.ports import InMemoryReplayGuard, ReplayGuard
from pipeline.errors import TransientError

DEFAULT_PREFIX = "sco:chat:replay:"


class RedisReplayGuard:
    """A ReplayGuard on Redis: the first `SET key 1 NX EX ttl` wins, in every server process."""

    def __init__(self, client: redis.Redis, prefix: str = DEFAULT_PREFIX) -> None:
        self._client = client
        self._prefix = prefix

    def first_seen(self, signature: str, ttl_s: int) -> bool:
        """Record `signature` for `ttl_s` seconds; False when it was already recorded."""
        # The digest bounds the key length whatever the header held.
        key = self._prefix + hashlib.sha256(signature.encode()).hexdigest()
        try:
            return bool(self._client.set(key, b"1", nx=True, ex=max(1, int(ttl_s))))
        except redis.RedisError as exc:
            raise TransientError(f"cannot record the request signature in Redis: {exc}") from exc


def replay_guard_for(settings: Settings) -> ReplayGuard:
    """Redis when there is one (shared by every server process), else one process's memory."""
    url = settings.shared_redis_url
    if url is None:
        # The embedded default runs one server process, so its memory is the whole window.
        return InMemoryReplayGuard(time.time)
    return RedisReplayGuard(
        redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    )
