"""Planning turns an assessed incident or a person's request into validated steps, or refuses."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from remediation_support import CHECKOUT_INSTANCE, SEARCH_INSTANCES, make_policy

from pipeline.policy import ActionName, Decision, Predictions
from pipeline.remediation import (
    PlanRefused,
    RemediationPlan,
    RemediationRequested,
    plan,
    plan_request,
)
from pipeline.remediation.params import (
    AsgSetDesiredCapacityParams,
    Ec2RebootParams,
    RdsRebootParams,
    SsmRunCommandParams,
)
from pipeline.risk import IncidentFacts, RiskAssessment

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)


def _facts(
    catalog,
    alertname="InstanceDown",
    service="search",
    targets=(SEARCH_INSTANCES[0],),
    severity="warning",
):
    return IncidentFacts.from_catalog(
        catalog,
        incident_id="42",
        service=service,
        alertname=alertname,
        labels={"alertname": alertname, "service": service, "severity": severity},
        targets=tuple(targets),
    )


def _assessed(decision: Decision = Decision.AUTO) -> RiskAssessment:
    return RiskAssessment("42", 10.0, (), decision, None, NOW)


def test_instance_down_plans_one_reboot_per_named_instance(catalog, policy) -> None:
    result = plan(_facts(catalog, targets=SEARCH_INSTANCES[:2]), _assessed(), catalog, policy)

    assert isinstance(result, RemediationPlan)
    assert result.rule == "reboot-down" and result.decision is Decision.AUTO
    assert [s.params for s in result.steps] == [
        Ec2RebootParams(service="search", region="eu-west-1", instance_id=SEARCH_INSTANCES[0]),
        Ec2RebootParams(service="search", region="eu-west-1", instance_id=SEARCH_INSTANCES[1]),
    ]
    assert [s.index for s in result.steps] == [0, 1]


def test_the_same_incident_plans_the_same_ids_and_keys(catalog, policy) -> None:
    first = plan(_facts(catalog), _assessed(), catalog, policy)
    again = plan(_facts(catalog), _assessed(), catalog, policy)
    other = plan(_facts(catalog, targets=(SEARCH_INSTANCES[1],)), _assessed(), catalog, policy)

    assert first.plan_id == again.plan_id
    assert first.steps[0].idempotency_key == again.steps[0].idempotency_key
    assert other.plan_id != first.plan_id
    assert other.steps[0].idempotency_key != first.steps[0].idempotency_key


def test_scale_out_adds_the_rule_step_to_the_nominal_capacity(catalog, policy) -> None:
    result = plan(
        _facts(catalog, alertname="HighCPU", service="checkout", targets=()),
        _assessed(),
        catalog,
        policy,
    )

    assert result.steps[0].params == AsgSetDesiredCapacityParams(
        service="checkout",
        region="eu-west-1",
        group_name="checkout-asg",
        desired_capacity=5,
        min_size=2,
        max_size=8,
    )
    assert result.steps[0].target == "asg:eu-west-1:checkout-asg"


def test_ssm_restart_carries_the_catalog_unit_and_allowlisted_document(catalog, policy) -> None:
    result = plan(_facts(catalog, alertname="HighErrorRate"), _assessed(), catalog, policy)

    assert result.steps[0].params == SsmRunCommandParams(
        service="search",
        region="eu-west-1",
        instance_id=SEARCH_INSTANCES[0],
        document="SmartCloudOps-RestartSystemdUnit",
        unit_parameter="unit",
        unit="opensearch.service",
    )


def test_rule_minimum_decision_makes_the_plan_stricter_than_the_score(catalog, policy) -> None:
    result = plan(
        _facts(catalog, "ReplicationLag", "payments", (), "critical"), _assessed(), catalog, policy
    )

    assert result.decision is Decision.NEEDS_APPROVAL
    assert result.steps[0].params == RdsRebootParams(
        service="payments", region="eu-west-1", db_instance_id="payments-db"
    )


def test_a_stricter_assessment_is_never_relaxed_by_the_rule(catalog, policy) -> None:
    result = plan(_facts(catalog), _assessed(Decision.NOTIFY_ONLY), catalog, policy)
    assert result.decision is Decision.NOTIFY_ONLY


def test_no_matching_rule_gives_an_empty_notify_only_plan(catalog, policy) -> None:
    result = plan(_facts(catalog, alertname="DiskFull"), _assessed(), catalog, policy)
    assert isinstance(result, RemediationPlan)
    assert (result.rule, result.decision, result.steps) == (None, Decision.NOTIFY_ONLY, ())


@pytest.mark.parametrize(
    ("targets", "reason"),
    [
        ((CHECKOUT_INSTANCE,), "foreign_instance"),
        (("i-0b1b2c3d;reboot",), "invalid_parameter"),
        (("i-0b1b2c3d4e5f60011 && curl x|sh",), "invalid_parameter"),
        ((), "no_target"),
        (SEARCH_INSTANCES[:3], "blast_radius_targets"),
    ],
)
def test_bad_targets_refuse_the_whole_plan(catalog, policy, targets, reason) -> None:
    result = plan(_facts(catalog, targets=targets), _assessed(), catalog, policy)
    assert isinstance(result, PlanRefused)
    assert result.reason_code == reason and result.incident_id == "42"


def test_a_plan_over_the_fleet_share_is_refused(catalog) -> None:
    strict = make_policy(guards={"max_targets_per_plan": 5, "max_fleet_share": 0.25})
    result = plan(_facts(catalog, targets=SEARCH_INSTANCES[:2]), _assessed(), catalog, strict)
    assert isinstance(result, PlanRefused) and result.reason_code == "blast_radius_share"


def test_unknown_service_is_refused(catalog, policy) -> None:
    result = plan(_facts(catalog, service="mystery"), _assessed(), catalog, policy)
    assert isinstance(result, PlanRefused) and result.reason_code == "unknown_service"


def _request(**fields) -> RemediationRequested:
    base = {
        "request_id": "slack-1",
        "service": "search",
        "action": "reboot",
        "requested_by": "alice",
    }
    return RemediationRequested(**{**base, **fields})


def test_a_chat_reboot_request_plans_through_the_same_validation(catalog, policy) -> None:
    result = plan_request(_request(instance=SEARCH_INSTANCES[0]), catalog, policy)

    assert isinstance(result, RemediationPlan)
    assert result.decision is Decision.NEEDS_APPROVAL and result.requested_by == "alice"
    assert result.incident_id == "request-slack-1"
    assert result.steps[0].action is ActionName.EC2_REBOOT


def test_restart_by_alias_uses_the_catalog_unit_never_chat_text(catalog, policy) -> None:
    result = plan_request(
        _request(service="checkout-api", action="restart", instance=CHECKOUT_INSTANCE),
        catalog,
        policy,
    )
    assert result.steps[0].params.unit == "checkout-api.service"
    assert result.service == "checkout"


def test_restart_of_a_host_service_without_a_host_says_which_units_and_what_to_add(catalog, policy) -> None:
    """Issue 13 #4: the refusal said "checkout has no ECS service" though the catalog names its units."""
    result = plan_request(_request(service="checkout", action="restart"), catalog, policy)
    assert isinstance(result, PlanRefused) and result.reason_code == "no_target"
    assert "checkout-api.service" in result.detail and "restart checkout on i-" in result.detail


