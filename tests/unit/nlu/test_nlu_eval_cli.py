"""`smartcloudops nlu eval` and `nlu parse` on the development set and the held-out set."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from smartcloudops.commands import nlu

DATA = Path(__file__).with_name("data")
DEV_SET = Path("/work/shared/data/chat")

DEV = DEV_SET / "chat.jsonl"
DEV_CATALOG = DEV_SET / "catalog.yaml"
needs_dev_set = pytest.mark.skipif(not DEV.exists(), reason=f"{DEV} is not on this machine")


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser()
    nlu.register(parser.add_subparsers())
    args = parser.parse_args(["nlu", *argv])
    return args.func(args)


@needs_dev_set
def test_eval_json_on_the_development_set(capsys):
    assert run("eval", str(DEV), "--catalog", str(DEV_CATALOG), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] == 39
    assert report["intent_accuracy"] >= 0.95
    assert report["entity_f1"] >= 0.9
    assert {"entity_precision", "entity_recall", "confusion"} <= set(report)
    assert sum(sum(row.values()) for row in report["confusion"].values()) == 39


@needs_dev_set
def test_eval_text_report_shows_figures_and_confusion(capsys):
    assert run("eval", str(DEV), "--catalog", str(DEV_CATALOG)) == 0
    out = capsys.readouterr().out
    assert "intent accuracy" in out and "entity F1" in out
    assert "confusion (expected -> predicted: count)" in out


def test_heldout_set_with_another_catalog_generalises(capsys):
    # A regression floor, not the goal: the goal (>= 0.95 / >= 0.90) is in the benchmark.
    assert run("eval", str(DATA / "heldout.jsonl"), "--catalog",
               str(DATA / "heldout_catalog.yaml"), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n"] >= 150
    assert report["intent_accuracy"] >= 0.93
    assert report["entity_f1"] >= 0.9


def test_blind_set_with_a_third_catalog_generalises(capsys):
    # Written after the recogniser was frozen, with a catalog it was never run against.
    assert run("eval", str(DATA / "blind.jsonl"), "--catalog",
               str(DATA / "blind_catalog.yaml"), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert report["intent_accuracy"] >= 0.93
    assert report["entity_f1"] >= 0.9


def test_sessions_carry_context_and_other_lines_do_not(tmp_path, capsys):
    lines = [
        {"text": "status of billing", "intent": "status", "entities": {"service": "billing"},
         "session": "a"},
        {"text": "restart it", "intent": "remediate",
         "entities": {"action": "restart", "service": "billing"}, "session": "a"},
        {"text": "restart it", "intent": "remediate", "entities": {"action": "restart"}},
    ]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  - name: billing\nalerts: []\n")
    data = tmp_path / "set.jsonl"
    data.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    assert run("eval", str(data), "--catalog", str(catalog), "--json") == 0
    report = json.loads(capsys.readouterr().out)
    assert (report["intent_accuracy"], report["entity_f1"]) == (1.0, 1.0)


def test_entity_scores_are_micro_over_key_value_pairs(tmp_path, capsys):
    lines = [{"text": "scale billing to 6", "intent": "remediate",
              "entities": {"action": "scale", "service": "billing", "capacity": 7}}]
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services: [billing]\n")
    data = tmp_path / "set.jsonl"
    data.write_text(json.dumps(lines[0]) + "\n")
    run("eval", str(data), "--catalog", str(catalog), "--json")
    report = json.loads(capsys.readouterr().out)
    assert report["entity_precision"] == pytest.approx(2 / 3)
    assert report["entity_recall"] == pytest.approx(2 / 3)


def test_a_malformed_line_is_reported_with_its_number(tmp_path, capsys):
    data = tmp_path / "bad.jsonl"
    data.write_text('{"text": "help", "intent": "help"}\n{"text": "x", "intent": "dance"}\n')
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services: []\n")
    assert run("eval", str(data), "--catalog", str(catalog)) == 2
    assert f"{data}:2: unknown intent 'dance'" in capsys.readouterr().err


def test_a_missing_catalog_is_an_error(tmp_path, capsys):
    assert run("eval", str(DATA / "heldout.jsonl"), "--catalog", str(tmp_path / "no.yaml")) == 2
    assert "cannot read service catalog" in capsys.readouterr().err


def test_parse_prints_the_understanding(capsys):
    assert run("parse", "silence OOMKilled on ledgr for 90 minutes",
               "--catalog", str(DATA / "heldout_catalog.yaml")) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["intent"] == "silence"
    assert result["entities"] == {"alertname": "OOMKilled", "service": "ledger",
                                  "duration_s": 5400}
