"""EC2 reboot and start against moto's server: act, verify, and refuse before any call."""

from __future__ import annotations

import pytest

from pipeline.policy import ActionName
from pipeline.remediation import RefusedParameter
from pipeline.remediation.params import Ec2RebootParams, Ec2StartParams

pytestmark = pytest.mark.integration

REGION = "eu-west-1"


def _instances(setup_client, count: int = 1) -> list[str]:
    answer = setup_client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=count, MaxCount=count, InstanceType="t3.micro"
    )
    return [i["InstanceId"] for i in answer["Instances"]]


def _state(setup_client, instance_id: str) -> str:
    answer = setup_client("ec2").describe_instances(InstanceIds=[instance_id])
    return answer["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_reboot_calls_reboot_instances_and_verifies_status_checks(
    actions, calls, setup_client
) -> None:
    [instance] = _instances(setup_client)
    params = Ec2RebootParams(service="search", region=REGION, instance_id=instance)
    action = actions[ActionName.EC2_REBOOT]

    result = action.execute(params, dry_run=False)
    verified = action.verify(params, result, timeout_s=5, poll_s=0.1)

    assert result.called == "ec2:RebootInstances"
    assert result.request == {"InstanceIds": [instance]}
    assert result.response_summary["before"] == {"state": "running"}
    assert calls.mutating == ["RebootInstances"]
    assert verified.ok
    assert verified.observed_state == {
        "state": "running",
        "instance_status": "ok",
        "system_status": "ok",
    }


def test_start_brings_a_stopped_instance_back_to_running(actions, setup_client) -> None:
    [instance] = _instances(setup_client)
    setup_client("ec2").stop_instances(InstanceIds=[instance])
    params = Ec2StartParams(service="search", region=REGION, instance_id=instance)
    action = actions[ActionName.EC2_START]

    result = action.execute(params, dry_run=False)
    verified = action.verify(params, result, timeout_s=5, poll_s=0.1)

    assert result.response_summary["transitions"][0]["from"] == "stopped"
    assert _state(setup_client, instance) == "running"
    assert verified.ok


def test_dry_run_start_describes_but_changes_nothing(actions, calls, setup_client) -> None:
    [instance] = _instances(setup_client)
    setup_client("ec2").stop_instances(InstanceIds=[instance])
    params = Ec2StartParams(service="search", region=REGION, instance_id=instance)

    result = actions[ActionName.EC2_START].execute(params, dry_run=True)

    assert result.dry_run is True
    assert (result.called, result.request) == ("ec2:StartInstances", {"InstanceIds": [instance]})
    assert calls.operations == ["DescribeInstances"]
    assert _state(setup_client, instance) == "stopped"


def test_verify_reports_a_stopped_instance_as_not_healthy(actions, setup_client) -> None:
    [instance] = _instances(setup_client)
    params = Ec2RebootParams(service="search", region=REGION, instance_id=instance)
    result = actions[ActionName.EC2_REBOOT].execute(params, dry_run=False)
    setup_client("ec2").stop_instances(InstanceIds=[instance])

    verified = actions[ActionName.EC2_REBOOT].verify(params, result, timeout_s=0.3, poll_s=0.1)

    assert not verified.ok
    assert verified.observed_state["state"] == "stopped"
    assert verified.detail.startswith("timed out")


def test_unknown_instance_is_a_permanent_not_found_without_acting(actions, calls) -> None:
    from adapters.aws.errors import AwsResourceNotFound

    params = Ec2RebootParams(service="search", region=REGION, instance_id="i-0000000000000dead")
    with pytest.raises(AwsResourceNotFound):
        actions[ActionName.EC2_REBOOT].execute(params, dry_run=False)
    assert calls.mutating == []


@pytest.mark.parametrize(
    "instance_id",
    ["i-0abc;reboot", "i-0abc12345 && rm -rf /", "$(curl evil)", "i-0ABCDEF123", "i-12345678\n"],
)
def test_shell_metacharacters_are_refused_before_any_call(instance_id: str, calls) -> None:
    with pytest.raises(RefusedParameter) as refused:
        Ec2RebootParams(service="search", region=REGION, instance_id=instance_id)
    assert refused.value.code == "invalid_parameter"
    assert calls.operations == []


def test_wrong_params_type_is_refused_before_any_call(actions, calls) -> None:
    from pipeline.errors import InvalidInput

    start = Ec2StartParams(service="search", region=REGION, instance_id="i-0123456789abcdef0")
    with pytest.raises(InvalidInput):
        actions[ActionName.EC2_REBOOT].execute(start, dry_run=False)
    assert calls.operations == []