def test_restart_of_a_container_service_redeploys_it(catalog, policy) -> None:
    result = plan_request(_request(service="payments", action="restart"), catalog, policy)
    assert result.steps[0].action is ActionName.ECS_FORCE_NEW_DEPLOYMENT


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"instance": CHECKOUT_INSTANCE}, "foreign_instance"),
        ({"instance": "i-0b1b2c3d4e5f60011; rm -rf /"}, "invalid_parameter"),
        ({"instance": None}, "no_target"),
        ({"service": "checkout", "action": "scale", "capacity": 9}, "capacity_out_of_bounds"),
        ({"service": "checkout", "action": "scale", "capacity": 7}, "capacity_out_of_bounds"),
        ({"service": "checkout", "action": "scale", "capacity": True}, "invalid_parameter"),
        ({"service": "search", "action": "scale", "capacity": 3}, "no_resource"),
        ({"action": "run `id`"}, "action_not_allowed"),
        ({"service": "nope", "instance": SEARCH_INSTANCES[0]}, "unknown_service"),
        (
            {"requested_by": "alice; drop table", "instance": SEARCH_INSTANCES[0]},
            "invalid_parameter",
        ),
    ],
)
def test_bad_requests_are_refused_with_a_reason(catalog, policy, fields, reason) -> None:
    result = plan_request(_request(**fields), catalog, policy)
    assert isinstance(result, PlanRefused)
    assert result.reason_code == reason


def test_scale_within_bounds_and_step_is_planned(catalog, policy) -> None:
    result = plan_request(_request(service="checkout", action="scale", capacity=6), catalog, policy)
    assert result.steps[0].params.desired_capacity == 6


def test_disabled_action_is_refused(catalog) -> None:
    policy = make_policy(actions={"ec2_reboot": {"enabled": False}}, rules=[])
    result = plan_request(_request(instance=SEARCH_INSTANCES[0]), catalog, policy)
    assert isinstance(result, PlanRefused) and result.reason_code == "action_not_allowed"


def test_plan_serialises_to_primitives(catalog, policy) -> None:
    result = plan(_facts(catalog), _assessed(), catalog, policy)
    step = result.as_dict()["steps"][0]
    assert step["action"] == "ec2_reboot"
    assert step["params"] == {
        "service": "search",
        "region": "eu-west-1",
        "instance_id": SEARCH_INSTANCES[0],
    }
    assert len(step["idempotency_key"]) == 40


def test_a_predicted_incident_needs_approval_even_when_its_risk_says_auto(catalog, policy) -> None:
    facts = _facts(catalog)
    predicted = replace(facts, labels={**facts.labels, "predicted": "true"})
    assert plan(facts, _assessed(), catalog, policy).decision is Decision.AUTO
    assert plan(predicted, _assessed(), catalog, policy).decision is Decision.NEEDS_APPROVAL
    # An operator may let forecasts act alone; the same plan then runs without a person.
    trusting = policy.model_copy(update={"predictions": Predictions(minimum_decision=Decision.AUTO)})
    assert plan(predicted, _assessed(), catalog, trusting).decision is Decision.AUTO
