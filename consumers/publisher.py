"""The publishing port of the consumers, and an in-memory fake that honours it."""

from __future__ import annotations

import threading
from typing import Protocol

from pipeline.errors import TransientError
from pipeline.events import CloudEvent


class EventPublisher(Protocol):
    """Puts a command message on the broker, or raises TransientError when it cannot."""

    def publish(self, task: str, event: CloudEvent) -> None: ...

    def ping(self) -> None: ...


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
