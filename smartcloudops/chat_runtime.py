"""Wiring of chat: vocabulary from the catalog, roles, context store, chat stores and queries, responder, Alertmanager."""

from __future__ import annotations

import time
from dataclasses import dataclass

import httpx
import redis
from sqlalchemy.engine import Engine

from adapters.alertmanager_silences import AlertmanagerSilences
from adapters.chat_context import RedisContextStore
from adapters.db.chat_queries import ChatQueries
from adapters.db.chat_store import CommandStore
from adapters.db.silence_store import SilenceStore
from adapters.replay_guard import chat_redis_url
from adapters.slack_responder import Responder, SlackResponder
from config.catalog import DEFAULT_CATALOG_PATH
from config.roles import DEFAULT_ROLES_FILE, load_roles
from config.settings import Settings
from config.vocabulary import load_vocabulary
from pipeline.nlu import ContextStore, InMemoryContextStore, Vocabulary
from pipeline.nlu.authz import RoleBook

HTTP_TIMEOUT = httpx.Timeout(5.0, connect=2.0)


@dataclass
class ChatRuntime:
    """Everything the chat task uses; built once per process by `bootstrap()`."""

    vocabulary: Vocabulary
    roles: RoleBook
    commands: CommandStore
    silences: SilenceStore
    chat_queries: ChatQueries
    contexts: ContextStore
    responder: Responder
    alertmanager: AlertmanagerSilences | None
    context_ttl_s: int


def build_chat(settings: Settings, engine: Engine) -> ChatRuntime:
    """Read the catalog and roles files and build the adapters (no connection is opened)."""
    http = httpx.Client(timeout=HTTP_TIMEOUT, follow_redirects=False)
    return ChatRuntime(
        vocabulary=load_vocabulary(settings.catalog_path or DEFAULT_CATALOG_PATH),
        roles=load_roles(settings.roles_path or DEFAULT_ROLES_FILE),
        commands=CommandStore(engine),
        silences=SilenceStore(engine),
        chat_queries=ChatQueries(engine),
        contexts=context_store(settings),
        responder=SlackResponder(http, settings.response_url_hosts),
        alertmanager=AlertmanagerSilences(http, settings.alertmanager_url)
        if settings.alertmanager_url
        else None,
        context_ttl_s=settings.chat_context_ttl_s,
    )


def context_store(settings: Settings) -> ContextStore:
    """Redis when there is one; the embedded default keeps contexts in the worker's memory."""
    url = chat_redis_url(settings)
    if url is None:
        return InMemoryContextStore(time.monotonic)
    return RedisContextStore(
        redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    )
