"""What the HTTP edge is given by the composition root: it publishes and reads, never writes."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from config.settings import Settings
from consumers.auth import Authenticator
from consumers.console_sso import SsoLogin
from consumers.console_ports import ConsoleAccounts, ConsoleReads
from consumers.publisher import EventPublisher
from pipeline.nlu.authz import RoleBook
from services.ports import ChatAnswers, ChatReads, IncidentReads, InMemoryReplayGuard, KillSwitch, RemediationReads, ReplayGuard


@dataclass
class ApiDeps:
    """The edge's dependencies, each typed; `smartcloudops.bootstrap.build_http_app` fills them."""

    settings: Settings
    publisher: EventPublisher
    incidents: IncidentReads | None = None  # None: the read API answers 503
    database_ping: Callable[[], None] | None = None
    remediation: RemediationReads | None = None
    roles: RoleBook = field(default_factory=RoleBook)  # empty: every role-checked route refuses
    kill_switch: KillSwitch | None = None  # shared guard state, when the deployment has one
    chat_replay_guard: ReplayGuard = field(default_factory=lambda: InMemoryReplayGuard(time.time))
    chat_answers: ChatAnswers | None = None  # `"wait": true` on /v1/chat/command reads answers here
    chat_reads: ChatReads | None = None  # answers the lines that only read, here; None: every line is queued
    # Who is calling (JWT, API keys, static tokens); None: only the static tokens of `settings`.
    authenticator: Authenticator | None = None
    # The incident console (consumers/console/); either None: no console routes.
    console_accounts: ConsoleAccounts | None = None
    console_reads: ConsoleReads | None = None
    console_sso: SsoLogin | None = None  # OIDC sign-in to the console (SCO_OIDC_CLIENT_ID and endpoints)
