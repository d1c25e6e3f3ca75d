"""Auto Scaling, ECS, SSM and RDS against moto's server: act, verify; dry runs change nothing."""

from __future__ import annotations

import json

import pytest

from adapters.aws.errors import AwsRequestRejected
from pipeline.errors import InvalidInput
from pipeline.policy import ActionName
from pipeline.remediation.params import (
    AsgSetDesiredCapacityParams,
    EcsForceNewDeploymentParams,
    RdsRebootParams,
    SsmRunCommandParams,
)

pytestmark = pytest.mark.integration

REGION = "eu-west-1"
RESTART_DOCUMENT = "SmartCloudOps-RestartSystemdUnit"


@pytest.fixture
def web_group(setup_client) -> str:
    setup_client("ec2").create_launch_template(
        LaunchTemplateName="web-template",
        LaunchTemplateData={"ImageId": "ami-12c6146b", "InstanceType": "t3.micro"},
    )
    setup_client("autoscaling").create_auto_scaling_group(
        AutoScalingGroupName="web-asg",
        LaunchTemplate={"LaunchTemplateName": "web-template"},
        MinSize=1,
        MaxSize=5,
        DesiredCapacity=2,
        AvailabilityZones=[f"{REGION}a"],
    )
    return "web-asg"


def _desired(setup_client, group: str) -> int:
    answer = setup_client("autoscaling").describe_auto_scaling_groups(AutoScalingGroupNames=[group])
    return answer["AutoScalingGroups"][0]["DesiredCapacity"]


def _asg_params(group: str, desired: int) -> AsgSetDesiredCapacityParams:
    return AsgSetDesiredCapacityParams(
        service="web",
        region=REGION,
        group_name=group,
        desired_capacity=desired,
        min_size=1,
        max_size=5,
    )


def test_set_desired_capacity_scales_and_waits_for_in_service(
    actions, web_group, setup_client
) -> None:
    action = actions[ActionName.ASG_SET_DESIRED_CAPACITY]
    params = _asg_params(web_group, 3)

    result = action.execute(params, dry_run=False)
    verified = action.verify(params, result, timeout_s=5, poll_s=0.1)

    assert result.request == {
        "AutoScalingGroupName": "web-asg",
        "DesiredCapacity": 3,
        "HonorCooldown": False,
    }
    assert result.response_summary["before"] == {
        "min_size": 1,
        "max_size": 5,
        "desired_capacity": 2,
    }
    assert _desired(setup_client, web_group) == 3
    assert verified.ok and verified.observed_state == {"desired_capacity": 3, "in_service": 3}


def test_dry_run_scaling_leaves_the_group_alone(actions, calls, web_group, setup_client) -> None:
    result = actions[ActionName.ASG_SET_DESIRED_CAPACITY].execute(
        _asg_params(web_group, 4), dry_run=True
    )

    assert result.dry_run and result.called == "autoscaling:SetDesiredCapacity"
    assert result.request["DesiredCapacity"] == 4
    assert calls.mutating == []
    assert _desired(setup_client, web_group) == 2


def test_capacity_outside_the_live_bounds_is_refused_before_acting(
    actions, calls, web_group, setup_client
) -> None:
    setup_client("autoscaling").update_auto_scaling_group(
        AutoScalingGroupName=web_group, MaxSize=3, DesiredCapacity=2
    )

    with pytest.raises(AwsRequestRejected, match="outside the live bounds"):
        actions[ActionName.ASG_SET_DESIRED_CAPACITY].execute(
            _asg_params(web_group, 4), dry_run=False
        )
    assert calls.mutating == []
    assert _desired(setup_client, web_group) == 2


@pytest.fixture
def payments_service(setup_client) -> EcsForceNewDeploymentParams:
    ecs = setup_client("ecs")
    ecs.create_cluster(clusterName="prod-eu")
    ecs.register_task_definition(
        family="payments", containerDefinitions=[{"name": "app", "image": "nginx", "memory": 128}]
    )
    ecs.create_service(
        cluster="prod-eu", serviceName="payments", taskDefinition="payments", desiredCount=2
    )
    return EcsForceNewDeploymentParams(
        service="payments", region=REGION, cluster="prod-eu", ecs_service="payments"
    )


def _primary_deployment(setup_client) -> str:
    service = setup_client("ecs").describe_services(cluster="prod-eu", services=["payments"])[
        "services"
    ][0]
    return next(d["id"] for d in service["deployments"] if d["status"] == "PRIMARY")


