"""The service catalog: which services exist, who owns them and which AWS resources back them.

These are the domain's types; config/catalog.py reads the operator's YAML file into them.
The file's top level (`services: [{name, aliases}]`, `alerts: [...]`) is shared with chat language
understanding, which reads only names and aliases; remediation reads the rest. Every value that
can end up in an AWS call is validated here with the same patterns the planner re-checks.
"""

from __future__ import annotations

import re
from functools import cached_property
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

INSTANCE_ID_PATTERN = re.compile(r"^i-[0-9a-f]{8,17}$")
SYSTEMD_UNIT_PATTERN = re.compile(r"^[a-zA-Z0-9@._-]{1,64}$")
REGION_PATTERN = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-[0-9]$")
# Names of AWS resources we pass to APIs, as narrow as AWS allows (no ARNs, no spaces).
ASG_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")
ECS_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$")
RDS_ID_PATTERN = re.compile(r"^[a-zA-Z][a-zA-Z0-9-]{0,62}$")
SERVICE_NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")

InstanceId = Annotated[str, StringConstraints(pattern=INSTANCE_ID_PATTERN.pattern)]
SystemdUnit = Annotated[str, StringConstraints(pattern=SYSTEMD_UNIT_PATTERN.pattern)]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN.pattern)]
AsgName = Annotated[str, StringConstraints(pattern=ASG_NAME_PATTERN.pattern)]
EcsName = Annotated[str, StringConstraints(pattern=ECS_NAME_PATTERN.pattern)]
RdsInstanceId = Annotated[str, StringConstraints(pattern=RDS_ID_PATTERN.pattern)]
ServiceName = Annotated[str, StringConstraints(pattern=SERVICE_NAME_PATTERN.pattern)]
Alias = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True)]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class AutoScalingGroup(_Frozen):
    """An Auto Scaling group with the capacity bounds remediation must stay within."""

    name: AsgName
    min_size: int = Field(ge=0)
    max_size: int = Field(ge=0)
    desired_capacity: int = Field(ge=0, description="nominal capacity in normal operation")

    @model_validator(mode="after")
    def _bounds_are_ordered(self) -> AutoScalingGroup:
        if not self.min_size <= self.desired_capacity <= self.max_size:
            raise ValueError("needs min_size <= desired_capacity <= max_size")
        return self


class EcsService(_Frozen):
    cluster: EcsName
    service: EcsName


class AwsResources(_Frozen):
    """The AWS resources behind one service; any of them may be absent."""

    region: Region
    instance_ids: tuple[InstanceId, ...] = ()
    autoscaling_group: AutoScalingGroup | None = None
    ecs: EcsService | None = None
    rds_instance_id: RdsInstanceId | None = None


class Service(_Frozen):
    """One service of the estate as the operators describe it."""

    name: ServiceName
    aliases: tuple[Alias, ...] = ()
    tier: int = Field(default=2, ge=1, le=3, description="1 = most critical")
    owners: tuple[Alias, ...] = ()
    aws: AwsResources | None = None
    systemd_units: tuple[SystemdUnit, ...] = ()
    fleet_size: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _instances_are_unique(self) -> Service:
        if self.aws is not None and len(set(self.aws.instance_ids)) != len(self.aws.instance_ids):
            raise ValueError("instance_ids lists an instance twice")
        return self

    @property
    def effective_fleet_size(self) -> int:
        """Fleet size as declared, else the ASG's nominal capacity, else the listed instances."""
        if self.fleet_size is not None:
            return self.fleet_size
        if self.aws is not None and self.aws.autoscaling_group is not None:
            return max(self.aws.autoscaling_group.desired_capacity, 1)
        return max(len(self.aws.instance_ids) if self.aws is not None else 0, 1)

    def owns_instance(self, instance_id: str) -> bool:
        return self.aws is not None and instance_id in self.aws.instance_ids


class Catalog(_Frozen):
    """All services and the alert names the estate emits."""

    services: tuple[Service, ...]
    alerts: tuple[Alias, ...] = ()

    @model_validator(mode="after")
    def _names_and_instances_are_unique(self) -> Catalog:
        seen: dict[str, str] = {}
        owners: dict[str, str] = {}
        for service in self.services:
            for word in (service.name, *service.aliases):
                key = word.lower()
                if key in seen and seen[key] != service.name:
                    raise ValueError(
                        f"name or alias {word!r} used by {seen[key]!r} and {service.name!r}"
                    )
                seen[key] = service.name
            for instance_id in service.aws.instance_ids if service.aws else ():
                if instance_id in owners:
                    raise ValueError(
                        f"instance {instance_id} belongs to {owners[instance_id]!r} "
                        f"and {service.name!r}"
                    )
                owners[instance_id] = service.name
        return self

    @cached_property
    def _by_name(self) -> dict[str, Service]:
        return {
            word.lower(): service
            for service in self.services
            for word in (service.name, *service.aliases)
        }

    @cached_property
    def _by_instance(self) -> dict[str, Service]:
        return {i: s for s in self.services for i in (s.aws.instance_ids if s.aws else ())}

    def service(self, name_or_alias: str) -> Service | None:
        """The service with this canonical name or alias (case-insensitive), if any."""
        return self._by_name.get(name_or_alias.strip().lower())

    def service_of_instance(self, instance_id: str) -> Service | None:
        """The service that owns this EC2 instance, if any."""
        return self._by_instance.get(instance_id)

