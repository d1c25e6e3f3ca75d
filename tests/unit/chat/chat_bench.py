"""Test bench: a chat handler on a migrated SQLite store, with in-memory context, responder, publisher and Alertmanager."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

from adapters.db.chat_queries import ChatQueries
from adapters.db.chat_store import CommandStore
from adapters.db.silence_store import SilenceStore
from adapters.db.queries import IncidentQueries
from adapters.slack_responder import InMemoryResponder
from config.catalog import DEFAULT_CATALOG_PATH
from config.roles import DEFAULT_ROLES_FILE, load_roles
from config.vocabulary import load_vocabulary
from pipeline.events import CloudEvent, envelope
from pipeline.nlu import InMemoryContextStore
from services.deps import ChatRuntime
from services.chat import ChatCommand, ChatHandler

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
RESPONSE_URL = "https://hooks.slack.com/commands/T1/1/x"
OPERATOR, VIEWER, APPROVER = "U03BOB00003", "U09VIEWER09", "U02ALICE002"


class FakeAlertmanager:
    def __init__(self, down: bool = False) -> None:
        self.down = down
        self.created: list[dict[str, Any]] = []
        self.expired: list[str] = []

    def create(self, **silence: Any) -> str:
        if self.down:
            raise ConnectionError("alertmanager down")
        self.created.append(silence)
        return f"am-{len(self.created)}"

    def expire(self, silence_id: str) -> None:
        self.expired.append(silence_id)


class Bench:
    """What a test drives: `say` a line as a user, then look at answers, published commands and the store."""

    def __init__(self, engine, alertmanager: FakeAlertmanager | None) -> None:
        self.engine = engine
        self.responder = InMemoryResponder()
        self.published: list[tuple[str, CloudEvent]] = []
        self.contexts = InMemoryContextStore(lambda: 0.0)
        self.alertmanager = alertmanager
        self.silences = SilenceStore(engine)
        runtime = ChatRuntime(
            vocabulary=load_vocabulary(DEFAULT_CATALOG_PATH),
            roles=load_roles(DEFAULT_ROLES_FILE),
            commands=CommandStore(engine),
            silences=self.silences,
            chat_queries=ChatQueries(engine),
            contexts=self.contexts,
            responder=self.responder,
            alertmanager=alertmanager,
            context_ttl_s=600,
        )
        self.handler = ChatHandler(
            runtime, IncidentQueries(engine), lambda task, ev: self.published.append((task, ev))
        )
        self._ids = itertools.count(1)

    def command(self, text: str, user: str = OPERATOR, channel: str = "C0OPS") -> ChatCommand:
        event = envelope(
            "dev.smartcloudops.chat.command.received",
            "urn:test",
            {
                "user": user,
                "channel": channel,
                "text": text,
                "response_url": RESPONSE_URL,
                "source": "slack",
            },
            event_id=f"chat-{next(self._ids)}",
            trace_id="trace-1",
            now=NOW,
        )
        return ChatCommand.from_event(event)

    def say(self, text: str, user: str = OPERATOR, now: datetime = NOW):
        return self.handler.handle(self.command(text, user), now)

    def last_text(self) -> str:
        return self.responder.posted[-1][1]["text"]
