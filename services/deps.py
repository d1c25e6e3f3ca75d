"""What each group of use cases is given: typed ports, built by `smartcloudops.bootstrap`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pipeline.catalog import Catalog
from pipeline.nlu import ContextStore, Vocabulary
from pipeline.nlu.authz import RoleBook
from pipeline.policy import ActionName, Policy
from pipeline.remediation import GuardStore
from services.actions import RemediationAction
from services.ports import ChatAnswers, LearnedOutcomes, RemediationReads, ReplyRoutes, Responder
from services.stores import (
    AlertmanagerSilencer,
    ApprovalStore,
    AssessmentStore,
    ChatQueries,
    CommandStore,
    IncidentFactsReader,
    KillSwitchRecorder,
    RunStore,
    SilenceStore,
)


@dataclass
class RemediationRuntime:
    """Everything risk scoring and remediation use: operator files, stores, guards, actions."""

    catalog: Catalog
    policy: Policy
    roles: RoleBook
    incident_facts: IncidentFactsReader
    assessments: AssessmentStore
    runs: RunStore
    approvals: ApprovalStore
    kill_switch: KillSwitchRecorder
    queries: RemediationReads
    guards: GuardStore
    actions: Mapping[ActionName, RemediationAction]
    mode: str
    verify_timeout_s: float
    verify_poll_s: float
    verify_settle_s: float | None = None  # None: each action's own settle (EC2 reboot: 30 s)
    learning: LearnedOutcomes | None = None  # None: no learned factor in the risk score

    @property
    def dry_run(self) -> bool:
        return self.mode != "execute"


@dataclass
class ChatRuntime:
    """Everything the chat use cases use: vocabulary, roles, stores, context, the responder."""

    vocabulary: Vocabulary
    roles: RoleBook
    commands: CommandStore
    silences: SilenceStore
    chat_queries: ChatQueries
    contexts: ContextStore
    responder: Responder
    alertmanager: AlertmanagerSilencer | None
    context_ttl_s: int
    # Where an API caller that asked to wait reads the answer; None: only response_url answers.
    answers: ChatAnswers | None = None
    # The chat that asked for a run, so its end is told there even when the API approved it.
    reply_routes: ReplyRoutes | None = None
