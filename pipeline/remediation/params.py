"""Typed, validated parameters of each remediation action.

Every value that reaches an AWS API is one of these fields, checked twice: for its shape when
the dataclass is built (so a value read back from storage is re-validated), and against the
catalog and policy before a plan is made (`check_against_catalog`). Nothing here is free text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pipeline.catalog import (
    ASG_NAME_PATTERN,
    ECS_NAME_PATTERN,
    INSTANCE_ID_PATTERN,
    RDS_ID_PATTERN,
    REGION_PATTERN,
    SERVICE_NAME_PATTERN,
    SYSTEMD_UNIT_PATTERN,
    Catalog,
    Service,
)
from pipeline.errors import InvalidInput
from pipeline.policy import SSM_DOCUMENT_PATTERN, ActionName, Policy

SSM_PARAMETER_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9]{0,63}$")


class RefusedParameter(InvalidInput):
    """A parameter failed validation; `code` is the machine-readable reason for the audit row."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def _require(value: Any, pattern: re.Pattern[str], field: str) -> None:
    if not isinstance(value, str) or pattern.fullmatch(value) is None:
        raise RefusedParameter(
            "invalid_parameter", f"{field}={value!r} does not match {pattern.pattern}"
        )


def _require_int(value: Any, field: str) -> None:
    # bool is an int in Python; a JSON true must not become capacity 1.
    if not isinstance(value, int) or isinstance(value, bool):
        raise RefusedParameter("invalid_parameter", f"{field}={value!r} is not an integer")


