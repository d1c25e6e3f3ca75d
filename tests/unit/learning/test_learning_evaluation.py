"""Time-split evaluation: metrics against the oracle, the learner chosen without it."""

import json
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest

from adapters.replay_files import read_replay
from pipeline.errors import InvalidInput
from pipeline.learning import evaluation as ev
from pipeline.learning.features import IncidentContext
from pipeline.learning.outcomes import Signature

ROOT = Path(__file__).resolve().parents[3]
T = datetime(2026, 3, 2, tzinfo=UTC)


def case(i, truth, attempts=(), alert="HighLatency", memory=0.0):
    context = IncidentContext(f"i{i}", T + timedelta(hours=i), Signature(alert, "checkout", "critical", 1),
                              anomaly={"memory": memory})
    return ev.Case(context, tuple(truth), tuple(ev.Attempt(a, f, T) for a, f in attempts), truth)


def test_expected_failures_and_regret_against_the_oracle_order():
    truth = {"a": 0.9, "b": 0.5}
    assert ev.expected_failures(["a", "b"], truth) == pytest.approx(0.1 + 0.05)
    assert ev.expected_failures(["b", "a"], truth) == pytest.approx(0.5 + 0.05)
    worst = ev.score([case(0, truth)], lambda c: [("b", 0.5), ("a", 0.9)])
    assert worst.top1 == 0.0 and worst.regret == pytest.approx(0.4)
    best = ev.score([case(0, truth)], lambda c: [("a", 0.9), ("b", 0.5)])
    assert best.top1 == 1.0 and best.regret == 0.0 and best.brier == pytest.approx(0.09)
    assert best.first_choice_predicted == 0.9 and best.first_choice_fix_rate == 0.9  # calibrated in the large
    assert ev.score([case(0, truth)], ev.playbook_ranker({"HighLatency": ["b"]})).brier is None


def test_the_split_is_by_time_never_shuffled():
    cases = [case(i, {"a": 0.5}) for i in (5, 1, 3, 0)]
    before, after = ev.split(cases, T + timedelta(hours=3))
    assert [c.context.incident_id for c in before] == ["i0", "i1"]
    assert [c.context.incident_id for c in after] == ["i3", "i5"]


def test_the_classifier_learns_what_the_signature_hides_and_is_chosen_without_the_oracle():
    # Same alert, two hidden causes: a memory anomaly means restart fixes it, else scaling does.
    rng = np.random.default_rng(1)
    cases = []
    for i in range(400):
        leak = bool(rng.random() < 0.5)
        truth = {"restart": 0.9 if leak else 0.1, "scale": 0.1 if leak else 0.9}
        first = "restart" if rng.random() < 0.5 else "scale"
        fixed = bool(rng.random() < truth[first])
        cases.append(case(i, truth, [(first, fixed)], memory=0.9 if leak else 0.05))
    train, test = ev.split(cases, T + timedelta(hours=300))
    classifier = ev.score(test, ev.classifier_ranker(ev.fit_classifier(train)))
    rates = ev.score(test, ev.rates_ranker(ev.fit_rates(train)))
    assert classifier.top1 > 0.95 and rates.top1 == pytest.approx(0.5, abs=0.05)
    assert classifier.regret < rates.regret
    assert ev.choose(train).learner == "classifier"


def test_scoring_needs_the_oracle():
    with pytest.raises(InvalidInput):
        ev.score([ev.Case(case(0, {"a": 1.0}).context, ("a",), (), None)], lambda c: [("a", None)])


