"""The publishing port of the consumers, and an in-memory fake that honours it."""

from __future__ import annotations

import threading
from typing import Protocol

from starlette.concurrency import run_in_threadpool

from pipeline.errors import TransientError
from pipeline.events import CloudEvent


class EventPublisher(Protocol):
    """Puts a command message on the broker, or raises TransientError when it cannot."""

    def publish(self, task: str, event: CloudEvent) -> None: ...

    def ping(self) -> None: ...


async def publish(publisher: EventPublisher, task: str, event: CloudEvent) -> None:
    """Publish from a request handler: on the event loop when the publisher can, else on a worker thread."""
    apublish = getattr(publisher, "apublish", None)
    if apublish is not None:
        await apublish(task, event)
    else:
        await run_in_threadpool(publisher.publish, task, event)


class InMemoryPublisher:
    """A publisher for unit tests; `down = True` makes it behave like an unreachable broker."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, CloudEvent]] = []
        self.down = False
        self._lock = threading.Lock()

    def publish(self, task: str, event: CloudEvent) -> None:
        self.ping()
        with self._lock:
            self.sent.append((task, event))

    def ping(self) -> None:
        if self.down:
            raise TransientError("broker unreachable: in-memory broker is down")
