"""The shipped catalog and policy load, and a mistake in either names its file, line and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from config.catalog import DEFAULT_CATALOG_PATH, load_catalog
from config.policy import DEFAULT_POLICY_PATH, load_policy, load_remediation_config
from pipeline.errors import ConfigurationError
from pipeline.policy import Decision

CHAT_CATALOG = Path("/work/shared/data/chat/catalog.yaml")


def test_shipped_catalog_and_policy_load_and_agree() -> None:
    catalog, policy = load_remediation_config()
    assert catalog.service("gateway").name == "api-gateway"
    assert catalog.service_of_instance("i-0a1b2c3d4e5f60001").name == "checkout"
    assert policy.rule_for("InstanceDown", {}, "search").name == "reboot-unreachable-instance"
    assert policy.approvals.timeout_s > 0


def test_shipped_catalog_keeps_the_chat_format_as_a_subset() -> None:
    raw = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text())
    assert {"services", "alerts"} <= set(raw)
    assert all(
        isinstance(s["name"], str) and isinstance(s.get("aliases", []), list)
        for s in raw["services"]
    )
    if CHAT_CATALOG.exists():
        chat = yaml.safe_load(CHAT_CATALOG.read_text())
        ours = {s["name"]: set(s.get("aliases", [])) for s in raw["services"]}
        for service in chat["services"]:
            assert set(service["aliases"]) <= ours[service["name"]]
        assert set(chat["alerts"]) <= set(raw["alerts"])


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_bad_instance_id_names_file_line_and_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "catalog.yaml",
        (
            "services:\n"
            "  - name: search\n"
            "    aws:\n"
            "      region: eu-west-1\n"
            "      instance_ids: [i-0b1b2c3d4e5f60011, 'i-1; reboot']\n"
        ),
    )
    with pytest.raises(ConfigurationError) as caught:
        load_catalog(path)
    assert f"{path}:5: services[0].aws.instance_ids[1]:" in str(caught.value)


def test_capacity_bounds_out_of_order_are_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "catalog.yaml",
        (
            "services:\n"
            "  - name: web\n"
            "    aws:\n"
            "      region: eu-west-1\n"
            "      autoscaling_group:\n"
            "        {name: web-asg, min_size: 5, max_size: 3, desired_capacity: 4}\n"
        ),
    )
    with pytest.raises(
        ConfigurationError, match=r"catalog.yaml:5: services\[0\].aws.autoscaling_group"
    ):
        load_catalog(path)


def test_an_alias_shared_by_two_services_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "catalog.yaml",
        ("services:\n  - {name: web, aliases: [site]}\n  - {name: shop, aliases: [site]}\n"),
    )
    with pytest.raises(ConfigurationError, match="'site' used by 'web' and 'shop'"):
        load_catalog(path)


POLICY_HEAD = "approvals: {roles: [sre-oncall]}\n"


def test_shell_documents_can_never_be_allowlisted(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "policies.yaml",
        POLICY_HEAD
        + ("actions:\n  ssm_run_command:\n    documents:\n      - {name: AWS-RunShellScript}\n"),
    )
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path)
    assert f"{path}:5: actions.ssm_run_command.documents[0].name:" in str(caught.value)
    assert "runs arbitrary commands" in str(caught.value)


def test_rule_with_an_action_outside_the_allowlist_is_refused(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "policies.yaml",
        POLICY_HEAD
        + (
            "actions: {ec2_reboot: {}}\n"
            "rules:\n"
            "  - name: r\n"
            "    match: {alertnames: [X]}\n"
            "    actions: [{action: rds_reboot}]\n"
        ),
    )
    with pytest.raises(
        ConfigurationError, match=r"policies.yaml:1: <root>: .*rds_reboot is not enabled"
    ):
        load_policy(path)


def test_rule_naming_an_unknown_service_or_undeclared_unit_is_refused(tmp_path: Path) -> None:
    catalog = load_catalog(DEFAULT_CATALOG_PATH)
    path = _write(
        tmp_path,
        "policies.yaml",
        POLICY_HEAD
        + (
            "actions:\n"
            "  ssm_run_command: {documents: [{name: SmartCloudOps-RestartSystemdUnit}]}\n"
            "rules:\n"
            "  - name: r\n"
            "    match: {alertnames: [X], services: [checkout, nonexistent]}\n"
            "    actions:\n"
            "      - action: ssm_run_command\n"
            "        document: SmartCloudOps-RestartSystemdUnit\n"
            "        unit: sshd.service\n"
        ),
    )
    with pytest.raises(ConfigurationError) as caught:
        load_policy(path, catalog)
    message = str(caught.value)
    assert f"{path}:6: rules[0].match.services[1]: unknown service 'nonexistent'" in message
    assert f"{path}:10: rules[0].actions[0].unit: systemd unit 'sshd.service'" in message


def test_bad_freeze_timezone_names_the_field(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "policies.yaml",
        POLICY_HEAD
        + (
            "actions: {}\n"
            "change_freeze:\n"
            "  windows:\n"
            "    - {name: w, kind: weekly, timezone: Mars/Olympus, days: [mon],\n"
            "       start: '09:00', end: '10:00'}\n"
        ),
    )
    with pytest.raises(
        ConfigurationError,
        match=r"policies.yaml:5: change_freeze.windows\[0\].timezone: Value error, unknown time",
    ):
        load_policy(path)


def test_missing_approvals_section_is_reported(tmp_path: Path) -> None:
    path = _write(tmp_path, "policies.yaml", "actions: {}\n")
    with pytest.raises(ConfigurationError, match=r"policies.yaml:1: approvals: Field required"):
        load_policy(path)


def test_freeze_decision_defaults_to_needs_approval() -> None:
    assert load_policy(DEFAULT_POLICY_PATH).change_freeze.decision is Decision.NEEDS_APPROVAL


def test_approvals_check_roles_and_expiry() -> None:
    from datetime import UTC, datetime, timedelta

    approvals = load_policy(DEFAULT_POLICY_PATH).approvals
    asked = datetime(2026, 3, 4, 10, 0, tzinfo=UTC)
    assert approvals.permits(["developer", "sre-oncall"])
    assert not approvals.permits(["developer"])
    assert not approvals.expired(asked, asked + timedelta(seconds=approvals.timeout_s - 1))
    assert approvals.expired(asked, asked + timedelta(seconds=approvals.timeout_s))


def test_shipped_policy_limits_rds_reboots_harder_than_the_default() -> None:
    guards = load_policy(DEFAULT_POLICY_PATH).guards
    assert guards.for_action("rds_reboot").rate_limit_max == 1
    assert guards.for_action("ec2_reboot").rate_limit_max == guards.rate_limit_max
