"""AWS remediation actions with boto3: one class per action, a shared retry, a registry."""

from __future__ import annotations

from collections.abc import Mapping

from adapters.aws.autoscaling import AsgSetDesiredCapacity
from adapters.aws.base import ActionResult, AwsAction, VerifyResult
from adapters.aws.clients import AwsClients
from adapters.aws.ec2 import Ec2Reboot, Ec2Start
from adapters.aws.ecs import EcsForceNewDeployment
from adapters.aws.rds import RdsReboot
from adapters.aws.retry import Retrier, RetryPolicy
from adapters.aws.ssm import SsmRunCommand
from pipeline.policy import ActionName

ACTION_CLASSES: tuple[type[AwsAction], ...] = (
    Ec2Reboot,
    Ec2Start,
    AsgSetDesiredCapacity,
    EcsForceNewDeployment,
    SsmRunCommand,
    RdsReboot,
)


def build_actions(
    clients: AwsClients, retrier: Retrier | None = None, **timing
) -> Mapping[ActionName, AwsAction]:
    """One instance of every action, keyed by action name; bootstrap calls this once."""
    retrier = retrier or Retrier()
    return {cls.action: cls(clients, retrier, **timing) for cls in ACTION_CLASSES}


__all__ = [
    "ActionResult",
    "AwsAction",
    "AwsClients",
    "Retrier",
    "RetryPolicy",
    "VerifyResult",
    "build_actions",
]
