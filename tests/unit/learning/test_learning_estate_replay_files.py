"""The estate replay's operator files are valid, and each action the on-call may try has its one rule."""

from __future__ import annotations

import yaml

from benchmarks import estate_replay, estate_sim
from config.policy import load_remediation_config
from pipeline.learning.advice import possible_actions


def test_every_simulated_action_is_planned_by_the_rule_its_label_names(tmp_path) -> None:
    (tmp_path / "catalog.yaml").write_text(yaml.safe_dump(estate_replay.catalog()))
    (tmp_path / "policies.yaml").write_text(yaml.safe_dump(estate_replay.policy()))
    catalog, policy = load_remediation_config(tmp_path / "catalog.yaml", tmp_path / "policies.yaml")
    for simulated in estate_sim.SERVICES:
        service = catalog.service(simulated.name)
        allowed = [a for a in estate_sim.ACTIONS if a != estate_sim.DB_REBOOT or simulated.has_database]
        assert sorted(possible_actions(service, policy)) == sorted(allowed)
        for action in allowed:
            rule = policy.rule_for("HighLatency", {"replay_action": action}, service.name)
            assert [spec.action.value for spec in rule.actions] == [action]
    assert policy.rule_for("HighLatency", {}, "checkout") is None  # nothing runs unasked
