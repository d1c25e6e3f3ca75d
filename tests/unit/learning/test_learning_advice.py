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
