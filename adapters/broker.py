"""Publishing commands onto the Celery broker (Redis, or the embedded SQLAlchemy transport)."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import random
import socket
import time
import uuid
from collections.abc import Iterator, Sequence
from typing import Any

import orjson
from celery import Celery

from config.settings import QueueNames
from pipeline.errors import TransientError
from pipeline.events import CloudEvent
from adapters import intake_journal
from adapters.faults import is_transient
from adapters.routing import ROUTES


@contextlib.contextmanager
def broker_errors(*, every_error: bool = False) -> Iterator[None]:
    """Turn the broker's connection faults (or, for a ping, any fault) into TransientError."""
    try:
        yield
    except TransientError:
        raise
    except Exception as exc:  # noqa: BLE001 - classified just below
        if every_error or _is_connection_fault(exc):
            raise TransientError(f"broker unreachable: {exc}") from exc
        raise


def _is_connection_fault(exc: BaseException) -> bool:
    return is_transient(exc) or isinstance(exc, OSError)


def _publish_error(exc: Exception) -> Exception:
    """What broker_errors would raise for `exc`, as a value: one for each request of a failed group."""
    if isinstance(exc, TransientError) or not _is_connection_fault(exc):
        return exc
    error = TransientError(f"broker unreachable: {exc}")
    error.__cause__ = exc
    return error


def declare_queues(app: Celery, queues: QueueNames) -> list[str]:
    """Make every queue the product routes to, and the dead-letter queue, on the broker; their names."""
    names = [*queues.all(), queues.dead_letter]
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        for name in names:
            channel.queue_declare(queue=name)
    return names


class CeleryPublisher:
    """Sends one Celery message per event; raises TransientError when the broker cannot take it."""

    def __init__(self, app: Celery, queues: QueueNames, timeout_s: float = 2.0) -> None:
        self._app = app
        self._queues = queues
        self._timeout_s = timeout_s

    def publish(self, task: str, event: CloudEvent) -> None:
        """Publish and return only once the broker has the message."""
        queue = getattr(self._queues, ROUTES[task])
        with broker_errors():
            self._app.send_task(
                task, args=[event.to_dict()],
                # The default exchange delivers straight to the queue: no binding lookup per message.
                exchange="", routing_key=queue, queue=queue,
                # Celery would otherwise saferepr the whole batch into a header on every publish.
                argsrepr=f"[<{event.type} {event.id}>]", kwargsrepr="{}",
                # Answer fast (503) and let the sender retry, rather than hang the request.
                retry=False,
            )

    def ping(self) -> None:
        """Raise TransientError unless the broker answers within the timeout."""
        with broker_errors(every_error=True), self._app.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0.2,
                                         timeout=self._timeout_s)
            connection.default_channel  # noqa: B018 - opening a channel proves the transport works


