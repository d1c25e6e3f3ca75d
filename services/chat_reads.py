"""Chat lines whose answer only reads, answered where they arrive: no broker round trip, no worker.

A status, a list, an incident, its history: the answer is a read of the store and a write of the chat
context, so the server that received the line can give it in its own response (Slack shows a slash
command's response as the answer). The chat handler is built on the first line, not at start: a
server that is never asked anything never loads the language model. Lines that act, are refused or
ask back go to the chat queue as before (`ChatHandler.answer_read` says which).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from pipeline.errors import TransientError
from pipeline.events import CloudEvent

if TYPE_CHECKING:  # the handler and the language model load on the first line (numpy)
    from services.chat import ChatHandler


class ModelNotReady(TransientError):
    """The chat classifier's weights are not in the data dir yet: a worker trains them; the queue answers."""


class EdgeChatReads:
    """ChatReads over a chat handler built on first use by `build` (thread-safe)."""

    def __init__(self, build: Callable[[], ChatHandler], clock: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self._build = build
        self._clock = clock
        self._handler: ChatHandler | None = None
        self._lock = threading.Lock()

    def answer(self, event: CloudEvent) -> dict[str, Any] | None:
        from services.chat import ChatCommand

        try:
            answer = self._chat().answer_read(ChatCommand.from_event(event), self._clock())
        except ModelNotReady:
            return None
        return None if answer is None else answer.message

    def _chat(self) -> ChatHandler:
        with self._lock:
            if self._handler is None:
                self._handler = self._build()
            return self._handler
