"""The learned factor: recorded outcomes of the planned action weigh in, and can only raise the bar."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from pipeline.policy import Decision, Policy
from pipeline.risk import IncidentFacts, LearnedFix, TargetHistory, assess

NOW = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
POLICY = Policy.model_validate({
    "approvals": {"roles": ["sre-oncall"]},
    "actions": {"ec2_reboot": {}},
    "risk": {"thresholds": {"auto_below": 40, "notify_at": 80}},
})
FACTS = IncidentFacts(incident_id="1", service="search", alertname="InstanceDown", severity="warning",
                      service_tier=2, fleet_size=10, targets=("i-0000000000000aaa1",))


def learned(probability: float, tried: int = 11) -> LearnedFix:
    return LearnedFix("ec2_reboot", probability, tried,
                      f"ec2_reboot fixed 9 of {tried} similar InstanceDown incidents on search")


def test_the_factor_is_one_minus_the_fix_rate_with_its_weight_and_explanation() -> None:
    result = assess(replace(FACTS, learned=learned(0.2)), TargetHistory(), POLICY, NOW)
    factor = next(f for f in result.factors if f.name == "learned_failure")
    assert math.isclose(factor.value, 0.8)
    assert factor.explanation.startswith("ec2_reboot fixed 9 of 11")
    assert math.isclose(sum(f.weight for f in result.factors), 1.0)
    assert math.isclose(sum(f.contribution for f in result.factors), result.score)


def test_no_factor_until_something_was_tried_and_the_score_is_then_unchanged() -> None:
    plain = assess(FACTS, TargetHistory(), POLICY, NOW)
    untried = assess(replace(FACTS, learned=learned(0.9, tried=0)), TargetHistory(), POLICY, NOW)
    assert "learned_failure" not in [f.name for f in untried.factors]
    assert untried.score == plain.score and untried.decision == plain.decision


def test_a_poor_track_record_raises_the_decision() -> None:
    tier_one = replace(FACTS, service_tier=1)  # 34.5 without learning: just under auto_below
    plain = assess(tier_one, TargetHistory(), POLICY, NOW)
    poor = assess(replace(tier_one, learned=learned(0.0)), TargetHistory(), POLICY, NOW)
    assert poor.score > plain.score
    assert plain.decision == Decision.AUTO and poor.decision == Decision.NEEDS_APPROVAL


@given(st.floats(0, 1), st.sampled_from(["info", "warning", "error", "critical"]), st.integers(1, 3))
def test_a_good_track_record_never_lowers_the_decision_below_the_one_without_it(p, severity, tier) -> None:
    facts = replace(FACTS, severity=severity, service_tier=tier)
    without = assess(facts, TargetHistory(), POLICY, NOW)
    with_learning = assess(replace(facts, learned=learned(p)), TargetHistory(), POLICY, NOW)
    assert with_learning.decision.strictness >= without.decision.strictness


def test_a_perfect_record_lowers_the_score_but_not_the_decision() -> None:
    critical = replace(FACTS, severity="critical")  # 40.9 without learning: needs approval
    perfect = assess(replace(critical, learned=learned(1.0)), TargetHistory(), POLICY, NOW)
    assert perfect.score < 40 and perfect.decision == Decision.NEEDS_APPROVAL
