"""Outcomes as facts, and learner (a): smoothed fix rates per signature and action."""

from datetime import UTC, datetime, timedelta

import pytest

from pipeline.errors import InvalidInput
from pipeline.learning.outcomes import Outcome, Signature, first_attempts, judge
from pipeline.learning.rates import OutcomeRates

T = datetime(2026, 3, 2, 12, tzinfo=UTC)
DOWN = Signature("InstanceDown", "checkout", "critical", 1)


def outcome(action, fixed, signature=DOWN, n=0):
    return Outcome(f"r{n}", f"i{n}", signature, action, T, resolved=fixed, recurred=False, worsened=False)


def test_a_run_fixed_its_incident_only_if_resolved_in_time_not_back_and_nothing_new():
    at = dict(last_step_at=T, horizon_seconds=600)
    assert judge(**at, resolved_at=T + timedelta(minutes=5), refired_at=None, new_alert_at=None) == (True, False, False)
    assert judge(**at, resolved_at=T + timedelta(minutes=11), refired_at=None, new_alert_at=None)[0] is False
    back = judge(**at, resolved_at=T + timedelta(minutes=5), refired_at=T + timedelta(hours=3), new_alert_at=None)
    assert back == (True, True, False)
    late = judge(**at, resolved_at=T + timedelta(minutes=5), refired_at=T + timedelta(hours=30), new_alert_at=None)
    assert late == (True, False, False)
    worse = judge(**at, resolved_at=T + timedelta(minutes=5), refired_at=None, new_alert_at=T + timedelta(minutes=2))
    assert worse == (True, False, True)
    assert not Outcome("r", "i", DOWN, "ec2_reboot", T, True, False, True).fixed
    with pytest.raises(InvalidInput):
        Outcome("r", "i", DOWN, "ec2_reboot", T, resolved=False, recurred=True, worsened=False)


def test_resolving_counts_from_when_the_run_began_to_act_not_before():
    at = dict(last_step_at=T, horizon_seconds=600, refired_at=None, new_alert_at=None)
    during_verify = T - timedelta(minutes=2)
    assert judge(**at, resolved_at=during_verify)[0] is False  # no start given: from the last step
    assert judge(**at, resolved_at=during_verify, acted_at=T - timedelta(minutes=5))[0] is True
    assert judge(**at, resolved_at=during_verify, acted_at=T - timedelta(minutes=1))[0] is False


def test_the_rate_learns_per_signature_and_explains_itself_with_counts_and_an_interval():
    runs = [outcome("ec2_reboot", i < 9, n=i) for i in range(11)] + [
        outcome("ecs_force_new_deployment", i < 1, n=20 + i) for i in range(4)
    ]
    rates = OutcomeRates.fit(runs, strength=2.0)
    ranked = rates.rank(DOWN, ["ecs_force_new_deployment", "ec2_reboot"])
    assert [e.action for e in ranked] == ["ec2_reboot", "ecs_force_new_deployment"]
    reboot = ranked[0]
    assert (reboot.fixed, reboot.tried) == (9, 11)
    assert reboot.low < reboot.probability < reboot.high
    assert reboot.explain().startswith("ec2_reboot fixed 9 of 11 similar InstanceDown incidents on checkout (")


def test_a_new_service_borrows_from_the_same_alert_elsewhere_and_an_untried_action_is_average():
    runs = [outcome("ec2_reboot", i < 8, n=i) for i in range(10)] + [
        outcome("ssm_run_command", i < 2, n=20 + i) for i in range(10)
    ]
    rates = OutcomeRates.fit(runs, strength=2.0)
    newcomer = Signature("InstanceDown", "billing", "critical", 1)
    reboot = rates.estimate(newcomer, "ec2_reboot")
    assert reboot.probability > 0.6 and reboot.tried == 10
    assert "incidents on any service" in reboot.evidence
    untried = rates.estimate(newcomer, "asg_set_desired_capacity")
    assert untried.tried == 0 and untried.probability == pytest.approx(0.5, abs=0.05)  # 10 of 20 overall
    assert "never tried" in untried.explain()


def test_the_prior_strength_must_be_positive():
    with pytest.raises(InvalidInput):
        OutcomeRates(strength=0)


def test_the_rate_learns_from_each_incidents_first_attempt_only():
    # Incident i1: a redeploy failed, then a reboot fixed it; incident i2: a reboot fixed it first.
    redeploy = Outcome("r1", "i1", DOWN, "redeploy", T, resolved=False, recurred=False, worsened=False)
    second = Outcome("r2", "i1", DOWN, "reboot", T + timedelta(hours=1), resolved=True, recurred=False,
                     worsened=False)
    other = Outcome("r3", "i2", DOWN, "reboot", T + timedelta(minutes=30), resolved=True, recurred=False,
                    worsened=False)
    firsts = first_attempts([second, other, redeploy])
    assert [o.run_id for o in firsts] == ["r1", "r3"]
    rates = OutcomeRates.fit(firsts)
    assert (rates.estimate(DOWN, "reboot").fixed, rates.estimate(DOWN, "reboot").tried) == (1, 1)
