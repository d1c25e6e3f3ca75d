"""EC2: reboot and start an instance; verified by instance state and both status checks."""

from __future__ import annotations

from typing import Any

from adapters.aws.base import ActionResult, AwsAction, Call, Observation
from adapters.aws.errors import AwsResourceNotFound
from pipeline.policy import ActionName
from pipeline.remediation.params import Ec2RebootParams, Ec2StartParams


class _Ec2Action(AwsAction):
    api_operation: str
    api_name: str

    def preflight(self, params: Ec2RebootParams) -> dict[str, Any]:
        answer = self._describe(
            "ec2", params.region, "describe_instances", InstanceIds=[params.instance_id]
        )
        instances = [i for r in answer.get("Reservations", []) for i in r.get("Instances", [])]
        if not instances:
            raise AwsResourceNotFound(f"instance {params.instance_id} not found in {params.region}")
        return {"state": instances[0]["State"]["Name"]}

    def call_for(
        self, params: Ec2RebootParams, before: dict[str, Any], idempotency_key: str | None = None
    ) -> Call:
        return Call("ec2", self.api_operation, self.api_name, {"InstanceIds": [params.instance_id]})

    def observe(self, params: Ec2RebootParams, executed: ActionResult) -> Observation:
        answer = self._describe(
            "ec2",
            params.region,
            "describe_instance_status",
            InstanceIds=[params.instance_id],
            IncludeAllInstances=True,
        )
        statuses = answer.get("InstanceStatuses", [])
        if not statuses:
            return Observation(False, {"state": "unknown"}, detail="no status reported yet")
        status = statuses[0]
        state = {
            "state": status["InstanceState"]["Name"],
            "instance_status": status.get("InstanceStatus", {}).get("Status", "unknown"),
            "system_status": status.get("SystemStatus", {}).get("Status", "unknown"),
        }
        healthy = (
            state["state"] == "running"
            and state["instance_status"] == state["system_status"] == "ok"
        )
        failed = state["state"] in ("terminated", "shutting-down")
        return Observation(healthy, state, failed, _describe_state(params.instance_id, state))


def _describe_state(instance_id: str, state: dict[str, Any]) -> str:
    return (
        f"{instance_id} {state['state']}, instance status {state['instance_status']}, "
        f"system status {state['system_status']}"
    )


class Ec2Reboot(_Ec2Action):
    action = ActionName.EC2_REBOOT
    params_type = Ec2RebootParams
    api_operation = "reboot_instances"
    api_name = "RebootInstances"
    # RebootInstances returns at once and the status checks say "ok" until the guest goes down:
    # a look right away would "verify" a reboot that has not happened yet.
    settle_s = 30.0

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        return {"request_id": response.get("ResponseMetadata", {}).get("RequestId")}


class Ec2Start(_Ec2Action):
    action = ActionName.EC2_START
    params_type = Ec2StartParams
    api_operation = "start_instances"
    api_name = "StartInstances"

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        changes = response.get("StartingInstances", [])
        return {
            "request_id": response.get("ResponseMetadata", {}).get("RequestId"),
            "transitions": [
                {
                    "instance_id": c["InstanceId"],
                    "from": c["PreviousState"]["Name"],
                    "to": c["CurrentState"]["Name"],
                }
                for c in changes
            ],
        }