class RedisDirectPublisher:
    """Redis fast path: Celery builds the task message, one LPUSH delivers kombu's Redis envelope.

    The LPUSH travels in one MULTI with an intake-journal entry (adapters.intake_journal), so a
    message lost in kombu's BRPOP-to-unacked window is re-published by the sweeper.

    kombu's producer costs several times more per message than the LPUSH itself (pipeline objects,
    a binding lookup, connection-pool bookkeeping). The message is made by Celery's own
    `as_task_v2` and serialiser, and the envelope is the one kombu's Redis transport writes for
    the default exchange at priority 0; a contract test holds the two alike (headers, properties
    and decoded body).

    On the event loop (`apublish`) the messages of concurrent requests are committed together: one
    MULTI carries every message that arrived while the previous one was in flight (at most
    GROUP_COMMIT_MAX), and each request is answered once the MULTI holding its message is done. A
    request alone is sent at once, as before; under load one round trip and one pass through the
    Redis client serve many requests (redis-py's pipeline was ~22 % of a webhook request's CPU).
    """

    GROUP_COMMIT_MAX = 64

    def __init__(self, app: Celery, queues: QueueNames, client: Any, async_client: Any = None) -> None:
        self._app, self._queues, self._client, self._async_client = app, queues, client, async_client
        self._origin = f"gen{os.getpid()}@{socket.gethostname()}"
        self._waiting: list[tuple[str, bytes, str, bytes, asyncio.Future[None]]] = []
        self._committer: asyncio.Task[None] | None = None

    @classmethod
    def from_url(cls, app: Celery, queues: QueueNames, url: str, timeout_s: float) -> RedisDirectPublisher:
        import redis
        import redis.asyncio

        options = {"socket_connect_timeout": timeout_s, "socket_timeout": timeout_s, "health_check_interval": 30}
        return cls(app, queues, redis.Redis.from_url(url, **options), redis.asyncio.Redis.from_url(url, **options))

    async def apublish(self, task: str, event: CloudEvent) -> None:
        """`publish` for the event loop: no thread hop per request (the HTTP server's hot path); returns
        once the MULTI holding this message (and those of concurrent requests) is committed."""
        if self._async_client is None:
            raise TransientError("broker unreachable: no asynchronous Redis client configured")
        queue = getattr(self._queues, ROUTES[task])
        message, entry = self.encode_with_entry(task, event, queue)
        loop = asyncio.get_running_loop()
        committed = loop.create_future()
        self._waiting.append((queue, message, event.id, entry, committed))
        if self._committer is None:
            self._committer = loop.create_task(self._commit_waiting())
        await committed

    async def _commit_waiting(self) -> None:
        """Commit what is waiting, a group per MULTI, until nothing is; answer each group's requests."""
        try:
            while self._waiting:
                group = self._waiting[:self.GROUP_COMMIT_MAX]
                del self._waiting[:self.GROUP_COMMIT_MAX]
                try:
                    async with self._async_client.pipeline(transaction=True) as pipe:
                        now = time.time()
                        for queue, message, event_id, entry, _ in group:
                            pipe.lpush(queue, message)
                            intake_journal.add_entry_to(pipe, event_id, entry, now)
                        await pipe.execute()
                except Exception as exc:  # noqa: BLE001 - each request gets what broker_errors would raise
                    for *_, committed in group:
                        if not committed.done():
                            committed.set_exception(_publish_error(exc))
                except BaseException:  # cancelled (the loop is closing): nobody is told it was committed
                    for *_, committed in [*group, *self._waiting]:
                        committed.cancel()
                    self._waiting.clear()
                    raise
                else:
                    for *_, committed in group:
                        if not committed.done():
                            committed.set_result(None)
        finally:
            self._committer = None

    def publish(self, task: str, event: CloudEvent) -> None:
        """LPUSH one Celery message onto the task's queue; TransientError when Redis cannot take it."""
        queue = getattr(self._queues, ROUTES[task])
        with broker_errors():
            message, entry = self.encode_with_entry(task, event, queue)
            pipe = self._client.pipeline(transaction=True)
            pipe.lpush(queue, message)
            intake_journal.add_entry_to(pipe, event.id, entry, time.time())
            pipe.execute()

    def publish_many(self, messages: Sequence[tuple[str, CloudEvent]]) -> None:
        """LPUSH many (task, event) messages, journaled, in one MULTI: all on the broker, or none."""
        if not messages:
            return
        with broker_errors():
            pipe = self._client.pipeline(transaction=True)
            now = time.time()
            for task, event in messages:
                queue = getattr(self._queues, ROUTES[task])
                message, entry = self.encode_with_entry(task, event, queue)
                pipe.lpush(queue, message)
                intake_journal.add_entry_to(pipe, event.id, entry, now)
            pipe.execute()

    async def aclose(self) -> None:
        """Close the event loop's connections (at server shutdown)."""
        if self._async_client is not None:
            await self._async_client.aclose()

    def encode(self, task: str, event: CloudEvent, queue: str) -> bytes:
        """The exact JSON kombu's Redis transport would store for this task message."""
        return self.encode_with_entry(task, event, queue)[0]

    def encode_with_entry(self, task: str, event: CloudEvent, queue: str) -> tuple[bytes, bytes]:
        """`encode`'s message and the intake journal's entry, the event serialised once for both."""
        task_id = fast_uuid4()
        argsrepr = f"[<{event.type} {event.id}>]"
        # A Fragment is embedded as it is: the same bytes orjson writes for the dict in place.
        serialised = orjson.Fragment(orjson.dumps(event.to_dict()))
        message = self._app.amqp.as_task_v2(task_id, task, args=[serialised], argsrepr=argsrepr,
                                            kwargsrepr="{}", origin=self._origin, ignore_result=None,
                                            reply_to=self._app.thread_oid)
        # orjson writes the same JSON document as kombu's serialiser, several times faster.
        return orjson.dumps(redis_envelope(
            orjson.dumps(message.body), routing_key=queue, headers=message.headers,
            properties={**message.properties, "argsrepr": argsrepr, "kwargsrepr": "{}"})), \
            intake_journal.serialised_entry(task, serialised)

    def ping(self) -> None:
        with broker_errors(every_error=True):
            self._client.ping()


