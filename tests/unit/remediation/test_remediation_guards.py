"""Guards with a fake clock: rate limit, cooldown, breaker, kill switch, freeze, approval."""

from __future__ import annotations

import pytest
from remediation_support import SEARCH_INSTANCES, FakeClock, make_policy

from pipeline.policy import Decision, GuardLimits
from pipeline.remediation import GuardRequest, InMemoryGuardStore, RemediationPlan, guard_step, plan
from pipeline.remediation.guards import BreakerPhase
from pipeline.risk import IncidentFacts, RiskAssessment

LIMITS = GuardLimits(
    rate_limit_max=3,
    rate_limit_window_s=3600,
    cooldown_s=300,
    breaker_failure_threshold=3,
    breaker_cooldown_s=900,
)


def _ask(
    store: InMemoryGuardStore,
    clock,
    key: str,
    target: str = "ec2:i-0b1b2c3d4e5f60011",
    action="ec2_reboot",
):
    return store.check_and_reserve(GuardRequest(key, action, target), LIMITS, clock.now)


def test_first_action_on_a_target_is_allowed(store, clock) -> None:
    decision = _ask(store, clock, "k1")
    assert (decision.allowed, decision.reason_code) == (True, "allowed")


def test_cooldown_refuses_a_second_action_too_soon_and_says_when(store, clock) -> None:
    _ask(store, clock, "k1")
    clock.advance(120)
    decision = _ask(store, clock, "k2")
    assert (decision.allowed, decision.reason_code, decision.retry_after_s) == (
        False,
        "cooldown",
        180.0,
    )
    clock.advance(180)
    assert _ask(store, clock, "k3").allowed


def test_rate_limit_allows_n_per_window_per_target(store, clock) -> None:
    for n in range(3):
        assert _ask(store, clock, f"k{n}").allowed
        clock.advance(300)
    refused = _ask(store, clock, "k3")
    assert refused.reason_code == "rate_limited"
    assert refused.retry_after_s == 3600 - 900.0
    assert _ask(store, clock, "other", target="ec2:i-0b1b2c3d4e5f60012").allowed
    clock.advance(2700)
    assert _ask(store, clock, "k4").allowed


def test_a_storm_of_requests_acts_at_most_the_rate_limit(store, clock) -> None:
    allowed = 0
    for n in range(200):
        allowed += _ask(store, clock, f"alert-{n}").allowed
        clock.advance(5)  # 200 alerts in under 17 minutes
    assert allowed == 3


def test_asking_again_with_the_same_key_is_not_counted_twice(store, clock) -> None:
    _ask(store, clock, "k1")
    again = _ask(store, clock, "k1")
    assert (again.allowed, again.reason_code) == (True, "already_reserved")
    clock.advance(300)
    assert _ask(store, clock, "k2").allowed  # the repeat did not restart the cooldown


def test_breaker_opens_after_consecutive_failures_and_refuses_its_action(store, clock) -> None:
    for _ in range(2):
        assert (
            store.record_outcome("ec2_reboot", False, LIMITS, clock.now).phase
            is BreakerPhase.CLOSED
        )
    snapshot = store.record_outcome("ec2_reboot", False, LIMITS, clock.now)
    assert (snapshot.phase, snapshot.consecutive_failures) == (BreakerPhase.OPEN, 3)

    refused = _ask(store, clock, "k1")
    assert (refused.reason_code, refused.retry_after_s) == ("circuit_open", 900.0)
    assert _ask(
        store, clock, "k2", target="ecs:eu-west-1:prod/payments", action="ecs_force_new_deployment"
    ).allowed


def test_a_success_resets_the_failure_count(store, clock) -> None:
    store.record_outcome("ec2_reboot", False, LIMITS, clock.now)
    store.record_outcome("ec2_reboot", False, LIMITS, clock.now)
    store.record_outcome("ec2_reboot", True, LIMITS, clock.now)
    snapshot = store.record_outcome("ec2_reboot", False, LIMITS, clock.now)
    assert (snapshot.phase, snapshot.consecutive_failures) == (BreakerPhase.CLOSED, 1)


def _open_breaker(store, clock) -> None:
    for _ in range(3):
        store.record_outcome("ec2_reboot", False, LIMITS, clock.now)


def test_half_open_breaker_lets_exactly_one_trial_through(store, clock) -> None:
    _open_breaker(store, clock)
    clock.advance(900)
    assert store.breaker("ec2_reboot", LIMITS, clock.now).phase is BreakerPhase.HALF_OPEN
    assert _ask(store, clock, "trial").allowed
    second = _ask(store, clock, "other", target="ec2:i-0b1b2c3d4e5f60012")
    assert (second.allowed, second.reason_code) == (False, "circuit_half_open_trial_in_flight")


def test_successful_trial_closes_the_breaker(store, clock) -> None:
    _open_breaker(store, clock)
    clock.advance(900)
    _ask(store, clock, "trial")
    assert store.record_outcome("ec2_reboot", True, LIMITS, clock.now).phase is BreakerPhase.CLOSED
    assert _ask(store, clock, "next", target="ec2:i-0b1b2c3d4e5f60012").allowed


