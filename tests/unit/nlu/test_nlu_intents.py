"""Every intent is recognised from plain, polite, typo'd phrasing, and chit-chat is unknown."""

from __future__ import annotations

import pytest

from pipeline.nlu import EMPTY_CONTEXT, INTENTS, understand
from pipeline.nlu.clarify import MUTATING_INTENTS
from pipeline.nlu.understanding import (
    ASK_THRESHOLD,
    CONFIDENCE_THRESHOLD,
    GROUNDED_CONFIDENCE_THRESHOLD,
)

CASES = {
    "status": ["status of billing", "how's the ledger doing?", "is kafka healthy", "stauts web"],
    "list_incidents": ["what's on fire", "list open incidents", "incidents for ledger",
                       "anything firing right now?"],
    "show_incident": ["show incident 57", "details on #1203", "tell me about incident 8", "#77"],
    "approve": ["approve 57", "aprove #88", "go ahead with #400", "lgtm, go ahead with 91"],
    "deny": ["deny 57", "reject incident 88", "nope, cancel #91", "hold off on incident 21"],
    "ack": ["ack 57", "acknowledged #7", "i'm on #91", "looking into #21"],
    "silence": ["silence OOMKilled on billing for 2h", "mute web for 30m",
                "snooze DiskPressure for an hour", "silense the cdn for 1h30m"],
    "unsilence": ["unsilence OOMKilled on billing", "unmute web", "remove the silence on kafka",
                  "lift the silence for the cdn"],
    "remediate": ["restart billing", "restrat ledger", "please bounce notifications",
                  "scale web to 6", "reboot i-0abc1234 in us-east-1"],
    "explain": ["explain incident 12", "why is #400 risky", "why?", "risk factors for 640"],
    "escalate": ["escalate 12 to dba-oncall", "escalate #400", "page sre-primary about #300",
                 "loop in @maria on #640"],
    "history": ["history for billing", "what did you do today", "audit log for the ledger",
                "recent actions"],
    "help": ["help", "what can you do?", "hlep", "list commands"],
    "unknown": ["what's the capital of france", "tell me a joke", "book a flight to lisbon",
                "who won the football match"],
}


def test_every_intent_has_cases():
    assert set(CASES) == set(INTENTS)


@pytest.mark.parametrize(
    ("text", "intent"), [(text, intent) for intent, texts in CASES.items() for text in texts]
)
def test_intent_is_recognised(text, intent, vocabulary):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == intent


def test_rules_answer_unmistakable_commands_with_full_confidence(vocabulary):
    result = understand("approve 12", EMPTY_CONTEXT, vocabulary)
    assert (result.source, result.confidence) == ("rule", 1.0)


def test_classifier_answers_phrasing_the_rules_miss(vocabulary):
    result = understand("could you give billing a kick", EMPTY_CONTEXT, vocabulary)
    assert result.source == "classifier"
    assert result.intent == "remediate"
    assert 0.4 <= result.confidence <= 1.0


def test_unknown_text_carries_no_entities(vocabulary):
    result = understand("what's 17 plus 3 on billing day", EMPTY_CONTEXT, vocabulary)
    assert (result.intent, result.entities) == ("unknown", {})


def test_empty_text_asks_for_help(vocabulary):
    assert understand("   ", EMPTY_CONTEXT, vocabulary).intent == "help"


class Guess:
    """A classifier double that always guesses one intent with one confidence."""

    def __init__(self, intent, confidence, runner_up=None):
        self.intent, self.confidence, self.runner_up = intent, confidence, runner_up

    def predict(self, masked):
        from pipeline.nlu.classifier import Prediction

        return Prediction(self.intent, self.confidence, self.runner_up)


_WEAK = (GROUNDED_CONFIDENCE_THRESHOLD + CONFIDENCE_THRESHOLD) / 2


@pytest.mark.parametrize(
    ("text", "guess", "expected"),
    [
        ("user-profile looks weird today", "status", "status"),  # names a service: a question is fine
        ("it looks weird today", "status", "unknown"),  # names nothing: too unsure
        ("user-profile looks weird today", "remediate", "unknown"),  # a command needs more certainty
        ("user-profile looks weird today", "approve", "unknown"),
    ],
)
def test_low_confidence_is_accepted_only_for_grounded_questions(text, guess, expected, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary, classifier=Guess(guess, _WEAK))
    assert result.intent == expected


@pytest.mark.parametrize("guess", sorted(MUTATING_INTENTS))
def test_an_unsure_mutating_guess_always_asks(guess, vocabulary):
    unsure = (CONFIDENCE_THRESHOLD + ASK_THRESHOLD) / 2
    result = understand(
        "user-profile looks weird today", EMPTY_CONTEXT, vocabulary,
        classifier=Guess(guess, unsure, "status"),
    )
    assert result.intent == guess and result.asks
    assert [c.intent for c in result.question.choices] == [guess, "status"]


def test_a_sure_mutating_guess_does_not_ask(vocabulary):
    result = understand("user-profile looks weird today, give it a restart", EMPTY_CONTEXT,
                        vocabulary, classifier=Guess("remediate", 0.99))
    assert result.intent == "remediate" and not result.asks


def test_a_sure_remediation_without_an_action_asks(vocabulary):
    # Nothing in the line says which action: the model's sureness is not the line's.
    result = understand("user-profile looks weird today", EMPTY_CONTEXT, vocabulary,
                        classifier=Guess("remediate", 0.99))
    assert result.intent == "remediate" and result.asks


def test_confident_guesses_are_taken(vocabulary):
    result = understand("user-profile looks weird today", EMPTY_CONTEXT, vocabulary,
                        classifier=Guess("remediate", 0.9))
    assert (result.intent, result.source) == ("remediate", "classifier")


def test_a_mute_guess_on_a_line_about_no_muting_asks(vocabulary):
    result = understand("user-profile looks weird today", EMPTY_CONTEXT, vocabulary,
                        classifier=Guess("unsilence", 0.95))
    assert result.intent == "unsilence" and result.asks


@pytest.mark.parametrize(
    "text", ["how often does ledger break", "how many times has search fallen over",
             "has billing had incidents before?", "what's kafka's track record this month"]
)
def test_how_often_and_before_ask_for_the_history(text, vocabulary):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == "history"


def test_how_often_about_something_else_is_not_history(vocabulary):
    assert understand("how often do you go to the gym", EMPTY_CONTEXT, vocabulary).intent != "history"
