"""Action parameters are validated values: rebuilt from storage they are checked again."""

from __future__ import annotations

import pytest

from pipeline.remediation import RefusedParameter, parse_params
from pipeline.remediation.params import (
    AsgSetDesiredCapacityParams,
    SsmRunCommandParams,
    check_against_catalog,
)

SSM = {
    "service": "search",
    "region": "eu-west-1",
    "instance_id": "i-0b1b2c3d4e5f60011",
    "document": "SmartCloudOps-RestartSystemdUnit",
    "unit_parameter": "unit",
    "unit": "opensearch.service",
}


def test_stored_params_round_trip() -> None:
    params = parse_params("ssm_run_command", SSM)
    assert isinstance(params, SsmRunCommandParams)
    assert parse_params("ssm_run_command", params.to_dict()) == params


@pytest.mark.parametrize(
    "unit",
    [
        "nginx.service; reboot",
        "$(id)",
        "a b",
        "../../etc/passwd",
        "x" * 65,
        "unit\n",
        "`id`",
        "a|b",
        "",
    ],
)
def test_units_with_shell_metacharacters_are_refused(unit: str) -> None:
    with pytest.raises(RefusedParameter) as refused:
        parse_params("ssm_run_command", {**SSM, "unit": unit})
    assert refused.value.code == "invalid_parameter"


@pytest.mark.parametrize(
    "unit", ["nginx.service", "orders@api.service", "getty@tty1.service", "a-b_c.timer"]
)
def test_ordinary_unit_names_pass(unit: str) -> None:
    assert parse_params("ssm_run_command", {**SSM, "unit": unit}).unit == unit


def test_unexpected_or_missing_keys_are_refused() -> None:
    with pytest.raises(RefusedParameter, match="unexpected \\['commands'\\]"):
        parse_params("ssm_run_command", {**SSM, "commands": ["rm -rf /"]})
    with pytest.raises(RefusedParameter, match="missing \\['unit'\\]"):
        parse_params("ssm_run_command", {k: v for k, v in SSM.items() if k != "unit"})


def test_unknown_action_is_refused() -> None:
    with pytest.raises(RefusedParameter) as refused:
        parse_params("terminate_everything", {})
    assert refused.value.code == "action_not_allowed"


@pytest.mark.parametrize("desired", [1, 9, -1])
def test_capacity_must_lie_within_min_and_max(desired: int) -> None:
    with pytest.raises(RefusedParameter) as refused:
        AsgSetDesiredCapacityParams(
            service="checkout",
            region="eu-west-1",
            group_name="checkout-asg",
            desired_capacity=desired,
            min_size=2,
            max_size=8,
        )
    assert refused.value.code == "capacity_out_of_bounds"


def test_capacity_bounds_must_match_the_catalog_group(catalog, policy) -> None:
    widened = AsgSetDesiredCapacityParams(
        service="checkout",
        region="eu-west-1",
        group_name="checkout-asg",
        desired_capacity=5,
        min_size=0,
        max_size=99,
    )
    with pytest.raises(RefusedParameter) as refused:
        check_against_catalog(widened, catalog, policy)
    assert refused.value.code == "capacity_out_of_bounds"


def test_unit_not_declared_by_the_service_is_refused(catalog, policy) -> None:
    params = parse_params("ssm_run_command", {**SSM, "unit": "sshd.service"})
    with pytest.raises(RefusedParameter) as refused:
        check_against_catalog(params, catalog, policy)
    assert refused.value.code == "unit_not_allowed"


def test_document_not_in_the_allowlist_is_refused(catalog, policy) -> None:
    params = parse_params("ssm_run_command", {**SSM, "document": "AWS-RunShellScript"})
    with pytest.raises(RefusedParameter) as refused:
        check_against_catalog(params, catalog, policy)
    assert refused.value.code == "document_not_allowed"


def test_region_other_than_the_services_is_refused(catalog, policy) -> None:
    params = parse_params("ssm_run_command", {**SSM, "region": "us-east-1"})
    with pytest.raises(RefusedParameter) as refused:
        check_against_catalog(params, catalog, policy)
    assert refused.value.code == "foreign_resource"


@pytest.mark.parametrize(
    ("action", "field", "value"),
    [
        ("ecs_force_new_deployment", "cluster", "arn:aws:ecs:eu-west-1:1:cluster/x"),
        ("ecs_force_new_deployment", "ecs_service", "pay ments"),
        ("rds_reboot", "db_instance_id", "db;reboot"),
        ("rds_reboot", "db_instance_id", "1db"),
        ("asg_set_desired_capacity", "group_name", "web asg"),
        ("asg_set_desired_capacity", "region", "eu-west-1; x"),
    ],
)
def test_resource_names_are_as_narrow_as_aws_allows(action: str, field: str, value: str) -> None:
    valid = {
        "ecs_force_new_deployment": {
            "service": "payments",
            "region": "eu-west-1",
            "cluster": "prod-eu",
            "ecs_service": "payments",
        },
        "rds_reboot": {
            "service": "payments",
            "region": "eu-west-1",
            "db_instance_id": "payments-db",
            "force_failover": False,
        },
        "asg_set_desired_capacity": {
            "service": "checkout",
            "region": "eu-west-1",
            "group_name": "checkout-asg",
            "desired_capacity": 4,
            "min_size": 2,
            "max_size": 8,
        },
    }[action]
    assert parse_params(action, valid).to_dict() == valid
    with pytest.raises(RefusedParameter) as refused:
        parse_params(action, {**valid, field: value})
    assert refused.value.code == "invalid_parameter"
