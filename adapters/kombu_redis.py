"""Kombu's Redis transport, keeping a channel's connection parameters past its transport's close.

When Redis goes away under a consumer, Celery closes the connection; closing its channel
restores the unacknowledged messages, which needs a Redis client, which needs the connection
parameters. By then kombu may have detached the transport from its connection
(`transport.client = None`), so building the parameters raises AttributeError ('NoneType'
object has no attribute 'hostname'), which is not a connection error: Celery treats it as
unrecoverable and the worker process exits (seen in tests/faults/test_redis_restart.py;
upstream: kombu #582, the same trace). This channel remembers the parameters it built while
the transport was attached and uses them after; with Redis still down, the restore then
fails with a connection error, which Celery ignores and retries as designed, and the
messages stay in the unacked hash for the visibility timeout to restore.

It also shares one client object among the channel's calls: kombu builds a new `redis.Redis` (54 us of
CPU, mostly copying its response callbacks) for every delivery's bookkeeping, every ack and every task
event, five or so a chat command, where one client on the same connection pool serves every thread.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu import transport as kombu_transport
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        remembered: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_remembered_connparams", {})
        if self.connection.client is None and asynchronous in remembered:
            return dict(remembered[asynchronous])
        params = super()._connparams(asynchronous=asynchronous)
        remembered[asynchronous] = dict(params)
        return params

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        yield client or self._shared_client()

    def _shared_client(self) -> Any:
        # Bound to the pool it was built on: a channel that replaced its pool gets a new client.
        pool = self.pool
        shared = self.__dict__.get("_shared_client_of_pool")
        if shared is None or shared[0] is not pool:
            shared = (pool, self._create_client())
            self.__dict__["_shared_client_of_pool"] = shared
        return shared[1]


class Transport(kombu_redis.Transport):
    Channel = Channel


def install() -> None:
    """Make redis:// and rediss:// broker URLs use this transport in this process."""
    for scheme in ("redis", "rediss"):
        TRANSPORT_ALIASES[scheme] = f"{__name__}:Transport"
        # kombu caches each alias's class on first use; a process that already resolved
        # redis:// (an import, a publisher) would otherwise keep kombu's own.
        kombu_transport._transport_cache.pop(scheme, None)
