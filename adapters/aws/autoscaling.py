"""Auto Scaling: set desired capacity within the live bounds; verified by the in-service count."""

from __future__ import annotations

from typing import Any

from adapters.aws.base import ActionResult, AwsAction, Call, Observation
from adapters.aws.errors import AwsRequestRejected, AwsResourceNotFound
from pipeline.policy import ActionName
from pipeline.remediation.params import AsgSetDesiredCapacityParams


class AsgSetDesiredCapacity(AwsAction):
    action = ActionName.ASG_SET_DESIRED_CAPACITY
    params_type = AsgSetDesiredCapacityParams

    def _group(self, params: AsgSetDesiredCapacityParams) -> dict[str, Any]:
        answer = self._describe(
            "autoscaling",
            params.region,
            "describe_auto_scaling_groups",
            AutoScalingGroupNames=[params.group_name],
        )
        groups = answer.get("AutoScalingGroups", [])
        if not groups:
            raise AwsResourceNotFound(f"Auto Scaling group {params.group_name} not found")
        return groups[0]

    def preflight(self, params: AsgSetDesiredCapacityParams) -> dict[str, Any]:
        group = self._group(params)
        live = {
            "min_size": group["MinSize"],
            "max_size": group["MaxSize"],
            "desired_capacity": group["DesiredCapacity"],
        }
        # The catalog's bounds were checked when planning; the live group may have changed since.
        if not live["min_size"] <= params.desired_capacity <= live["max_size"]:
            raise AwsRequestRejected(
                f"desired capacity {params.desired_capacity} outside the live bounds "
                f"[{live['min_size']}, {live['max_size']}] of {params.group_name}"
            )
        return live

    def call_for(
        self,
        params: AsgSetDesiredCapacityParams,
        before: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> Call:
        request = {
            "AutoScalingGroupName": params.group_name,
            "DesiredCapacity": params.desired_capacity,
            "HonorCooldown": False,
        }
        return Call("autoscaling", "set_desired_capacity", "SetDesiredCapacity", request)

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        return {"request_id": response.get("ResponseMetadata", {}).get("RequestId")}

    def observe(self, params: AsgSetDesiredCapacityParams, executed: ActionResult) -> Observation:
        group = self._group(params)
        in_service = [
            i
            for i in group.get("Instances", [])
            if i.get("LifecycleState") == "InService" and i.get("HealthStatus") == "Healthy"
        ]
        state = {"desired_capacity": group["DesiredCapacity"], "in_service": len(in_service)}
        # Equality, not >=: after a scale-in the surplus must have left service too.
        done = len(in_service) == params.desired_capacity
        wanted = params.desired_capacity
        detail = f"{len(in_service)} of {wanted} instances in service in {params.group_name}"
        return Observation(done, state, detail=detail)
