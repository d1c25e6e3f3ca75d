"""ECS: force a new deployment of a service; verified by the primary deployment completing."""

from __future__ import annotations

from typing import Any

from adapters.aws.base import ActionResult, AwsAction, Call, Observation
from adapters.aws.errors import AwsRequestRejected, AwsResourceNotFound
from pipeline.policy import ActionName
from pipeline.remediation.params import EcsForceNewDeploymentParams


def _primary(service: dict[str, Any]) -> dict[str, Any] | None:
    return next((d for d in service.get("deployments", []) if d.get("status") == "PRIMARY"), None)


class EcsForceNewDeployment(AwsAction):
    action = ActionName.ECS_FORCE_NEW_DEPLOYMENT
    params_type = EcsForceNewDeploymentParams

    def _service(self, params: EcsForceNewDeploymentParams) -> dict[str, Any]:
        answer = self._describe(
            "ecs",
            params.region,
            "describe_services",
            cluster=params.cluster,
            services=[params.ecs_service],
        )
        services = answer.get("services", [])
        if not services:
            raise AwsResourceNotFound(
                f"ECS service {params.cluster}/{params.ecs_service} not found"
            )
        return services[0]

    def preflight(self, params: EcsForceNewDeploymentParams) -> dict[str, Any]:
        service = self._service(params)
        if service.get("status") != "ACTIVE":
            raise AwsRequestRejected(f"ECS service {params.ecs_service} is {service.get('status')}")
        primary = _primary(service) or {}
        return {
            "deployment_id": primary.get("id"),
            "desired_count": service.get("desiredCount"),
            "running_count": service.get("runningCount"),
        }

    def call_for(
        self,
        params: EcsForceNewDeploymentParams,
        before: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> Call:
        request = {
            "cluster": params.cluster,
            "service": params.ecs_service,
            "forceNewDeployment": True,
        }
        return Call("ecs", "update_service", "UpdateService", request)

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        primary = _primary(response.get("service", {})) or {}
        return {"deployment_id": primary.get("id")}

    def observe(self, params: EcsForceNewDeploymentParams, executed: ActionResult) -> Observation:
        primary = _primary(self._service(params))
        if primary is None:
            return Observation(False, {"deployment_id": None}, detail="no primary deployment yet")
        state = {
            "deployment_id": primary.get("id"),
            "rollout_state": primary.get("rolloutState"),
            "running_count": primary.get("runningCount"),
            "desired_count": primary.get("desiredCount"),
        }
        expected = executed.response_summary.get("deployment_id")
        if expected and primary.get("id") != expected:
            return Observation(
                False, state, detail=f"primary deployment is {primary.get('id')}, not {expected}"
            )
        rolled_out = state["rollout_state"] == "COMPLETED" or (
            state["rollout_state"] in (None, "IN_PROGRESS")
            and state["running_count"] == state["desired_count"]
        )
        failed = state["rollout_state"] == "FAILED"
        detail = (
            f"deployment {state['deployment_id']} {state['rollout_state']}, "
            f"{state['running_count']}/{state['desired_count']} running"
        )
        return Observation(rolled_out and not failed, state, failed, detail)