def test_the_simulated_replay_round_trips_and_the_command_prints_a_labelled_table(tmp_path):
    replay = tmp_path / "estate.jsonl"
    subprocess.run([sys.executable, "-m", "benchmarks.estate_sim", "--weeks", "6", "--seed", "3",
                    "--incidents-per-week", "60", "--out", str(replay)], cwd=ROOT, check=True,
                   capture_output=True)
    header, cases = read_replay(replay)
    assert header["simulated"] is True and len(cases) > 200
    assert all(c.truth and set(c.truth) == set(c.allowed) for c in cases)
    out = subprocess.run([sys.executable, "-m", "smartcloudops", "evaluate", "remediation",
                          "--replay", str(replay), "--train-weeks", "4", "--json"],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout
    figures = json.loads(out)
    assert figures["simulated"] is True and figures["held_out"] > 0
    assert set(figures["figures"]) >= {"rule only (playbook)", "learner (b): classifier"}


def test_a_bad_replay_line_is_named(tmp_path):
    replay = tmp_path / "bad.jsonl"
    replay.write_text('{"simulated": true}\n{"context": {}}\n')
    with pytest.raises(InvalidInput, match=r"bad.jsonl:2: bad case"):
        read_replay(replay)


def test_the_classifier_exported_to_onnx_gives_scikit_learns_probabilities():
    from adapters.onnx_scorer import OnnxProbabilityScorer

    rng = np.random.default_rng(2)
    cases = [case(i, {"restart": 0.5, "scale": 0.5}, [(str(rng.choice(["restart", "scale"])), bool(rng.random() < 0.5))],
                  memory=float(rng.random())) for i in range(200)]
    model = ev.fit_classifier(cases)
    exported = model.with_scorer(OnnxProbabilityScorer(model.to_onnx()))
    contexts, actions = [c.context for c in cases for _ in range(2)], ["restart", "scale"] * len(cases)
    assert np.allclose(model.probabilities(contexts, actions), exported.probabilities(contexts, actions), atol=1e-5)


# ---------------------------------------------------------------- which ranking is used


def logged(n, truth_of, pick, alert="HighLatency", memory_of=lambda i: 0.0, seed=3):
    """`n` incidents in time order; the on-call tries `pick(i, rng, tried)` until a fix or two tries."""
    rng = np.random.default_rng(seed)
    cases = []
    for i in range(n):
        truth, tried, attempts = truth_of(i), [], []
        for _ in range(2):
            action = pick(i, rng, tried)
            fixed = bool(rng.random() < truth[action])
            attempts.append((action, fixed))
            tried.append(action)
            if fixed:
                break
        cases.append(case(i, truth, attempts, alert=alert, memory=memory_of(i)))
    return cases


def playbook_mostly(first, share=0.7):
    def pick(i, rng, tried):
        left = [a for a in ("a", "b", "c") if a not in tried]
        return first if first in left and rng.random() < share else str(rng.choice(left))
    return pick


def test_the_on_calls_choice_frequencies_come_from_what_was_tried_and_cover_only_untried_actions():
    cases = logged(400, lambda i: {"a": 0.5, "b": 0.5, "c": 0.5}, playbook_mostly("a"))
    propensity = ev.OnCallPropensity(cases)
    first = {a: propensity.chance(cases[0], [], a) for a in "abc"}
    assert first["a"] == pytest.approx(0.8, abs=0.05) and sum(first.values()) == pytest.approx(1.0)
    after_a = {a: propensity.chance(cases[0], ["a"], a) for a in "bc"}
    assert after_a["b"] == pytest.approx(0.5, abs=0.1) and sum(after_a.values()) == pytest.approx(1.0)
    with pytest.raises(InvalidInput):
        propensity.chance(cases[0], ["a"], "a")


def test_the_fix_value_weighs_a_rarely_tried_choice_up_and_needs_a_match():
    cases = [case(0, {"a": 0.5, "b": 0.5}, [("a", True)]), case(1, {"a": 0.5, "b": 0.5}, [("b", False)])]

    class Half:
        def chance(self, case, tried, action):
            return 0.25 if action == "b" else 0.75

    one = ev.fix_value(cases, lambda c, tried: "a", Half())
    assert (one.value, one.matched, one.effective) == (1.0, 1, 1.0)
    assert one.lower == pytest.approx(1.0 - (2 / 3 * 1 / 3) ** 0.5)  # one run that fixed is no certainty
    assert ev.fix_value(cases, lambda c, tried: "b", Half()).value == 0.0
    assert ev.fix_value(cases[:1], lambda c, tried: "b", Half()) == ev.FixValue(None, 0, 0.0)
    # Both matched through later attempts: b's run counts three times a's.
    both = [case(2, {"a": 0.5, "b": 0.5}, [("a", False), ("b", True)])]
    two = ev.fix_value(both, lambda c, tried: "a" if not tried else "b", Half())
    assert two.matched == 2 and two.value == pytest.approx(4.0 / (4.0 + 4.0 / 3.0))
    assert two.effective == pytest.approx((16 / 3) ** 2 / (16 + 16 / 9))


def test_a_playbook_no_learner_beats_is_kept_and_learning_reorders_nothing():
    # The alert says it all: "a" is best, the playbook says "a"; learners can only tie.
    cases = logged(400, lambda i: {"a": 0.85, "b": 0.3, "c": 0.2}, playbook_mostly("a"))
    choice = ev.choose(cases, {"HighLatency": ["a"]})
    assert choice.learner == ev.RULE and "playbook" in choice.reason
    assert choice.fix_value[ev.RULE] is not None and choice.matched[ev.RULE] > 50


def test_a_learner_replaces_the_playbook_only_where_its_choices_fixed_more():
    # A memory anomaly means "a" fixes, otherwise "b" does; the playbook always says "a".
    leak = lambda i: i % 2 == 0  # noqa: E731
    cases = logged(600, lambda i: {"a": 0.9, "b": 0.1, "c": 0.05} if leak(i) else {"a": 0.1, "b": 0.9, "c": 0.05},
                   playbook_mostly("a"), memory_of=lambda i: 0.9 if leak(i) else 0.05)
    choice = ev.choose(cases, {"HighLatency": ["a"]})
    assert choice.learner == ev.CLASSIFIER
    assert choice.fix_bound[ev.CLASSIFIER] > choice.fix_bound[ev.RULE]
    # A wrong playbook ("c" first) on an alert that says it all: the rates beat it too.
    plain = logged(400, lambda i: {"a": 0.85, "b": 0.3, "c": 0.1}, playbook_mostly("c"))
    wrong = ev.choose(plain, {"HighLatency": ["c"]})
    assert wrong.learner in (ev.RATES, ev.CLASSIFIER) and wrong.fix_bound[ev.RULE] < wrong.fix_bound[wrong.learner]


def test_a_learner_whose_choice_was_seldom_tried_does_not_replace_the_playbook_on_a_lucky_few():
    # The playbook's "a" fixes 80 of 100; the learner's "b" was tried twice and fixed both times.
    cases = [case(i, {"a": 0.8, "b": 0.5}, [("a", i % 5 != 0)]) for i in range(100)]
    cases += [case(100 + i, {"a": 0.8, "b": 0.5}, [("b", True)]) for i in range(2)]
    uniform = type("Uniform", (), {"chance": lambda self, c, tried, a: 0.5})()
    rule = ev.fix_value(cases, lambda c, tried: "a", uniform)
    lucky = ev.fix_value(cases, lambda c, tried: "b", uniform)
    assert lucky.value == 1.0 > rule.value == 0.8
    assert lucky.lower < rule.lower


def test_the_choice_never_looks_past_the_training_cases_it_is_given():
    cases = logged(400, lambda i: {"a": 0.85, "b": 0.3, "c": 0.2}, playbook_mostly("a"))
    flipped = [replace(c, truth={"a": 0.0, "b": 1.0, "c": 0.0}) for c in cases]  # the oracle is never read
    assert ev.choose(cases, {"HighLatency": ["a"]}) == ev.choose(flipped, {"HighLatency": ["a"]})
