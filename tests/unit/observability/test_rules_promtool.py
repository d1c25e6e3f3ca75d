"""The shipped Prometheus rules are valid, unit-tested by promtool, and honour the contract."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from sco_metric_contract import contract_problems

REPO = Path(__file__).resolve().parents[3]
RULES = REPO / "deploy" / "prometheus" / "smartcloudops-rules.yml"
RULE_TESTS = REPO / "deploy" / "prometheus" / "tests" / "smartcloudops-rules.test.yml"
RUNBOOK = REPO / "docs" / "runbook.md"

EXPECTED_ALERTS = {
    "SmartCloudOpsBacklogGrowing",
    "SmartCloudOpsDeadLetterNotEmpty",
    "SmartCloudOpsNoConsumer",
    "SmartCloudOpsQueueMetricsAbsent",
    "SmartCloudOpsWorkerAbsent",
    "SmartCloudOpsApiAbsent",
    "SmartCloudOpsRemediationFailing",
    "SmartCloudOpsWebhook5xx",
    "SmartCloudOpsAuditChainBroken",
    "SmartCloudOpsAuditChainUnverified",
    "SmartCloudOpsAuditChainNeverVerified",
}


def promtool() -> str:
    """Path of promtool (Debian package `prometheus`); skip without it, fail on CI."""
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the promtool tests")
        pytest.skip(reason)
    return path


def run_promtool(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool(), *args], capture_output=True, text=True, timeout=60, check=False
    )


def load_rules() -> list[dict]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def alerts() -> list[dict]:
    return [rule for rule in load_rules() if "alert" in rule]


def rule_named(rules: list[dict], name: str) -> dict:
    (rule,) = [r for r in rules if r.get("alert", r.get("record")) == name]
    return rule


def test_rules_file_passes_promtool_check_with_every_rule_counted():
    result = run_promtool("check", "rules", str(RULES))

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(load_rules())} rules found" in result.stdout


def test_rule_unit_tests_pass_under_promtool():
    result = run_promtool("test", "rules", str(RULE_TESTS))

    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_the_shipped_alerts_are_the_ones_the_pipeline_needs():
    assert {rule["alert"] for rule in alerts()} == EXPECTED_ALERTS


def runbook_anchors() -> set[str]:
    headings = re.findall(r"^#+ (.+)$", RUNBOOK.read_text(), flags=re.MULTILINE)
    return {re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-") for h in headings}


@pytest.mark.parametrize("alert", sorted(EXPECTED_ALERTS))
def test_alert_carries_severity_annotations_and_a_runbook_section(alert):
    rule = rule_named(alerts(), alert)

    assert rule["labels"]["severity"] in {"warning", "critical"}
    assert rule["annotations"]["summary"].strip()
    assert rule["annotations"]["description"].strip()
    assert rule["annotations"]["runbook_url"] == f"docs/runbook.md#{alert.lower()}"
    assert alert.lower() in runbook_anchors()


def test_every_rule_expression_uses_only_contract_metrics_labels_and_values():
    rules = load_rules()
    recorded = {rule["record"] for rule in rules if "record" in rule}

    problems = {
        rule.get("alert", rule.get("record")): contract_problems(rule["expr"], recorded)
        for rule in rules
    }

    assert {name: found for name, found in problems.items() if found} == {}


def alert_cases() -> dict[str, dict[str, int]]:
    """Per alert, how many promtool evaluations expect it firing and how many silent."""
    counts: dict[str, dict[str, int]] = {}
    for case in yaml.safe_load(RULE_TESTS.read_text())["tests"]:
        for check in case["alert_rule_test"]:
            tally = counts.setdefault(check["alertname"], {"firing": 0, "silent": 0})
            tally["firing" if check.get("exp_alerts") else "silent"] += 1
    return counts


def test_every_alert_has_promtool_cases_where_it_fires_and_where_it_stays_silent():
    counts = alert_cases()

    assert set(counts) == EXPECTED_ALERTS
    assert {a for a, tally in counts.items() if not (tally["firing"] and tally["silent"])} == set()


# Each mutation breaks one property of a rule; the named promtool case must notice.
# This proves the promtool cases are sharp: a regression in a rule fails the suite.
NEVER = "vector(1) == 0"
MUTATIONS = [
    # (rule, text in its expr or "for", replacement, promtool case that must fail)
    (
        "SmartCloudOpsBacklogGrowing",
        None,
        NEVER,
        "backlog growing above the floor fires once per queue, however many exporters",
    ),
    (
        "SmartCloudOpsBacklogGrowing",
        '"dead_letter"} > 100',
        '"dead_letter"} > 0',
        "backlog growing below the floor, large but steady, or draining stays silent",
    ),
    (
        "SmartCloudOpsBacklogGrowing",
        "[10m]) > 0",
        "[10m]) >= 0",
        "backlog growing below the floor, large but steady, or draining stays silent",
    ),
    (
        "queue:smartcloudops_queue_depth:max",
        "max by (queue) (smartcloudops_queue_depth)",
        "smartcloudops_queue_depth",
        "backlog growing above the floor fires once per queue, however many exporters",
    ),
    (
        "SmartCloudOpsDeadLetterNotEmpty",
        None,
        NEVER,
        "a message in the dead-letter queue fires after a minute",
    ),
    (
        "SmartCloudOpsDeadLetterNotEmpty",
        "> 0",
        ">= 0",
        "an empty dead-letter queue stays silent while other queues hold messages",
    ),
    ("SmartCloudOpsNoConsumer", None, NEVER, "a queue without consumers for five minutes fires"),
    (
        "SmartCloudOpsNoConsumer",
        '{queue!="dead_letter"}',
        "",
        "a short consumer gap and the unconsumed dead-letter queue stay silent",
    ),
    (
        "SmartCloudOpsNoConsumer",
        "for",
        "0s",
        "a short consumer gap and the unconsumed dead-letter queue stay silent",
    ),
    (
        "SmartCloudOpsQueueMetricsAbsent",
        None,
        NEVER,
        "queue gauges that disappear fire after fifteen minutes",
    ),
    (
        "SmartCloudOpsQueueMetricsAbsent",
        "for",
        "0s",
        "queue gauges that disappear fire after fifteen minutes",
    ),
    (
        "SmartCloudOpsQueueMetricsAbsent",
        "absent(smartcloudops_queue_consumers)",
        "absent(smartcloudops_queue_consumer)",
        "queue gauges that keep coming stay silent",
    ),
    (
        "SmartCloudOpsWorkerAbsent",
        None,
        NEVER,
        "the only worker going down fires after five minutes",
    ),
    (
        "SmartCloudOpsWorkerAbsent",
        'absent(up{job="smartcloudops-worker"} == 1)',
        'up{job="smartcloudops-worker"} == 0',
        "one worker of two down and a healthy API stay silent",
    ),
    (
        "SmartCloudOpsApiAbsent",
        None,
        NEVER,
        "workers never scraped and an API that is down both fire",
    ),
    (
        "SmartCloudOpsApiAbsent",
        "== 1",
        "== 2",
        "one worker of two down and a healthy API stay silent",
    ),
    (
        "SmartCloudOpsRemediationFailing",
        None,
        NEVER,
        "executed steps failing more than 20% fire, dry runs do not dilute the ratio",
    ),
    (
        "SmartCloudOpsRemediationFailing",
        "> 0.2",
        "> 0.05",
        "a low failure ratio, too few executed steps, or refusals stay silent",
    ),
    (
        "SmartCloudOpsRemediationFailing",
        ">= 5",
        ">= 0",
        "a low failure ratio, too few executed steps, or refusals stay silent",
    ),
    (
        "action:smartcloudops_remediation_steps_executed:increase30m",
        '"succeeded|failed"',
        '"succeeded|failed|dry_run"',
        "executed steps failing more than 20% fire, dry runs do not dilute the ratio",
    ),
    (
        "action:smartcloudops_remediation_steps_failed:ratio_increase30m",
        'outcome="failed"',
        'outcome=~"failed|refused"',
        "a low failure ratio, too few executed steps, or refusals stay silent",
    ),
    ("SmartCloudOpsWebhook5xx", None, NEVER, "more than 5% 5xx on the webhook fires"),
    (
        "SmartCloudOpsWebhook5xx",
        "> 0.05",
        "> 0.01",
        "4xx, a failing readiness probe, a few 5xx, or a low 5xx ratio stay silent",
    ),
    (
        "SmartCloudOpsWebhook5xx",
        ">= 10",
        ">= 0",
        "4xx, a failing readiness probe, a few 5xx, or a low 5xx ratio stay silent",
    ),
    (
        "SmartCloudOpsWebhook5xx",
        '{route!~"/metrics|/healthz|/readyz"}',
        "",
        "4xx, a failing readiness probe, a few 5xx, or a low 5xx ratio stay silent",
    ),
    (
        "route:smartcloudops_http_requests_5xx:rate10m",
        '"5.."',
        '"[45].."',
        "4xx, a failing readiness probe, a few 5xx, or a low 5xx ratio stay silent",
    ),
    ("SmartCloudOpsAuditChainBroken", None, NEVER, "a failed chain verification fires at once"),
    ("SmartCloudOpsAuditChainBroken", "== 0", "<= 1", "an intact chain stays silent"),
    (
        "SmartCloudOpsAuditChainUnverified",
        None,
        NEVER,
        "a chain last verified more than two hours ago fires",
    ),
    (
        "SmartCloudOpsAuditChainUnverified",
        "> 7200",
        "> 600",
        "a chain verified every hour stays silent",
    ),
    (
        "SmartCloudOpsAuditChainNeverVerified",
        None,
        NEVER,
        "a chain whose verification is never exported fires after two hours",
    ),
    (
        "SmartCloudOpsAuditChainNeverVerified",
        "for",
        "0s",
        "a chain whose verification is never exported fires after two hours",
    ),
    (
        "SmartCloudOpsAuditChainNeverVerified",
        "smartcloudops_audit_chain_last_verified_timestamp_seconds",
        "smartcloudops_audit_chain_verified_timestamp_seconds",
        "a chain whose verification is exported stays silent",
    ),
]


def mutate(rules_doc: dict, name: str, old: str | None, new: str) -> None:
    """Apply one mutation in place; the old text must occur exactly once."""
    rule = rule_named([r for g in rules_doc["groups"] for r in g["rules"]], name)
    if old is None:
        rule["expr"] = new
    elif old == "for":
        rule["for"] = new
    else:
        assert rule["expr"].count(old) == 1, f"mutation text {old!r} not unique in {name}"
        rule["expr"] = rule["expr"].replace(old, new)


@pytest.mark.parametrize(
    ("name", "old", "new", "case"), MUTATIONS, ids=[f"{m[0]}:{m[2]}" for m in MUTATIONS]
)
def test_promtool_case_fails_when_the_rule_is_broken(tmp_path, name, old, new, case):
    rules_doc = yaml.safe_load(RULES.read_text())
    mutate(rules_doc, name, old, new)
    (tmp_path / "rules.yml").write_text(yaml.safe_dump(rules_doc))
    tests_doc = yaml.safe_load(RULE_TESTS.read_text())
    tests_doc["rule_files"] = ["rules.yml"]
    tests_doc["tests"] = [t for t in tests_doc["tests"] if t["name"] == case]
    assert len(tests_doc["tests"]) == 1, f"no promtool case named {case!r}"
    (tmp_path / "tests.yml").write_text(yaml.safe_dump(tests_doc))

    result = run_promtool("test", "rules", str(tmp_path / "tests.yml"))

    assert result.returncode == 1, result.stdout + result.stderr
    assert f"name: {case}," in result.stderr
