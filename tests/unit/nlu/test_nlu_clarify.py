"""Ask when unsure: which questions are asked, and how the next line answers them."""

from __future__ import annotations

import pytest

from pipeline.nlu import EMPTY_CONTEXT, next_context, understand
from pipeline.nlu.clarify import Choice, answer


def turn(texts, vocabulary):
    context, result = EMPTY_CONTEXT, None
    for text in texts:
        result = understand(text, context, vocabulary)
        context = next_context(context, result)
    return result, context


def test_an_unknown_alert_is_kept_as_written_and_confirmed(vocabulary):
    result = understand("silence HighQueueLatency on billing for 2h", EMPTY_CONTEXT, vocabulary)
    assert result.entities["alertname"] == "HighQueueLatency"
    assert result.question.text() == (
        "HighQueueLatency is not an alert I know; silence it anyway? (yes / no)")


def test_a_known_alert_is_not_questioned(vocabulary):
    assert not understand("silence OOMKilled on billing for 2h", EMPTY_CONTEXT, vocabulary).asks


def test_yes_answers_the_question_with_its_choice(vocabulary):
    result, context = turn(["silence HighQueueLatency on billing for 2h", "yes"], vocabulary)
    assert (result.intent, result.source) == ("silence", "answer")
    assert result.entities == {
        "alertname": "HighQueueLatency", "service": "billing", "duration_s": 7200}
    assert context.pending_choices is None


def test_a_new_command_instead_of_an_answer_drops_the_question(vocabulary):
    result, context = turn(["silence HighQueueLatency on billing", "status of ledger"], vocabulary)
    assert result.intent == "status" and context.pending_choices is None


@pytest.mark.parametrize(("text", "picked"), [("1", 0), ("2", 1), (" #2 ", 1), ("option 1", 0)])
def test_a_number_picks_a_choice(text, picked):
    choices = [Choice("remediate", {"service": "a"}).to_json(),
               Choice("status", {"service": "a"}).to_json()]
    assert answer(text, choices) == Choice(**choices[picked])


@pytest.mark.parametrize("text", ["no", "neither", "nvm", "cancel"])
def test_no_declines(text):
    assert answer(text, [Choice("remediate", {"service": "a"}).to_json()]) is False


def test_other_text_is_no_answer():
    assert answer("status of ledger", [Choice("remediate", {}).to_json()]) is None


@pytest.mark.parametrize(
    "text",
    ["should we restart billing?", "restart billing maybe", "is it worth rebooting ledger"],
)
def test_questions_and_hedges_about_commands_never_act(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent not in ("remediate",) or result.asks


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("stop muting billing", "unsilence"),
        ("un mute billing", "unsilence"),
        ("lift the silence on OOMKilled", "unsilence"),
        ("don't keep ledger muted anymore", "unsilence"),
        ("don't restart billing", "unknown"),
        ("do NOT reboot i-0abc1234, it's the bastion", "unknown"),
        ("don't approve 4437, I'm handling it", "deny"),
    ],
)
def test_negations_and_reversals(text, expected, vocabulary):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == expected


def test_cancel_after_an_approval_denies_it(vocabulary):
    result, _ = turn(["show incident 12", "approve it", "never mind, cancel that"], vocabulary)
    assert (result.intent, result.entities) == ("deny", {"incident": 12})


def test_cancel_with_nothing_pending_does_nothing(vocabulary):
    assert understand("never mind, cancel that", EMPTY_CONTEXT, vocabulary).intent == "unknown"
