"""The Grafana dashboard is importable, laid out, valid PromQL, and reads only contract metrics."""

import json
import os
import shutil
import subprocess
from itertools import combinations
from pathlib import Path

import pytest
import yaml

from sco_metric_contract import CONTRACT, contract_problems, families_used

REPO = Path(__file__).resolve().parents[3]
DASHBOARD = REPO / "deploy" / "grafana" / "smartcloudops-dashboard.json"
DATASOURCE = {"type": "prometheus", "uid": "${DS_PROMETHEUS}"}

# Grafana's interval macros are not PromQL; promtool sees these stand-ins instead.
GRAFANA_MACROS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


@pytest.fixture(scope="module")
def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


def graph_panels(dashboard: dict) -> list[dict]:
    """Every panel that queries data, including panels nested in collapsed rows."""
    panels = []
    for panel in dashboard["panels"]:
        panels += panel.get("panels", []) if panel["type"] == "row" else [panel]
    return panels


def expressions(dashboard: dict) -> list[str]:
    return [t["expr"] for panel in graph_panels(dashboard) for t in panel["targets"]]


def test_dashboard_is_a_schema_39_export_with_a_prometheus_datasource_input(dashboard):
    assert dashboard["schemaVersion"] == 39
    assert dashboard["uid"] == "smartcloudops-pipeline"
    assert dashboard["id"] is None
    (ds_input,) = dashboard["__inputs"]
    assert ds_input["name"] == "DS_PROMETHEUS"
    assert (ds_input["type"], ds_input["pluginId"]) == ("datasource", "prometheus")


def test_every_panel_and_query_uses_the_prometheus_datasource_input(dashboard):
    for panel in graph_panels(dashboard):
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        assert all(t["datasource"] == DATASOURCE for t in panel["targets"]), panel["title"]


def test_panel_ids_and_query_ref_ids_are_unique(dashboard):
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in graph_panels(dashboard):
        ref_ids = [t["refId"] for t in panel["targets"]]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def overlaps(a: dict, b: dict) -> bool:
    return (
        a["x"] < b["x"] + b["w"]
        and b["x"] < a["x"] + a["w"]
        and a["y"] < b["y"] + b["h"]
        and b["y"] < a["y"] + a["h"]
    )


def test_panels_fit_the_24_column_grid_without_overlapping(dashboard):
    grid = [(panel["title"], panel["gridPos"]) for panel in dashboard["panels"]]

    assert [t for t, pos in grid if pos["x"] + pos["w"] > 24 or pos["x"] < 0] == []
    assert [(a, b) for (a, pa), (b, pb) in combinations(grid, 2) if overlaps(pa, pb)] == []


def test_every_query_uses_only_contract_metrics_labels_and_values(dashboard):
    # No recording rules allowed: the dashboard must work where our rules are not loaded.
    problems = {expr: contract_problems(expr, recorded=set()) for expr in expressions(dashboard)}

    assert {expr: found for expr, found in problems.items() if found} == {}


def test_every_contract_metric_is_shown_somewhere(dashboard):
    shown = set().union(*(families_used(expr) for expr in expressions(dashboard)))

    assert set(CONTRACT) - shown == set()


@pytest.mark.parametrize("metric", ["smartcloudops_anomaly_score", "smartcloudops_risk_score"])
def test_score_distributions_are_heatmaps_of_histogram_buckets(dashboard, metric):
    (panel,) = [
        p
        for p in graph_panels(dashboard)
        if p["type"] == "heatmap" and f"{metric}_bucket" in p["targets"][0]["expr"]
    ]

    assert panel["targets"][0]["format"] == "heatmap"
    assert panel["options"]["calculate"] is False


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        reason = "promtool not installed (apt-get install prometheus)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must check the dashboard's PromQL")
        pytest.skip(reason)
    return path


def as_promql(expr: str) -> str:
    for macro, duration in GRAFANA_MACROS.items():
        expr = expr.replace(macro, duration)
    return expr


def test_every_query_is_valid_promql_according_to_promtool(dashboard, tmp_path):
    # promtool has no offline "parse this expression", but it parses every rule's expr.
    rules = [
        {"record": f"dashboard:query:{i}", "expr": as_promql(expr)}
        for i, expr in enumerate(expressions(dashboard))
    ]
    rules_file = tmp_path / "dashboard-queries.yml"
    rules_file.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))

    result = subprocess.run(
        [promtool(), "check", "rules", str(rules_file)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(rules)} rules found" in result.stdout
