"""Remediation acting for real on moto's EC2 and SSM over HTTP, through a real worker process.

Each test acts on targets (or, for the breaker, an action type) of its own, and its alerts
start at times of their own, so the tests share one stack without meeting.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from remediation_stack import APPROVER, GHOSTS, T0, VIEWER, alert, as_user, aws_session

from pipeline.events import envelope, new_trace_id

pytestmark = [pytest.mark.integration, pytest.mark.e2e]


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_instance_down_reboots_the_instance_verifies_it_and_closes_the_run(execute_stack) -> None:
    stack, instance = execute_stack, execute_stack.estate.search[0]

    stack.post_alerts(alert("InstanceDown", instance, at=at(1)))
    [incident_id] = stack.wait_incident(instance, "InstanceDown")
    run = stack.wait_run(incident_id, ("succeeded", "failed"))

    assert run.state == "succeeded", run.reason
    assert (run.mode, run.decision, run.rule, run.flagged) == (
        "execute",
        "auto",
        "reboot-unreachable",
        False,
    )
    [step] = stack.steps(run.id)
    assert (step.action, step.target, step.state) == ("ec2_reboot", f"ec2:{instance}", "succeeded")
    assert (step.result["called"], step.result["request"]) == (
        "ec2:RebootInstances",
        {"InstanceIds": [instance]},
    )
    assert step.result["dry_run"] is False
    assert step.observed["ok"] is True
    assert step.observed["observed_state"] == {
        "state": "running",
        "instance_status": "ok",
        "system_status": "ok",
    }
    kinds = stack.kinds(incident_id)
    assert kinds[kinds.index("risk.assessed") :] == [
        "risk.assessed",
        "remediation.planned",
        "remediation.guard_allowed",
        "remediation.step_executing",
        "remediation.step_executed",
        "remediation.step_verified",
        "remediation.step_succeeded",
        "remediation.run_succeeded",
        "remediation.breaker",
    ]


def test_the_incident_page_shows_risk_factors_plan_steps_and_approvals(execute_stack) -> None:
    stack, instance = execute_stack, execute_stack.estate.search[1]
    stack.post_alerts(alert("InstanceDown", instance, at=at(2), severity="warning"))
    [incident_id] = stack.wait_incident(instance, "InstanceDown")
    stack.wait_run(incident_id, ("succeeded",))

    page = stack.get_incident(incident_id)

    [risk] = page["risk"]
    factors = {f["name"]: f for f in risk["factors"]}
    assert set(factors) == {
        "severity",
        "tier",
        "blast_radius",
        "flapping",
        "recent_failures",
        "change_freeze",
    }
    assert (factors["severity"]["value"], factors["tier"]["value"]) == (0.5, 0.3)  # warning, tier 3
    assert risk["score"] == pytest.approx(sum(f["contribution"] for f in risk["factors"]), abs=0.05)
    assert risk["decision"] == "auto"
    [run] = page["remediation"]
    assert (run["state"], run["mode"]) == ("succeeded", "execute")
    assert [s["action"] for s in run["plan"]["steps"]] == ["ec2_reboot"]
    assert [(s["index"], s["state"], s["target"]) for s in run["steps"]] == [
        (0, "succeeded", f"ec2:{instance}")
    ]
    assert run["approvals"] == []
    assert "remediation.step_verified" in [row["kind"] for row in page["timeline"]]


def test_a_plan_needing_approval_waits_refuses_a_viewer_and_runs_once_an_approver_approves(
    execute_stack,
) -> None:
    stack, instance = execute_stack, execute_stack.estate.search[3]
    stack.post_alerts(alert("DiskFull", instance, at=at(3)))
    [incident_id] = stack.wait_incident(instance, "DiskFull")
    waiting = stack.wait_run(incident_id, ("awaiting_approval",))
    assert [s.state for s in stack.steps(waiting.id)] == ["pending"]
    assert waiting.approval_deadline is not None

    refused = stack.api.post(
        f"/v1/incidents/{incident_id}/approve", json={"reason": "go"}, headers=as_user(VIEWER)
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == f"{VIEWER} may not approve"
    spoofed = stack.api.post(  # an approver cannot approve in someone else's name either
        f"/v1/incidents/{incident_id}/approve", json={"approver": "U01ADMIN001", "reason": "go"},
        headers=as_user(APPROVER),
    )
    assert spoofed.status_code == 400

    accepted = stack.api.post(
        f"/v1/incidents/{incident_id}/approve",
        json={"reason": "disk cleaned, reboot to release handles"},
        headers=as_user(APPROVER),
    )
    assert accepted.status_code == 202
    run = stack.wait_run(incident_id, ("succeeded", "failed"))

    assert run.state == "succeeded", run.reason
    assert [s.state for s in stack.steps(run.id)] == ["succeeded"]
    [approval] = stack.get_incident(incident_id)["remediation"][0]["approvals"]
    assert (approval["decision"], approval["actor"], approval["role"]) == (
        "approved",
        APPROVER,
        "approver",
    )
    assert approval["reason"] == "disk cleaned, reboot to release handles"
    [approved] = [row for row in stack.audit(incident_id) if row["kind"] == "remediation.approved"]
    assert approved["actor"] == APPROVER


def test_a_denied_plan_ends_without_acting(execute_stack) -> None:
    stack, instance = execute_stack, execute_stack.estate.search[3]
    stack.post_alerts(alert("DiskFull", instance, at=at(4)))
    incident_id = stack.wait_incident(instance, "DiskFull", count=2)[-1]
    stack.wait_run(incident_id, ("awaiting_approval",))

    answer = stack.api.post(
        f"/v1/incidents/{incident_id}/deny", json={"reason": "not now"}, headers=as_user(APPROVER)
    )
    assert answer.status_code == 202
    run = stack.wait_run(incident_id, ("denied",))

    assert run.reason == f"denied by {APPROVER}: not now"
    assert [s.state for s in stack.steps(run.id)] == ["pending"]
    kinds = stack.kinds(incident_id)
    assert "remediation.denied" in kinds
    assert not any(
        k.startswith("remediation.step_") or k == "remediation.guard_allowed" for k in kinds
    )


def test_shell_metacharacters_and_foreign_instances_are_refused_and_audited(execute_stack) -> None:
    stack = execute_stack
    hostile, foreign = "i-0abc1234;reboot", stack.estate.foreign
    stack.post_alerts(
        alert("InstanceDown", hostile, at=at(5)), alert("InstanceDown", foreign, at=at(6))
    )
    [hostile_incident] = stack.wait_incident(hostile, "InstanceDown")
    [foreign_incident] = stack.wait_incident(foreign, "InstanceDown")
    request = envelope(
        "dev.smartcloudops.remediation.requested",
        "urn:test",
        {
            "request_id": uuid.uuid4().hex,
            "service": "search",
            "action": "reboot",
            "requested_by": "U03BOB00003",
            "instance": "i-0b1b2c3d$(shutdown)",
        },
        event_id=str(uuid.uuid4()),
        trace_id=new_trace_id(),
        now=datetime.now(UTC),
    )
    stack.publisher.publish("remediation.request", request)
    stack.wait_audit("remediation.refused", count=3)

    refusals = [row for row in stack.audit() if row["kind"] == "remediation.refused"]
    by_incident = {row["incident_id"]: row["data"] for row in refusals}
    assert by_incident[hostile_incident]["reason_code"] == "invalid_parameter"
    assert by_incident[foreign_incident]["reason_code"] == "foreign_instance"
    asked = by_incident[None]
    assert (asked["reason_code"], asked["request"]["instance"]) == (
        "invalid_parameter",
        "i-0b1b2c3d$(shutdown)",
    )
    assert stack.runs(hostile_incident) == [] and stack.runs(foreign_incident) == []
    for incident_id in (hostile_incident, foreign_incident):
        assert stack.get_incident(incident_id)["flagged"] is True
    assert json.dumps(asked["request"]).count("shutdown") == 1  # recorded as data, never as a call


def test_three_failures_open_the_breaker_and_the_next_step_is_refused(execute_stack) -> None:
    stack = execute_stack
    # ec2_start is this test's own action type: the instances vanished, so every start fails.
    stack.post_alerts(
        *(
            alert("InstanceStopped", ghost, service="ghost", at=at(10 + i))
            for i, ghost in enumerate(GHOSTS)
        )
    )
    for ghost in GHOSTS:
        [incident_id] = stack.wait_incident(ghost, "InstanceStopped")
        failed = stack.wait_run(incident_id, ("failed",))
        assert "InvalidInstanceID.NotFound" in failed.reason
        assert failed.flagged is True
    stack.wait_audit("remediation.breaker", count=1)
    breakers = [
        row["data"]
        for row in stack.audit()
        if row["kind"] == "remediation.breaker" and row["data"]["action"] == "ec2_start"
    ]
    assert [b["consecutive_failures"] for b in breakers] == [1, 2, 3]
    assert breakers[-1]["phase"] == "open"

    stopped = stack.estate.stopped
    stack.post_alerts(alert("InstanceStopped", stopped, at=at(20)))
    [incident_id] = stack.wait_incident(stopped, "InstanceStopped")
    run = stack.wait_run(incident_id, ("failed",))

    assert "circuit_open" in run.reason
    assert [s.state for s in stack.steps(run.id)] == ["refused"]
    ec2 = aws_session().client("ec2", endpoint_url=stack.pipeline.env["SCO_AWS_ENDPOINT_URL"])
    [reservation] = ec2.describe_instances(InstanceIds=[stopped])["Reservations"]
    assert reservation["Instances"][0]["State"]["Name"] == "stopped"


def test_a_storm_of_200_alerts_acts_only_as_often_as_the_rate_limit_allows(execute_stack) -> None:
    stack, instance = execute_stack, execute_stack.estate.search[2]
    # 200 alerts in 20 bursts two seconds apart: 20 incidents on one instance (correlation window 1 s).
    storm = [
        alert(
            "InstanceDown",
            instance,
            at=at(30) + timedelta(seconds=2 * burst),
            fingerprint=f"storm{burst:02d}{n:02d}",
        )
        for burst in range(20)
        for n in range(10)
    ]
    stack.post_alerts(*storm)
    incidents = stack.wait_incident(instance, "InstanceDown", count=20)
    assert len(incidents) == 20
    runs = [
        stack.wait_run(incident_id, ("succeeded", "failed"), timeout=120)
        for incident_id in incidents
    ]

    acted = [run for run in runs if run.state == "succeeded"]
    refused = [run for run in runs if run.state == "failed"]
    assert len(acted) == 2  # rate_limit_max: 2 per hour on one target
    assert len(refused) == 18
    assert all("rate_limited" in run.reason for run in refused)
    executed = [
        row
        for row in stack.audit()
        if row["kind"] == "remediation.step_executed" and row["data"]["target"] == f"ec2:{instance}"
    ]
    assert len(executed) == 2
