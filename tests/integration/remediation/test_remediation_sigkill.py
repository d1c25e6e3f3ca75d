"""SIGKILL of the worker between execute and verify: the redelivered chain verifies, it never re-sends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from remediation_stack import T0, alert, aws_session

from tests.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def test_a_worker_killed_after_sending_the_command_never_sends_it_twice(start_stack) -> None:
    # Verification settles for 4 s first: the window in which the worker is killed.
    stack = start_stack("execute", SCO_REMEDIATION_VERIFY_SETTLE_S="4")
    instance = stack.estate.search[0]
    stack.post_alerts(alert("HighErrorRate", instance, at=T0 + timedelta(minutes=1)))
    [incident_id] = stack.wait_incident(instance, "HighErrorRate")
    run = stack.wait_run(incident_id, ("running",))
    wait_for(
        lambda: stack.steps(run.id)[0].state == "executed",
        60,
        f"step never executed\n{stack.pipeline.logs()}",
    )

    stack.worker.kill_hard()
    assert stack.steps(run.id)[0].state == "executed"  # killed mid-verify: nothing recorded it
    stack.pipeline.start_worker("--queues", "events,risk,remediation", "--concurrency", "2")
    finished = stack.wait_run(incident_id, ("succeeded", "failed"), timeout=90)

    assert finished.state == "succeeded", finished.reason
    [step] = stack.steps(run.id)
    ssm = aws_session().client("ssm", endpoint_url=stack.pipeline.env["SCO_AWS_ENDPOINT_URL"])
    sent = [
        c
        for c in ssm.list_commands(InstanceId=instance)["Commands"]
        if c["Comment"] == f"SmartCloudOps step {step.idempotency_key}"
    ]
    assert len(sent) == 1
    assert step.observed["observed_state"]["command_id"] == sent[0]["CommandId"]
    assert stack.kinds(incident_id).count("remediation.step_executed") == 1