def redis_envelope(body: bytes, *, routing_key: str, exchange: str = "", headers: dict[str, Any] | None = None,
                   properties: dict[str, Any] | None = None) -> dict[str, Any]:
    """What kombu's Redis transport stores for a JSON message: the body in base64, where it was
    routed, and a fresh delivery tag."""
    return {
        "body": base64.b64encode(body).decode("ascii"),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers or {},
        "properties": {
            **(properties or {}), "delivery_mode": 2,
            "delivery_info": {"exchange": exchange, "routing_key": routing_key}, "priority": 0,
            "body_encoding": "base64", "delivery_tag": fast_uuid4(),
        },
    }


def fast_uuid4() -> str:
    """A random (version 4) UUID from the process PRNG: message ids must be unique, not unguessable,
    and os.urandom was a measurable share of a webhook request here."""
    return str(uuid.UUID(int=random.getrandbits(128), version=4))


def publisher_for(app: Celery, queues: QueueNames, broker_url: str, timeout_s: float) -> CeleryPublisher | RedisDirectPublisher:
    """The fast path on a plain Redis broker; kombu's producer on every other transport."""
    if broker_url.startswith(("redis://", "rediss://")):
        return RedisDirectPublisher.from_url(app, queues, broker_url, timeout_s)
    return CeleryPublisher(app, queues, timeout_s=timeout_s)


class QueueDepthCollector:
    """Prometheus collector: messages waiting per queue, read from the broker at scrape time (cached briefly)."""

    def __init__(self, app: Celery, queues: QueueNames, ttl_s: float = 5.0) -> None:
        self._app, self._queues, self._ttl_s = app, queues, ttl_s
        self._cached: tuple[float, dict[str, int]] = (0.0, {})

    def depths(self) -> dict[str, int]:
        import time

        stamp, cached = self._cached
        if time.monotonic() - stamp < self._ttl_s:
            return cached
        depths: dict[str, int] = {}
        with self._app.connection_for_read() as connection:
            connection.ensure_connection(max_retries=1, timeout=2)
            channel = connection.default_channel
            for name in [*self._queues.all(), self._queues.dead_letter]:
                try:
                    depths[name] = channel.queue_declare(queue=name, passive=True).message_count
                except Exception:  # noqa: BLE001 - a queue nobody declared yet is empty
                    depths[name] = 0
        self._cached = (time.monotonic(), depths)
        return depths

    def collect(self):  # type: ignore[no-untyped-def]
        from prometheus_client.core import GaugeMetricFamily

        family = GaugeMetricFamily("smartcloudops_queue_depth", "Messages waiting per queue", labels=["queue"])
        try:
            depths = self.depths()
        except Exception:  # noqa: BLE001 - an unreachable broker means no sample, not a failed scrape
            return
        for name, depth in depths.items():
            family.add_metric([name], depth)
        yield family
