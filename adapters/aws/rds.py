"""RDS: reboot a database instance; verified by its status returning to available."""

from __future__ import annotations

from typing import Any

from adapters.aws.base import ActionResult, AwsAction, Call, Observation
from adapters.aws.errors import AwsRequestRejected, AwsResourceNotFound
from pipeline.policy import ActionName
from pipeline.remediation.params import RdsRebootParams

FAILED_STATES = frozenset(
    {"failed", "deleting", "deleted", "incompatible-parameters", "storage-full", "stopped"}
)


class RdsReboot(AwsAction):
    action = ActionName.RDS_REBOOT
    params_type = RdsRebootParams

    def _status(self, params: RdsRebootParams) -> str:
        answer = self._describe(
            "rds",
            params.region,
            "describe_db_instances",
            DBInstanceIdentifier=params.db_instance_id,
        )
        instances = answer.get("DBInstances", [])
        if not instances:
            raise AwsResourceNotFound(f"RDS instance {params.db_instance_id} not found")
        return instances[0]["DBInstanceStatus"]

    def preflight(self, params: RdsRebootParams) -> dict[str, Any]:
        status = self._status(params)
        if status != "available":
            raise AwsRequestRejected(
                f"RDS instance {params.db_instance_id} is {status}, not available"
            )
        return {"status": status}

    def call_for(
        self, params: RdsRebootParams, before: dict[str, Any], idempotency_key: str | None = None
    ) -> Call:
        request = {
            "DBInstanceIdentifier": params.db_instance_id,
            "ForceFailover": params.force_failover,
        }
        return Call("rds", "reboot_db_instance", "RebootDBInstance", request)

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        return {"status": response.get("DBInstance", {}).get("DBInstanceStatus")}

    def observe(self, params: RdsRebootParams, executed: ActionResult) -> Observation:
        status = self._status(params)
        detail = f"RDS instance {params.db_instance_id} is {status}"
        return Observation(
            status == "available", {"status": status}, status in FAILED_STATES, detail
        )
