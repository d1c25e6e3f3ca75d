"""Advice ranks only what the policy enables and the service can take, and says nothing without a record."""

from __future__ import annotations

from datetime import UTC, datetime

from pipeline.catalog import Catalog
from pipeline.learning.advice import advise, possible_actions
from pipeline.learning.outcomes import Outcome, Signature
from pipeline.learning.rates import OutcomeRates
from pipeline.policy import Policy

T = datetime(2026, 3, 2, 12, tzinfo=UTC)
CATALOG = Catalog.model_validate({"services": [
    {"name": "checkout", "tier": 1, "systemd_units": ["checkout-api.service"],
     "aws": {"region": "eu-west-1", "instance_ids": ["i-0123456789abcdef0"],
             "ecs": {"cluster": "prod", "service": "checkout"}}},
    {"name": "docs", "tier": 3},
]})
POLICY = Policy.model_validate({
    "approvals": {"roles": ["sre-oncall"]},
    "actions": {"ec2_reboot": {}, "ecs_force_new_deployment": {}, "rds_reboot": {},
                "ssm_run_command": {"enabled": False, "documents": [{"name": "SmartCloudOps-RestartSystemdUnit", "unit_parameter": "unit"}]}},
})
DOWN = Signature("InstanceDown", "checkout", "critical", 1)


def runs(action, fixed, tried):
    return [Outcome(f"{action}{i}", f"i{i}", DOWN, action, T, resolved=i < fixed, recurred=False, worsened=False)
            for i in range(tried)]


def test_possible_actions_are_enabled_and_have_something_to_act_on():
    assert possible_actions(CATALOG.service("checkout"), POLICY) == ("ec2_reboot", "ecs_force_new_deployment")
    assert possible_actions(CATALOG.service("docs"), POLICY) == ()


def test_the_record_ranks_and_explains_and_no_record_says_nothing():
    actions = possible_actions(CATALOG.service("checkout"), POLICY)
    assert advise(OutcomeRates(), DOWN, actions) == []
    rates = OutcomeRates.fit(runs("ec2_reboot", 9, 11) + runs("ecs_force_new_deployment", 1, 4))
    ranked = advise(rates, DOWN, actions)
    assert [e.action for e in ranked] == ["ec2_reboot", "ecs_force_new_deployment"]
    assert ranked[0].explain().startswith("ec2_reboot fixed 9 of 11 similar InstanceDown incidents on checkout")
    assert ranked[1].explain().startswith("ecs_force_new_deployment fixed 1 of 4")


# -- the classifier (learner b) reorders the same actions, and never adds one -----------------

import math  # noqa: E402

import numpy as np  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pipeline.learning.advice import advise_by_classifier  # noqa: E402
from pipeline.learning.classifier import OutcomeClassifier  # noqa: E402
from pipeline.learning.features import SERIES_KINDS, FeatureSpace, IncidentContext  # noqa: E402
from pipeline.policy import ActionName  # noqa: E402

EVERY_ACTION = tuple(sorted(a.value for a in ActionName))
FULL_SERVICE = Catalog.model_validate({"services": [
    {"name": "checkout", "tier": 1, "systemd_units": ["checkout-api.service"],
     "aws": {"region": "eu-west-1", "instance_ids": ["i-0123456789abcdef0"],
             "autoscaling_group": {"name": "asg", "min_size": 1, "max_size": 4, "desired_capacity": 2},
             "ecs": {"cluster": "prod", "service": "checkout"}, "rds_instance_id": "db"}},
]}).service("checkout")
CONTEXT = IncidentContext("42", T, DOWN, anomaly={"cpu": 0.9})


def fake_classifier(chances: dict[str, float], calls: list[int]) -> OutcomeClassifier:
    """A classifier that knows every action and gives each the chance in `chances` (NaN allowed)."""
    space = FeatureSpace(("InstanceDown",), EVERY_ACTION)
    first = len(SERIES_KINDS) + 5 + len(space.alertnames)

    def score(rows: np.ndarray) -> np.ndarray:
        calls.append(len(rows))
        return np.array([chances[EVERY_ACTION[int(np.argmax(row[first:first + len(EVERY_ACTION)]))]]
                         for row in rows])

    return OutcomeClassifier(space, None, score)


def policy_enabling(enabled: set[str]) -> Policy:
    documents = [{"name": "SmartCloudOps-RestartSystemdUnit", "unit_parameter": "unit"}]
    return Policy.model_validate({
        "approvals": {"roles": ["sre-oncall"]},
        "actions": {a: {"enabled": a in enabled, **({"documents": documents} if a == "ssm_run_command" else {})}
                    for a in EVERY_ACTION},
    })


@given(st.sets(st.sampled_from(EVERY_ACTION)),
       st.lists(st.one_of(st.floats(0, 1), st.just(math.nan)), min_size=len(EVERY_ACTION),
                max_size=len(EVERY_ACTION)))
def test_the_classifier_orders_only_the_actions_the_policy_enables_in_one_scoring_call(enabled, chances):
    """Learner (b) knows every action; whatever it scores, the advice holds exactly the actions the
    policy enables and the service can take (never one more), explained by the rates."""
    chance = dict(zip(EVERY_ACTION, chances))
    calls: list[int] = []
    allowed = possible_actions(FULL_SERVICE, policy_enabling(enabled))
    rates = OutcomeRates.fit(runs("ec2_reboot", 1, 3))
    advised = advise_by_classifier(rates, fake_classifier(chance, calls), CONTEXT, allowed)

    by_rates = [e.action for e in advise(rates, DOWN, allowed)]
    assert sorted(e.action for e, _ in advised) == sorted(by_rates)
    assert set(by_rates) <= set(allowed) <= enabled
    assert calls == ([len(by_rates)] if by_rates else [])  # one scoring call for the whole ranking
    scored = [p for _, p in advised if p is not None]
    assert scored == sorted(scored, reverse=True)  # the classifier's order, NaN last
    assert all(p is None for _, p in advised[len(scored):])
    assert all(e.explain().startswith(e.action) for e, _ in advised)


def test_without_a_record_the_classifier_has_nothing_to_reorder():
    calls: list[int] = []
    advised = advise_by_classifier(OutcomeRates(), fake_classifier(dict.fromkeys(EVERY_ACTION, 0.9), calls),
                                   CONTEXT, possible_actions(FULL_SERVICE, POLICY))
    assert advised == [] and calls == []


def test_an_action_the_classifier_never_saw_follows_in_the_rates_order():
    space = FeatureSpace(("InstanceDown",), ("ecs_force_new_deployment",))
    classifier = OutcomeClassifier(space, None, lambda rows: np.full(len(rows), 0.1))
    rates = OutcomeRates.fit(runs("ec2_reboot", 9, 11))
    advised = advise_by_classifier(rates, classifier, CONTEXT, ("ec2_reboot", "ecs_force_new_deployment"))
    assert [(e.action, p) for e, p in advised] == [("ecs_force_new_deployment", 0.1), ("ec2_reboot", None)]
