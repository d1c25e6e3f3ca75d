"""Verification polls until healthy, failed or out of time, on a fake clock without a network."""

from __future__ import annotations

from typing import Any

import pytest

from adapters.aws import AwsClients, Retrier
from adapters.aws.base import ActionResult, AwsAction, Call, Observation
from pipeline.policy import ActionName
from pipeline.remediation.params import Ec2RebootParams

PARAMS = Ec2RebootParams(service="search", region="eu-west-1", instance_id="i-0123456789abcdef0")
EXECUTED = ActionResult("ec2:RebootInstances", {}, {}, dry_run=False)


class _Clock:
    def __init__(self) -> None:
        self.t = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds


class _Scripted(AwsAction):
    """An action whose observations are scripted, so only the polling logic is under test."""

    action = ActionName.EC2_REBOOT
    params_type = Ec2RebootParams

    def __init__(self, clock: _Clock, observations: list[Observation]) -> None:
        super().__init__(AwsClients(), Retrier(), monotonic=clock.monotonic, sleep=clock.sleep)
        self.observations = observations
        self.looks = 0

    def preflight(self, params: Any) -> dict[str, Any]:
        return {}

    def call_for(self, params: Any, before: dict[str, Any], idempotency_key=None) -> Call:
        return Call("ec2", "reboot_instances", "RebootInstances", {})

    def summarise(self, response: dict[str, Any]) -> dict[str, Any]:
        return {}

    def observe(self, params: Any, executed: ActionResult) -> Observation:
        self.looks += 1
        return self.observations[min(self.looks, len(self.observations)) - 1]


PENDING = Observation(False, {"state": "pending"}, detail="pending")
HEALTHY = Observation(True, {"state": "running"}, detail="running")
BROKEN = Observation(False, {"state": "terminated"}, failed=True, detail="terminated")


def test_polls_until_healthy() -> None:
    clock = _Clock()
    result = _Scripted(clock, [PENDING, PENDING, HEALTHY]).verify(
        PARAMS, EXECUTED, timeout_s=60, poll_s=5
    )
    assert (result.ok, result.polls, result.observed_state) == (True, 3, {"state": "running"})
    assert clock.sleeps == [5, 5]


def test_stops_at_once_on_a_hopeless_state() -> None:
    clock = _Clock()
    result = _Scripted(clock, [PENDING, BROKEN, HEALTHY]).verify(
        PARAMS, EXECUTED, timeout_s=60, poll_s=5
    )
    assert (result.ok, result.polls, result.detail) == (False, 2, "terminated")


def test_times_out_with_the_last_state_seen() -> None:
    clock = _Clock()
    result = _Scripted(clock, [PENDING]).verify(PARAMS, EXECUTED, timeout_s=12, poll_s=5)
    assert not result.ok and result.detail == "timed out after 12s: pending"
    assert result.polls == 3 and clock.t == 10


def test_settle_time_passes_before_the_first_look() -> None:
    clock = _Clock()
    _Scripted(clock, [HEALTHY]).verify(PARAMS, EXECUTED, timeout_s=60, poll_s=5, settle_s=20)
    assert clock.sleeps == [20]


def test_dry_run_is_observed_once_and_never_polled() -> None:
    clock = _Clock()
    action = _Scripted(clock, [PENDING])
    dry = ActionResult("ec2:RebootInstances", {}, {}, dry_run=True)
    result = action.verify(PARAMS, dry, timeout_s=60, poll_s=5, settle_s=20)
    assert result.ok and action.looks == 1 and clock.sleeps == []


def test_idempotency_keys_must_be_hex() -> None:
    from pipeline.errors import InvalidInput

    with pytest.raises(InvalidInput, match="hex"):
        _Scripted(_Clock(), [HEALTHY]).recover(PARAMS, "key; rm -rf /")


def test_an_ec2_reboot_settles_before_its_first_look_by_default() -> None:
    """Issue 13 #7: with a settle of 0 the old "running, status ok" counted as the reboot's recovery."""
    from adapters.aws.ec2 import Ec2Reboot

    clock = _Clock()

    class _Reboot(_Scripted):
        settle_s = Ec2Reboot.settle_s

    _Reboot(clock, [HEALTHY]).verify(PARAMS, EXECUTED, timeout_s=240, poll_s=10)
    assert Ec2Reboot.settle_s > 0 and clock.sleeps == [Ec2Reboot.settle_s]


def test_an_operator_setting_overrides_the_actions_settle() -> None:
    clock = _Clock()
    _Scripted(clock, [HEALTHY]).verify(PARAMS, EXECUTED, timeout_s=60, poll_s=5, settle_s=0)
    assert clock.sleeps == []
