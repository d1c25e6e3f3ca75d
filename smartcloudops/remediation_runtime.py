"""Wiring of risk scoring and remediation: operator files, guard store, AWS actions, stores and queries."""

from __future__ import annotations

import os

from collections.abc import Mapping
from dataclasses import dataclass

import boto3
import redis
import structlog
from sqlalchemy.engine import Engine

from adapters.aws import AwsAction, AwsClients, build_actions
from adapters.db.approval_store import ApprovalStore
from adapters.db.assessment_store import AssessmentStore
from adapters.db.incident_facts import IncidentFacts
from adapters.db.kill_switch_store import KillSwitchStore
from adapters.db.remediation_queries import RemediationQueries
from adapters.db.run_store import RunStore
from adapters.guard_store import RedisGuardStore
from config.policy import load_remediation_config
from config.roles import DEFAULT_ROLES_FILE, load_roles
from config.settings import Settings
from pipeline.catalog import Catalog
from pipeline.errors import ConfigurationError
from pipeline.nlu.authz import RoleBook
from pipeline.policy import ActionName, Policy
from pipeline.remediation import GuardStore, InMemoryGuardStore

log = structlog.get_logger("remediation")


@dataclass
class RemediationRuntime:
    """Everything the risk and remediation tasks use; built once per process by `bootstrap()`."""

    catalog: Catalog
    policy: Policy
    roles: RoleBook
    incident_facts: IncidentFacts
    assessments: AssessmentStore
    runs: RunStore
    approvals: ApprovalStore
    kill_switch: KillSwitchStore
    queries: RemediationQueries
    guards: GuardStore
    actions: Mapping[ActionName, AwsAction]
    mode: str
    verify_timeout_s: float
    verify_poll_s: float
    verify_settle_s: float | None = None

    @property
    def dry_run(self) -> bool:
        return self.mode != "execute"


def build_remediation(
    settings: Settings,
    engine: Engine,
    *,
    guards: GuardStore | None = None,
    session: boto3.Session | None = None,
) -> RemediationRuntime:
    """Load and check the operator's files and build the real adapters (no connection is opened)."""
    catalog, policy = load_remediation_config(settings.catalog_path, settings.policy_path)
    if not settings.aws_instance_metadata:
        # botocore's last resort for credentials is the EC2 metadata service at 169.254.169.254;
        # on Fargate, with environment credentials or a laptop it is never the right place to ask.
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return RemediationRuntime(
        catalog=catalog,
        policy=policy,
        roles=load_roles(settings.roles_path or DEFAULT_ROLES_FILE),
        incident_facts=IncidentFacts(engine),
        assessments=AssessmentStore(engine),
        runs=RunStore(engine),
        approvals=ApprovalStore(engine),
        kill_switch=KillSwitchStore(engine),
        queries=RemediationQueries(engine),
        guards=guards or guard_store(settings),
        actions=build_actions(
            AwsClients(
                session or boto3.Session(region_name=settings.aws_region),
                endpoint_url=settings.aws_endpoint_url,
            )
        ),
        mode=settings.remediation_mode,
        verify_timeout_s=settings.remediation_verify_timeout_s,
        verify_poll_s=settings.remediation_verify_poll_s,
        verify_settle_s=settings.remediation_verify_settle_s,
    )


def guard_store(settings: Settings) -> GuardStore:
    """Redis when configured; acting for real without it would let each process keep its own limits."""
    if settings.redis_url:
        return RedisGuardStore(
            redis.Redis.from_url(settings.redis_url, socket_timeout=5, socket_connect_timeout=5)
        )
    if settings.remediation_mode == "execute":
        raise ConfigurationError(
            "SCO_REDIS_URL: required when SCO_REMEDIATION_MODE=execute "
            "(rate limits, cooldowns and the breaker must be shared by every worker)"
        )
    log.warning(
        "remediation.guards_in_memory",
        reason="SCO_REDIS_URL unset; dry run keeps guard state per process",
    )
    return InMemoryGuardStore()