@dataclass(frozen=True)
class _Params:
    ACTION: ClassVar[ActionName]
    service: str
    region: str

    def __post_init__(self) -> None:
        _require(self.service, SERVICE_NAME_PATTERN, "service")
        _require(self.region, REGION_PATTERN, "region")

    @property
    def target(self) -> str:
        """The resource this step acts on; rate limits and cooldowns are per target."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        # Every field is a primitive, so a shallow copy is the whole value.
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}


@dataclass(frozen=True)
class Ec2RebootParams(_Params):
    ACTION: ClassVar[ActionName] = ActionName.EC2_REBOOT
    instance_id: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.instance_id, INSTANCE_ID_PATTERN, "instance_id")

    @property
    def target(self) -> str:
        return f"ec2:{self.instance_id}"


@dataclass(frozen=True)
class Ec2StartParams(Ec2RebootParams):
    ACTION: ClassVar[ActionName] = ActionName.EC2_START


@dataclass(frozen=True)
class AsgSetDesiredCapacityParams(_Params):
    ACTION: ClassVar[ActionName] = ActionName.ASG_SET_DESIRED_CAPACITY
    group_name: str
    desired_capacity: int
    min_size: int
    max_size: int

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.group_name, ASG_NAME_PATTERN, "group_name")
        for field in ("desired_capacity", "min_size", "max_size"):
            _require_int(getattr(self, field), field)
        if not 0 <= self.min_size <= self.desired_capacity <= self.max_size:
            raise RefusedParameter(
                "capacity_out_of_bounds",
                f"desired_capacity {self.desired_capacity} outside "
                f"[{self.min_size}, {self.max_size}]",
            )

    @property
    def target(self) -> str:
        return f"asg:{self.region}:{self.group_name}"


@dataclass(frozen=True)
class EcsForceNewDeploymentParams(_Params):
    ACTION: ClassVar[ActionName] = ActionName.ECS_FORCE_NEW_DEPLOYMENT
    cluster: str
    ecs_service: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.cluster, ECS_NAME_PATTERN, "cluster")
        _require(self.ecs_service, ECS_NAME_PATTERN, "ecs_service")

    @property
    def target(self) -> str:
        return f"ecs:{self.region}:{self.cluster}/{self.ecs_service}"


@dataclass(frozen=True)
class SsmRunCommandParams(_Params):
    ACTION: ClassVar[ActionName] = ActionName.SSM_RUN_COMMAND
    instance_id: str
    document: str
    unit_parameter: str
    unit: str

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.instance_id, INSTANCE_ID_PATTERN, "instance_id")
        _require(self.document, SSM_DOCUMENT_PATTERN, "document")
        _require(self.unit_parameter, SSM_PARAMETER_PATTERN, "unit_parameter")
        _require(self.unit, SYSTEMD_UNIT_PATTERN, "unit")

    @property
    def target(self) -> str:
        return f"ec2:{self.instance_id}"


@dataclass(frozen=True)
class RdsRebootParams(_Params):
    ACTION: ClassVar[ActionName] = ActionName.RDS_REBOOT
    db_instance_id: str
    force_failover: bool = False

    def __post_init__(self) -> None:
        super().__post_init__()
        _require(self.db_instance_id, RDS_ID_PATTERN, "db_instance_id")
        if not isinstance(self.force_failover, bool):
            raise RefusedParameter("invalid_parameter", "force_failover must be a boolean")

    @property
    def target(self) -> str:
        return f"rds:{self.region}:{self.db_instance_id}"


ActionParams = (
    Ec2RebootParams
    | Ec2StartParams
    | AsgSetDesiredCapacityParams
    | EcsForceNewDeploymentParams
    | SsmRunCommandParams
    | RdsRebootParams
)

PARAMS_BY_ACTION: dict[ActionName, type[_Params]] = {
    cls.ACTION: cls
    for cls in (
        Ec2RebootParams,
        Ec2StartParams,
        AsgSetDesiredCapacityParams,
        EcsForceNewDeploymentParams,
        SsmRunCommandParams,
        RdsRebootParams,
    )
}


def parse_params(action: str, data: Mapping[str, Any]) -> ActionParams:
    """Rebuild validated parameters from stored primitives; unknown or missing keys are refused."""
    try:
        cls = PARAMS_BY_ACTION[ActionName(action)]
    except ValueError as exc:
        raise RefusedParameter("action_not_allowed", f"unknown action {action!r}") from exc
    names = {f.name for f in dataclasses.fields(cls)}
    required = {f.name for f in dataclasses.fields(cls) if f.default is dataclasses.MISSING}
    extra, missing = set(data) - names, required - set(data)
    if extra or missing:
        raise RefusedParameter(
            "invalid_parameter", f"{action}: unexpected {sorted(extra)}, missing {sorted(missing)}"
        )
    return cls(**dict(data))  # type: ignore[return-value]


def check_against_catalog(params: ActionParams, catalog: Catalog, policy: Policy) -> None:
    """Refuse parameters the policy does not allow or that name resources outside the service."""
    if not policy.actions.allows(params.ACTION):
        raise RefusedParameter("action_not_allowed", f"action {params.ACTION} is not allowlisted")
    service = catalog.service(params.service)
    if service is None or service.name != params.service:
        raise RefusedParameter(
            "unknown_service", f"service {params.service!r} is not in the catalog"
        )
    if service.aws is None or service.aws.region != params.region:
        raise RefusedParameter(
            "foreign_resource", f"{params.service} does not run in {params.region}"
        )
    _CHECKS[type(params)](params, service, policy)


def _check_instance(
    params: Ec2RebootParams | SsmRunCommandParams, service: Service, _: Policy
) -> None:
    if not service.owns_instance(params.instance_id):
        raise RefusedParameter(
            "foreign_instance", f"instance {params.instance_id} does not belong to {service.name}"
        )


def _check_asg(params: AsgSetDesiredCapacityParams, service: Service, policy: Policy) -> None:
    group = service.aws.autoscaling_group if service.aws else None
    if group is None or group.name != params.group_name:
        raise RefusedParameter(
            "foreign_resource", f"{params.group_name} is not {service.name}'s group"
        )
    if (params.min_size, params.max_size) != (group.min_size, group.max_size):
        raise RefusedParameter("capacity_out_of_bounds", "bounds differ from the catalog's group")
    max_step = policy.actions.asg_set_desired_capacity.max_step  # type: ignore[union-attr]
    if abs(params.desired_capacity - group.desired_capacity) > max_step:
        raise RefusedParameter(
            "capacity_out_of_bounds",
            f"desired_capacity {params.desired_capacity} is more than {max_step} away from the "
            f"nominal {group.desired_capacity}",
        )


def _check_ecs(params: EcsForceNewDeploymentParams, service: Service, _: Policy) -> None:
    ecs = service.aws.ecs if service.aws else None
    if ecs is None or (ecs.cluster, ecs.service) != (params.cluster, params.ecs_service):
        raise RefusedParameter(
            "foreign_resource", f"{params.cluster}/{params.ecs_service} is not {service.name}'s"
        )


def _check_ssm(params: SsmRunCommandParams, service: Service, policy: Policy) -> None:
    _check_instance(params, service, policy)
    document = policy.actions.ssm_document(params.document)
    if document is None or document.unit_parameter != params.unit_parameter:
        raise RefusedParameter(
            "document_not_allowed", f"SSM document {params.document} is not allowlisted"
        )
    if params.unit not in service.systemd_units:
        raise RefusedParameter(
            "unit_not_allowed", f"unit {params.unit} is not declared by {service.name}"
        )


def _check_rds(params: RdsRebootParams, service: Service, policy: Policy) -> None:
    if service.aws is None or service.aws.rds_instance_id != params.db_instance_id:
        raise RefusedParameter(
            "foreign_resource", f"{params.db_instance_id} is not {service.name}'s"
        )
    if params.force_failover and not policy.actions.rds_reboot.allow_force_failover:  # type: ignore[union-attr]
        raise RefusedParameter("invalid_parameter", "force_failover is not allowed by policy")


_CHECKS = {
    Ec2RebootParams: _check_instance,
    Ec2StartParams: _check_instance,
    AsgSetDesiredCapacityParams: _check_asg,
    EcsForceNewDeploymentParams: _check_ecs,
    SsmRunCommandParams: _check_ssm,
    RdsRebootParams: _check_rds,
}
