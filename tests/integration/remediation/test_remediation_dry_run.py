"""The default mode, dry run: the exact call is recorded and nothing that changes state is called.
Also the kill switch, which stops every step until it is released."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from remediation_stack import T0, alert, aws_session

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def instance_state(stack, instance_id: str) -> str:
    ec2 = aws_session().client("ec2", endpoint_url=stack.pipeline.env["SCO_AWS_ENDPOINT_URL"])
    [reservation] = ec2.describe_instances(InstanceIds=[instance_id])["Reservations"]
    return reservation["Instances"][0]["State"]["Name"]


def test_dry_run_records_the_exact_call_and_leaves_the_instance_as_it_was(dry_run_stack) -> None:
    stack, stopped = dry_run_stack, dry_run_stack.estate.stopped
    assert instance_state(stack, stopped) == "stopped"

    stack.post_alerts(alert("InstanceStopped", stopped, at=at(1)))
    [incident_id] = stack.wait_incident(stopped, "InstanceStopped")
    run = stack.wait_run(incident_id, ("succeeded", "failed"))

    assert (run.state, run.mode) == ("succeeded", "dry_run"), run.reason
    [step] = stack.steps(run.id)
    assert step.result == {
        "called": "ec2:StartInstances",
        "request": {"InstanceIds": [stopped]},
        "response_summary": {"before": {"state": "stopped"}},
        "dry_run": True,
    }
    [dry] = [row for row in stack.audit(incident_id) if row["kind"] == "remediation.step_dry_run"]
    assert (dry["data"]["called"], dry["data"]["request"], dry["data"]["mode"]) == (
        "ec2:StartInstances",
        {"InstanceIds": [stopped]},
        "dry_run",
    )
    assert "remediation.step_executed" not in stack.kinds(incident_id)
    assert instance_state(stack, stopped) == "stopped"  # StartInstances was never sent


def test_the_kill_switch_refuses_every_step_until_released_and_is_audited(dry_run_stack) -> None:
    stack, instance = dry_run_stack, dry_run_stack.estate.search[1]
    engaged = stack.api.post(
        "/v1/killswitch",
        json={"engaged": True, "reason": "bad deploy, hands off"},
    )
    assert engaged.status_code == 202
    stack.wait_audit("remediation.kill_switch", count=1)

    stack.post_alerts(alert("InstanceDown", instance, at=at(2)))
    [incident_id] = stack.wait_incident(instance, "InstanceDown")
    stopped_run = stack.wait_run(incident_id, ("failed", "succeeded"))
    assert stopped_run.state == "failed"
    assert "kill_switch" in stopped_run.reason
    assert [s.state for s in stack.steps(stopped_run.id)] == ["refused"]

    released = stack.api.post(
        "/v1/killswitch", json={"engaged": False, "reason": "fixed"}
    )
    assert released.status_code == 202
    stack.wait_audit("remediation.kill_switch", count=2)
    stack.post_alerts(alert("InstanceDown", instance, at=at(3)))
    later = stack.wait_incident(instance, "InstanceDown", count=2)[-1]
    assert stack.wait_run(later, ("failed", "succeeded")).state == "succeeded"

    switches = [row for row in stack.audit() if row["kind"] == "remediation.kill_switch"]
    assert [(r["actor"], r["data"]["engaged"], r["data"]["reason"]) for r in switches] == [
        ("U01ADMIN001", True, "bad deploy, hands off"),
        ("U01ADMIN001", False, "fixed"),
    ]


def test_the_kill_switch_actor_is_the_caller_and_engaged_a_boolean(dry_run_stack) -> None:
    spoofed = dry_run_stack.api.post("/v1/killswitch", json={"engaged": True, "actor": "someone-else"})
    assert spoofed.status_code == 400
    text = dry_run_stack.api.post("/v1/killswitch", json={"engaged": "yes"})
    assert (text.status_code, text.json()["error"]) == (422, "engaged must be true or false")


def test_a_dry_run_without_aws_credentials_finishes(start_stack, tmp_path) -> None:
    """Issue 13 #2: verify after a dry run dead-lettered with NoCredentialsError; the run stayed running."""
    stack = start_stack(
        "dry_run",
        AWS_ACCESS_KEY_ID="",
        AWS_SECRET_ACCESS_KEY="",
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none"),
        AWS_CONFIG_FILE=str(tmp_path / "none"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    stopped = stack.estate.stopped
    stack.post_alerts(alert("InstanceStopped", stopped, at=at(1)))
    [incident_id] = stack.wait_incident(stopped, "InstanceStopped")
    run = stack.wait_run(incident_id, ("succeeded", "failed"))

    assert (run.state, run.mode) == ("succeeded", "dry_run"), run.reason
    [step] = stack.steps(run.id)
    assert step.observed["ok"] is True and "no AWS credentials" in step.observed["detail"]
    assert "message.dead_lettered" not in stack.kinds()
