"""Ask when unsure: which questions are asked, and how the next line answers them."""

from __future__ import annotations

import pytest

from pipeline.nlu import EMPTY_CONTEXT, next_context, understand
from pipeline.nlu.clarify import MUTATING_INTENTS, Choice, answer


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


def test_a_lone_filler_after_a_proposal_refuses_nothing(vocabulary):
    # `ok` is a yes or nothing; read as a refusal it denied the incident just shown.
    result, _ = turn(["show incident 142", "ok"], vocabulary)
    assert result.intent != "deny"


@pytest.mark.parametrize(
    "lines",
    [
        ["restart billing", "wait no don't"],
        ["restart billing", "hmm actually, don't"],
        ["redeploy ledger", "hold on"],
    ],
)
def test_withdrawing_ones_own_request_asks_before_deciding_anything(lines, vocabulary):
    # No incident is pending: a deny would pick the service's latest incident by guess.
    result, _ = turn(lines, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks


@pytest.mark.parametrize(
    "text", ["hold off on 518 for now", "wait, don't approve 412 yet", "not yet on 77, until the call"]
)
def test_putting_a_decision_off_asks(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks


@pytest.mark.parametrize("text", ["hold off on 66, reject for now", "deny 4437", "approve 4437"])
def test_a_decision_said_outright_does_not_ask(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent in ("approve", "deny") and not result.asks


@pytest.mark.parametrize(
    "text",
    [
        "4412 was escalated to the vendor yesterday",
        "bob is restarting billing now",
        "ledger got restarted an hour ago",
        "restart billing if it hangs again",
        "silence OOMKilled on ledger unless the fix lands",
    ],
)
def test_narration_and_conditions_are_never_acted_on(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks


@pytest.mark.parametrize("text", ["need billing restarted asap", "escalate 4412 to the dba team"])
def test_commands_without_auxiliaries_still_act(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent in MUTATING_INTENTS and not result.asks


def test_a_slack_broadcast_is_no_escalation_target(vocabulary):
    result = understand("@here standup in 5", EMPTY_CONTEXT, vocabulary)
    assert "target" not in result.entities
    assert result.intent != "escalate" or result.asks


@pytest.mark.parametrize("text", ["restart", "scale up pls"])
def test_a_bare_remediation_asks_what_to_act_on(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent == "remediate" and result.asks


def test_a_verbless_number_is_no_replica_count(vocabulary):
    result = understand("reschedule profiles 3042", EMPTY_CONTEXT, vocabulary)
    assert result.entities.get("action") != "scale"
    assert result.intent != "remediate" or result.asks


@pytest.mark.parametrize(
    "text", ["is there a manual for you?", "what is this bot", "what are you able to do",
             "what else can u do besides restarts", "tutorial?"]
)
def test_questions_about_the_bot_are_help(text, vocabulary):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == "help"


def test_a_service_word_qualifying_an_unknown_noun_asks(vocabulary):
    # `the search bar` is a bar, not the search service.
    result = understand("restart the search bar", EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks
    assert not understand("restart the search service", EMPTY_CONTEXT, vocabulary).asks


@pytest.mark.parametrize(
    "text", ["billing restarted fine", "the ledger rebooted itself", 'type "restart billing" to fix it']
)
def test_reports_and_quoted_commands_are_never_acted_on(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks


@pytest.mark.parametrize("text", ["`restart billing`", "pls `restart billing`", "billing restart pls"])
def test_a_quoted_or_terse_command_still_acts(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent == "remediate" and not result.asks


def test_a_command_ending_in_a_question_mark_asks_unless_it_is_a_request(vocabulary):
    assert understand("approve 412?", EMPTY_CONTEXT, vocabulary).asks
    polite = understand("can you restart billing?", EMPTY_CONTEXT, vocabulary)
    assert polite.intent == "remediate" and not polite.asks


@pytest.mark.parametrize("text", ["restart billing tomorrow morning", "ack 4412 later"])
def test_a_command_for_later_is_asked_about(text, vocabulary):
    assert understand(text, EMPTY_CONTEXT, vocabulary).asks


def test_a_silence_until_tomorrow_is_its_window(vocabulary):
    result = understand("silence OOMKilled on ledger until tomorrow", EMPTY_CONTEXT, vocabulary)
    assert result.intent == "silence" and not result.asks


@pytest.mark.parametrize(
    "text", ["tell bob to restart billing", "remind me to restart billing", "don't forget to ack 4412"]
)
def test_a_command_handed_to_someone_else_is_asked_about(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks
