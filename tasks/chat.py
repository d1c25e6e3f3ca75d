"""The chat task: decode a chat command, let the handler understand, act and answer at response_url."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from celery import current_app, shared_task

from adapters.broker import CeleryPublisher
from pipeline.errors import ConfigurationError
from pipeline.events import CloudEvent
from tasks.base import PipelineTask
from services.chat import ChatCommand, ChatHandler
from tasks.runtime import runtime

HANDLE_CHAT_COMMAND = "chat.handle_command"


def _handler() -> ChatHandler:
    rt = runtime()
    if rt.chat is None:
        raise ConfigurationError("this worker's runtime has no chat capability")
    publisher = CeleryPublisher(
        current_app, rt.settings.queues, timeout_s=rt.settings.broker_publish_timeout_s
    )
    if rt.remediation is not None:  # its read model carries the advice the "why?" answer quotes
        return ChatHandler(rt.chat, rt.incidents, publisher.publish, rt.remediation.queries)
    from adapters.db.remediation_queries import RemediationQueries

    return ChatHandler(rt.chat, rt.incidents, publisher.publish, RemediationQueries(rt.engine))


@shared_task(name=HANDLE_CHAT_COMMAND, base=PipelineTask, bind=True, max_retries=None)
def handle_chat_command(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Answer one chat line; a redelivered line is answered again but acts only once."""
    command = ChatCommand.from_event(CloudEvent.from_dict(event))
    answer = _handler().handle(command, datetime.now(UTC))
    return {
        "intent": answer.intent,
        "allowed": answer.allowed,
        "answered": command.response_url is not None or command.wait,
    }