def test_force_new_deployment_rolls_out_a_new_primary(
    actions, payments_service, setup_client
) -> None:
    before = _primary_deployment(setup_client)
    action = actions[ActionName.ECS_FORCE_NEW_DEPLOYMENT]

    result = action.execute(payments_service, dry_run=False)
    verified = action.verify(payments_service, result, timeout_s=5, poll_s=0.1)

    assert result.request == {
        "cluster": "prod-eu",
        "service": "payments",
        "forceNewDeployment": True,
    }
    assert result.response_summary["before"]["deployment_id"] == before
    assert result.response_summary["deployment_id"] == _primary_deployment(setup_client) != before
    assert verified.ok and verified.observed_state["rollout_state"] == "COMPLETED"


def test_dry_run_redeploy_keeps_the_current_deployment(
    actions, calls, payments_service, setup_client
) -> None:
    before = _primary_deployment(setup_client)

    result = actions[ActionName.ECS_FORCE_NEW_DEPLOYMENT].execute(payments_service, dry_run=True)

    assert result.dry_run and calls.mutating == []
    assert _primary_deployment(setup_client) == before


@pytest.fixture
def restart_document(setup_client) -> str:
    content = {
        "schemaVersion": "2.2",
        "description": "Restart one systemd unit named by a validated parameter",
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
        Content=json.dumps(content), Name=RESTART_DOCUMENT, DocumentType="Command"
    )
    return RESTART_DOCUMENT


def _ssm_params(setup_client, document: str) -> SsmRunCommandParams:
    answer = setup_client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    instance = answer["Instances"][0]["InstanceId"]
    return SsmRunCommandParams(
        service="checkout",
        region=REGION,
        instance_id=instance,
        document=document,
        unit_parameter="unit",
        unit="checkout-api.service",
    )


def test_ssm_restart_sends_the_allowlisted_document_and_waits_for_success(
    actions, restart_document, setup_client
) -> None:
    params = _ssm_params(setup_client, restart_document)
    action = actions[ActionName.SSM_RUN_COMMAND]

    result = action.execute(params, dry_run=False)
    verified = action.verify(params, result, timeout_s=5, poll_s=0.1)

    assert result.request["DocumentName"] == RESTART_DOCUMENT
    assert result.request["Parameters"] == {"unit": ["checkout-api.service"]}
    assert verified.ok and verified.observed_state["status"] == "Success"
    assert verified.observed_state["command_id"] == result.response_summary["command_id"]


def test_dry_run_ssm_sends_no_command(actions, calls, restart_document, setup_client) -> None:
    params = _ssm_params(setup_client, restart_document)

    result = actions[ActionName.SSM_RUN_COMMAND].execute(params, dry_run=True)

    assert result.dry_run and calls.operations == ["DescribeDocument"]
    assert setup_client("ssm").list_commands()["Commands"] == []


def test_shell_documents_are_refused_even_if_they_reach_the_adapter(
    actions, calls, setup_client
) -> None:
    params = _ssm_params(setup_client, "AWS-RunShellScript")
    with pytest.raises(InvalidInput, match="arbitrary commands"):
        actions[ActionName.SSM_RUN_COMMAND].execute(params, dry_run=False)
    assert calls.operations == []


@pytest.fixture
def payments_db(setup_client) -> RdsRebootParams:
    setup_client("rds").create_db_instance(
        DBInstanceIdentifier="payments-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="admin_user",
        MasterUserPassword="not-a-real-password",
        AllocatedStorage=20,
    )
    return RdsRebootParams(service="payments", region=REGION, db_instance_id="payments-db")


def test_rds_reboot_waits_for_available(actions, calls, payments_db) -> None:
    action = actions[ActionName.RDS_REBOOT]

    result = action.execute(payments_db, dry_run=False)
    verified = action.verify(payments_db, result, timeout_s=5, poll_s=0.1)

    assert result.request == {"DBInstanceIdentifier": "payments-db", "ForceFailover": False}
    assert calls.mutating == ["RebootDBInstance"]
    assert verified.ok and verified.observed_state == {"status": "available"}


def test_dry_run_rds_reboot_calls_nothing_that_changes_state(actions, calls, payments_db) -> None:
    result = actions[ActionName.RDS_REBOOT].execute(payments_db, dry_run=True)
    assert result.dry_run and result.called == "rds:RebootDBInstance"
    assert calls.operations == ["DescribeDBInstances"]
