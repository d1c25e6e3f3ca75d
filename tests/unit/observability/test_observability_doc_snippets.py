"""The configuration snippets in docs/observability.md are valid for the real tools."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "observability.md"
RULES = REPO / "deploy" / "prometheus" / "smartcloudops-rules.yml"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        reason = f"{name} not installed (apt-get install {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must check the documented configuration")
        pytest.skip(reason)
    return path


def yaml_snippets() -> list[dict]:
    return [
        yaml.safe_load(block) for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(), re.S)
    ]


def snippet_with(key: str) -> dict:
    """Merge of every snippet that has `key` at its top (the doc splits prometheus.yml in two)."""
    merged: dict = {}
    for snippet in yaml_snippets():
        if key in snippet:
            merged.update(snippet)
    return merged


def local_files(document: dict, tmp_path: Path) -> dict:
    """The snippet with its file paths pointing at real files: the rules, a token file."""
    token = tmp_path / "token"
    token.write_text("s3cret")
    text = yaml.safe_dump(document)
    text = text.replace("/etc/prometheus/rules/smartcloudops-rules.yml", str(RULES))
    text = re.sub(r"/etc/(prometheus|alertmanager)/smartcloudops-token", str(token), text)
    return yaml.safe_load(text)


def check(argv: list[str]) -> str:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_documented_prometheus_config_is_valid_and_loads_the_shipped_rules(tmp_path):
    config = local_files(snippet_with("scrape_configs") | snippet_with("remote_write"), tmp_path)
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))

    output = check(
        [tool("promtool", "prometheus"), "check", "config", str(tmp_path / "prometheus.yml")]
    )

    assert {job["job_name"] for job in config["scrape_configs"]} == {
        "smartcloudops-api",
        "smartcloudops-worker",
    }
    assert config["remote_write"][0]["url"].endswith("/api/v1/write")
    shipped = sum(len(group["rules"]) for group in yaml.safe_load(RULES.read_text())["groups"])
    assert f"SUCCESS: {shipped} rules found" in output


def test_documented_alertmanager_config_is_valid_and_sends_resolved_with_bearer_auth(tmp_path):
    config = local_files(snippet_with("receivers"), tmp_path)
    (tmp_path / "alertmanager.yml").write_text(yaml.safe_dump(config))

    check(
        [
            tool("amtool", "prometheus-alertmanager"),
            "check-config",
            str(tmp_path / "alertmanager.yml"),
        ]
    )

    (webhook,) = [r for r in config["receivers"] if r["name"] == "smartcloudops"][0][
        "webhook_configs"
    ]
    assert webhook["url"].endswith("/v1/alerts/alertmanager")
    assert webhook["send_resolved"] is True
    assert webhook["http_config"]["authorization"]["type"] == "Bearer"
    # The pipeline's own alerts go to people, not back into the pipeline.
    assert config["route"]["routes"][0]["matchers"] == ['component="smartcloudops"']
