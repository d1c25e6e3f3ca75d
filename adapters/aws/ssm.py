"""SSM: run an allowlisted document with a validated systemd unit; verified by invocation status."""

from __future__ import annotations

from typing import Any

from adapters.aws.base import ActionResult, AwsAction, Call, Observation
from adapters.aws.errors import AwsResourceNotFound
from pipeline.errors import InvalidInput
from pipeline.policy import FORBIDDEN_SSM_DOCUMENTS, ActionName
from pipeline.remediation.params import SsmRunCommandParams

TERMINAL_FAILURES = frozenset(
    {"Cancelled", "TimedOut", "Failed", "Cancelling", "Undeliverable", "Terminated"}
)
COMMAND_TIMEOUT_S = 600


def _comment(idempotency_key: str | None) -> str:
    # SSM comments hold at most 100 characters; the key is hex, never text from outside.
    step = f" step {idempotency_key}" if idempotency_key else ""
    return f"SmartCloudOps{step}"[:100]


class SsmRunCommand(AwsAction):
    action = ActionName.SSM_RUN_COMMAND
    params_type = SsmRunCommandParams

    def preflight(self, params: SsmRunCommandParams) -> dict[str, Any]:
        # Defence in depth: the policy loader refuses these too, but nothing may slip through here.
        if params.document in FORBIDDEN_SSM_DOCUMENTS:
            raise InvalidInput(f"SSM document {params.document} runs arbitrary commands")
        answer = self._describe("ssm", params.region, "describe_document", Name=params.document)
        document = answer.get("Document", {})
        declared = {p.get("Name") for p in document.get("Parameters", [])}
        if declared and params.unit_parameter not in declared:
            raise InvalidInput(f"{params.document} has no parameter {params.unit_parameter}")
        return {
            "document_status": document.get("Status"),
            "document_version": document.get("DocumentVersion"),
        }

    def call_for(
        self,
        params: SsmRunCommandParams,
        before: dict[str, Any],
        idempotency_key: str | None = None,
    ) -> Call:
        request = {
            "InstanceIds": [params.instance_id],
            "DocumentName": params.document,
            "Parameters": {params.unit_parameter: [params.unit]},
            "TimeoutSeconds": COMMAND_TIMEOUT_S,
            "Comment": _comment(idempotency_key),
        }
        return Call("ssm", "send_command", "SendCommand", request)

    def recover(self, params: SsmRunCommandParams, idempotency_key: str) -> ActionResult:
        """Find the command a crashed worker sent, by the step key stamped in its comment."""
        result = super().recover(params, idempotency_key)
        answer = self._describe(
            "ssm", params.region, "list_commands", InstanceId=params.instance_id
        )
        comment = _comment(idempotency_key)
        sent = [c for c in answer.get("Commands", []) if c.get("Comment") == comment]
        summary = {"recovered": True, "command_id": sent[-1]["CommandId"] if sent else None}
        return ActionResult(result.called, result.request, summary, dry_run=False)

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        command = response.get("Command", {})
        return {"command_id": command.get("CommandId"), "status": command.get("Status")}

    def observe(self, params: SsmRunCommandParams, executed: ActionResult) -> Observation:
        command_id = executed.response_summary.get("command_id")
        if not command_id:
            # A recovered execution without a command means the worker died before sending it.
            return Observation(
                False, {"command_id": None, "status": "NotSent"}, True, "no command was sent"
            )
        try:
            answer = self._describe(
                "ssm",
                params.region,
                "get_command_invocation",
                CommandId=command_id,
                InstanceId=params.instance_id,
            )
        except AwsResourceNotFound:
            # The invocation appears a moment after send_command returns.
            return Observation(
                False,
                {"command_id": command_id, "status": "Pending"},
                detail="invocation not visible yet",
            )
        status = answer.get("Status", "Pending")
        state = {
            "command_id": command_id,
            "status": status,
            "response_code": answer.get("ResponseCode"),
        }
        detail = f"command {command_id} on {params.instance_id}: {status}"
        return Observation(status == "Success", state, status in TERMINAL_FAILURES, detail)
