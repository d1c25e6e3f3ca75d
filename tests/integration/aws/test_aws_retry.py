"""Our retry over real HTTP: throttling and 5xx are retried with backoff, validation never.

moto cannot throttle, so a botocore `before-send` hook answers the first N attempts of one
operation with an AWS error response; later attempts go through to moto's server.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from aws_moto_support import REGION, make_session
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ReadTimeoutError

from adapters.aws import AwsClients, Retrier, RetryPolicy, build_actions
from adapters.aws.errors import (
    AwsOutcomeUnknown,
    AwsPermissionDenied,
    AwsRequestRejected,
    AwsTransientError,
)
from pipeline.policy import ActionName
from pipeline.remediation.params import AsgSetDesiredCapacityParams, Ec2RebootParams

pytestmark = pytest.mark.integration

EC2_ERROR = (
    "<Response><Errors><Error><Code>{code}</Code><Message>injected</Message></Error></Errors>"
    "<RequestID>injected</RequestID></Response>"
)
QUERY_ERROR = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>injected</Message></Error>"
    "<RequestId>injected</RequestId></ErrorResponse>"
)


class _Body:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **_: object):
        yield self._body


@dataclass
class Fault:
    """Answers the first `times` sends of `operation` with an error (or raises `exception`)."""

    operation: str
    times: int
    status: int = 400
    body: str = ""
    exception: Exception | None = None
    attempts: int = 0

    def __call__(self, event_name: str, request, **_: object):
        if not event_name.endswith(f".{self.operation}"):
            return None
        self.attempts += 1
        if self.attempts > self.times:
            return None
        if self.exception is not None:
            raise self.exception
        return AWSResponse(
            request.url, self.status, {"Content-Type": "text/xml"}, _Body(self.body.encode())
        )


@pytest.fixture
def run_with(moto_url: str):
    def build(fault: Fault, attempts: int = 4):
        session = make_session()
        session.events.register("before-send", fault)
        sleeps: list[float] = []
        retrier = Retrier(
            RetryPolicy(attempts=attempts, base_delay_s=0.01, max_delay_s=0.04), sleep=sleeps.append
        )
        return build_actions(AwsClients(session, endpoint_url=moto_url), retrier), sleeps

    return build


@pytest.fixture
def instance(setup_client) -> str:
    answer = setup_client("ec2").run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, InstanceType="t3.micro"
    )
    return answer["Instances"][0]["InstanceId"]


def _reboot(instance: str) -> Ec2RebootParams:
    return Ec2RebootParams(service="search", region=REGION, instance_id=instance)


def test_request_limit_exceeded_is_retried_with_backoff_then_succeeds(run_with, instance) -> None:
    fault = Fault(
        "RebootInstances", times=2, status=503, body=EC2_ERROR.format(code="RequestLimitExceeded")
    )
    actions, sleeps = run_with(fault)

    result = actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=False)

    assert result.called == "ec2:RebootInstances" and result.response_summary["request_id"]
    assert fault.attempts == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.01 and 0 <= sleeps[1] <= 0.02  # full jitter under the doubling cap


def test_throttling_on_a_query_api_is_retried(run_with, setup_client) -> None:
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
    fault = Fault("SetDesiredCapacity", times=3, body=QUERY_ERROR.format(code="Throttling"))
    actions, sleeps = run_with(fault)
    params = AsgSetDesiredCapacityParams(
        service="web",
        region=REGION,
        group_name="web-asg",
        desired_capacity=3,
        min_size=1,
        max_size=5,
    )

    actions[ActionName.ASG_SET_DESIRED_CAPACITY].execute(params, dry_run=False)

    assert fault.attempts == 4 and len(sleeps) == 3
    groups = setup_client("autoscaling").describe_auto_scaling_groups(
        AutoScalingGroupNames=["web-asg"]
    )
    assert groups["AutoScalingGroups"][0]["DesiredCapacity"] == 3


def test_server_errors_are_retried(run_with, instance) -> None:
    fault = Fault(
        "RebootInstances", times=1, status=500, body=EC2_ERROR.format(code="InternalError")
    )
    actions, sleeps = run_with(fault)
    actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=False)
    assert fault.attempts == 2 and len(sleeps) == 1


def test_throttling_that_outlasts_the_attempts_is_a_transient_error(run_with, instance) -> None:
    fault = Fault(
        "RebootInstances", times=99, status=503, body=EC2_ERROR.format(code="RequestLimitExceeded")
    )
    actions, sleeps = run_with(fault, attempts=3)

    with pytest.raises(AwsTransientError, match="after 3 attempts"):
        actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=False)
    assert fault.attempts == 3 and len(sleeps) == 2


def test_validation_error_is_not_retried(run_with, instance) -> None:
    fault = Fault("RebootInstances", times=99, body=EC2_ERROR.format(code="InvalidParameterValue"))
    actions, sleeps = run_with(fault)

    with pytest.raises(AwsRequestRejected, match="InvalidParameterValue"):
        actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=False)
    assert fault.attempts == 1 and sleeps == []


def test_permission_error_is_not_retried(run_with, instance) -> None:
    fault = Fault(
        "RebootInstances", times=99, status=403, body=EC2_ERROR.format(code="UnauthorizedOperation")
    )
    actions, sleeps = run_with(fault)

    with pytest.raises(AwsPermissionDenied):
        actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=False)
    assert fault.attempts == 1 and sleeps == []


def test_lost_connection_after_sending_a_change_is_not_resent(run_with, instance) -> None:
    fault = Fault(
        "RebootInstances", times=99, exception=ReadTimeoutError(endpoint_url="http://moto")
    )
    actions, sleeps = run_with(fault)

    with pytest.raises(AwsOutcomeUnknown):
        actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=False)
    assert fault.attempts == 1 and sleeps == []


def test_lost_connection_on_a_read_is_retried(run_with, instance) -> None:
    fault = Fault(
        "DescribeInstances", times=2, exception=ReadTimeoutError(endpoint_url="http://moto")
    )
    actions, sleeps = run_with(fault)

    result = actions[ActionName.EC2_REBOOT].execute(_reboot(instance), dry_run=True)

    assert result.response_summary["before"] == {"state": "running"}
    assert fault.attempts == 3 and len(sleeps) == 2


def test_unreachable_endpoint_is_retried_then_transient() -> None:
    session = make_session()
    sleeps: list[float] = []
    retrier = Retrier(
        RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.01), sleep=sleeps.append
    )
    # Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    actions = build_actions(
        AwsClients(session, endpoint_url="http://127.0.0.1:9", connect_timeout_s=1), retrier
    )

    with pytest.raises(AwsTransientError):
        actions[ActionName.EC2_REBOOT].execute(_reboot("i-0123456789abcdef0"), dry_run=True)
    assert len(sleeps) == 1
