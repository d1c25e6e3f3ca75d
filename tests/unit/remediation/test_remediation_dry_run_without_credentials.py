"""A dry run records the exact call even where no AWS credentials exist (a laptop, the demo)."""

import boto3
import pytest
from botocore.exceptions import NoCredentialsError

from adapters.aws import AwsClients, build_actions
from pipeline.policy import ActionName
from pipeline.remediation.params import Ec2RebootParams

KEY = "0123456789abcdef0123456789abcdef"


@pytest.fixture
def no_credentials(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
                 "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    # Port 1 on loopback: if anything tried to call AWS, it would fail loudly, not reach a network.
    return build_actions(AwsClients(boto3.Session(region_name="eu-west-1"), endpoint_url="http://127.0.0.1:1"))


def test_dry_run_records_the_call_without_inspecting_the_target(no_credentials):
    action = no_credentials[ActionName.EC2_REBOOT]
    params = Ec2RebootParams(service="checkout", region="eu-west-1", instance_id="i-0123456789abcdef0")
    result = action.execute(params, dry_run=True, idempotency_key=KEY)
    assert result.dry_run and result.called == "ec2:RebootInstances"
    assert result.request["InstanceIds"] == ["i-0123456789abcdef0"]
    assert "not_inspected" in result.response_summary["before"]


def test_acting_for_real_without_credentials_still_fails(no_credentials):
    action = no_credentials[ActionName.EC2_REBOOT]
    params = Ec2RebootParams(service="checkout", region="eu-west-1", instance_id="i-0123456789abcdef0")
    with pytest.raises(NoCredentialsError):
        action.execute(params, dry_run=False, idempotency_key=KEY)


def test_verifying_a_dry_run_needs_no_credentials(no_credentials):
    """The verify stage after a dry run used to dead-letter with NoCredentialsError (run left running)."""
    action = no_credentials[ActionName.EC2_REBOOT]
    params = Ec2RebootParams(service="checkout", region="eu-west-1", instance_id="i-0123456789abcdef0")
    executed = action.execute(params, dry_run=True, idempotency_key=KEY)
    verdict = action.verify(params, executed, timeout_s=5, poll_s=1)
    assert verdict.ok and verdict.polls == 0 and "not_inspected" in verdict.observed_state
    assert "no AWS credentials" in verdict.detail
