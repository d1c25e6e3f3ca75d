"""Fixtures: the remediation handlers on a migrated SQLite store, in-memory guards and scripted actions."""

from __future__ import annotations

import pytest
from remediation_tasks_support import APPROVER, CATALOG, OPERATOR, POLICY, ScriptedAction

from adapters.db.engine import create_engine
from adapters.db.approval_store import ApprovalStore
from adapters.db.assessment_store import AssessmentStore
from adapters.db.incident_facts import IncidentFacts
from adapters.db.kill_switch_store import KillSwitchStore
from adapters.db.remediation_queries import RemediationQueries
from adapters.db.run_store import RunStore
from pipeline.catalog import Catalog
from pipeline.nlu.authz import Role, RoleBook
from pipeline.policy import ActionName, Policy
from pipeline.remediation import InMemoryGuardStore
from services.deps import RemediationRuntime


@pytest.fixture
def action() -> ScriptedAction:
    return ScriptedAction()


@pytest.fixture
def make_runtime(sqlite_url: str, action: ScriptedAction):
    engines = []

    def make(mode: str = "execute") -> RemediationRuntime:
        engine = create_engine(sqlite_url)
        engines.append(engine)
        return RemediationRuntime(
            catalog=Catalog.model_validate(CATALOG),
            policy=Policy.model_validate(POLICY),
            roles=RoleBook(
                users={APPROVER: Role.APPROVER, OPERATOR: Role.OPERATOR}, default=Role.VIEWER
            ),
            incident_facts=IncidentFacts(engine),
            assessments=AssessmentStore(engine),
            runs=RunStore(engine),
            approvals=ApprovalStore(engine),
            kill_switch=KillSwitchStore(engine),
            queries=RemediationQueries(engine),
            guards=InMemoryGuardStore(),
            actions={ActionName.EC2_REBOOT: action},
            mode=mode,
            verify_timeout_s=1,
            verify_poll_s=0.1,
        )

    yield make
    for engine in engines:
        engine.dispose()