def test_failed_trial_opens_the_breaker_for_another_cool_down(store, clock) -> None:
    _open_breaker(store, clock)
    clock.advance(900)
    _ask(store, clock, "trial")
    assert store.record_outcome("ec2_reboot", False, LIMITS, clock.now).phase is BreakerPhase.OPEN
    refused = _ask(store, clock, "next", target="ec2:i-0b1b2c3d4e5f60012")
    assert (refused.reason_code, refused.retry_after_s) == ("circuit_open", 900.0)


def test_kill_switch_refuses_everything_until_released(store, clock) -> None:
    store.set_kill_switch(True)
    assert store.kill_switch_engaged()
    assert _ask(store, clock, "k1").reason_code == "kill_switch"
    store.set_kill_switch(False)
    assert _ask(store, clock, "k1").allowed


def test_kill_switch_also_stops_a_step_that_passed_its_guards_before(store, clock) -> None:
    _ask(store, clock, "k1")
    store.set_kill_switch(True)
    assert _ask(store, clock, "k1").reason_code == "kill_switch"


# ------------------------------------------------------------ guard_step over a plan


def _plan(catalog, policy, decision=Decision.AUTO, incident_id="7") -> RemediationPlan:
    facts = IncidentFacts.from_catalog(
        catalog,
        incident_id=incident_id,
        service="search",
        alertname="InstanceDown",
        labels={"severity": "warning"},
        targets=(SEARCH_INSTANCES[0],),
    )
    return plan(
        facts, RiskAssessment("7", 1.0, (), decision, None, FakeClock().now), catalog, policy
    )


def test_guard_step_reserves_an_auto_plan_step(catalog, policy, store, clock) -> None:
    built = _plan(catalog, policy)
    decision = guard_step(
        store, built, built.steps[0], catalog, policy, approved=False, now=clock.now
    )
    assert decision.allowed
    assert _ask(store, clock, "another", target=built.steps[0].target).reason_code == "cooldown"


@pytest.mark.parametrize(
    ("decision", "approved", "reason"),
    [
        (Decision.NEEDS_APPROVAL, False, "approval_required"),
        (Decision.NOTIFY_ONLY, True, "notify_only"),
    ],
)
def test_guard_step_enforces_the_plan_decision(
    catalog, policy, store, clock, decision, approved, reason
) -> None:
    built = _plan(catalog, policy, decision)
    verdict = guard_step(
        store, built, built.steps[0], catalog, policy, approved=approved, now=clock.now
    )
    assert (verdict.allowed, verdict.reason_code) == (False, reason)


def test_approved_plan_passes_the_approval_guard(catalog, policy, store, clock) -> None:
    built = _plan(catalog, policy, Decision.NEEDS_APPROVAL)
    assert guard_step(
        store, built, built.steps[0], catalog, policy, approved=True, now=clock.now
    ).allowed


FREEZE = {
    "windows": [
        {"name": "wed-morning", "kind": "weekly", "days": ["wed"], "start": "09:00", "end": "12:00"}
    ]
}


def test_freeze_refuses_unapproved_steps_and_lets_approved_ones_through(
    catalog, store, clock
) -> None:
    policy = make_policy(change_freeze=FREEZE)  # the fake clock starts on Wednesday 10:00 UTC
    built = _plan(catalog, policy)
    refused = guard_step(
        store, built, built.steps[0], catalog, policy, approved=False, now=clock.now
    )
    assert (refused.allowed, refused.reason_code) == (False, "change_freeze")
    assert "wed-morning" in refused.detail
    assert guard_step(
        store, built, built.steps[0], catalog, policy, approved=True, now=clock.now
    ).allowed


def test_notify_only_freeze_refuses_even_approved_steps(catalog, store, clock) -> None:
    policy = make_policy(change_freeze={**FREEZE, "decision": "notify_only"})
    built = _plan(catalog, policy)
    verdict = guard_step(
        store, built, built.steps[0], catalog, policy, approved=True, now=clock.now
    )
    assert verdict.reason_code == "change_freeze"


def test_outside_the_freeze_window_steps_run(catalog, store, clock) -> None:
    policy = make_policy(change_freeze=FREEZE)
    built = _plan(catalog, policy)
    clock.advance(2 * 3600)
    assert guard_step(
        store, built, built.steps[0], catalog, policy, approved=False, now=clock.now
    ).allowed


def test_per_action_limits_override_the_defaults(catalog, store, clock) -> None:
    policy = make_policy(
        guards={"cooldown_s": 10, "per_action": {"ec2_reboot": {"cooldown_s": 7200}}}
    )
    assert policy.guards.for_action("ec2_reboot").cooldown_s == 7200
    assert policy.guards.for_action("ec2_start").cooldown_s == 10
    first, second = _plan(catalog, policy, incident_id="7"), _plan(catalog, policy, incident_id="8")
    assert guard_step(
        store, first, first.steps[0], catalog, policy, approved=False, now=clock.now
    ).allowed
    clock.advance(3600)
    refused = guard_step(
        store, second, second.steps[0], catalog, policy, approved=False, now=clock.now
    )
    assert (refused.reason_code, refused.retry_after_s) == ("cooldown", 3600.0)
