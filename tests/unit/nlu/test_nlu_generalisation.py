"""Phrasing the recogniser was not written for: conversations, chatty lines, quotes, counts."""

from __future__ import annotations

import pytest

from pipeline.nlu import EMPTY_CONTEXT, next_context, understand
from pipeline.nlu.clarify import MUTATING_INTENTS
from pipeline.nlu.context import ChatContext
from pipeline.nlu.evaluation import LabelledLine, evaluate, pool
from pipeline.nlu.reading import read


def turn(texts, vocabulary):
    context, result = EMPTY_CONTEXT, None
    for text in texts:
        result = understand(text, context, vocabulary)
        context = next_context(context, result)
    return result, context


def test_restart_it_acts_in_the_region_the_subject_was_named_in(vocabulary):
    result, _ = turn(["status of billing in eu-west-1", "restart it"], vocabulary)
    assert result.entities == {"action": "restart", "service": "billing", "region": "eu-west-1"}


def test_a_new_service_forgets_the_old_region(vocabulary):
    result, _ = turn(["status of billing in eu-west-1", "status of ledger", "restart it"],
                     vocabulary)
    assert "region" not in result.entities


def test_silence_it_mutes_the_alert_named_last(vocabulary):
    result, _ = turn(["any OOMKilled alerts on billing?", "silence it for 1h"], vocabulary)
    assert result.intent == "silence"
    assert result.entities["alertname"] == "OOMKilled"
    assert result.entities["duration_s"] == 3600


def test_make_it_longer_right_after_a_silence_extends_it(vocabulary):
    result, _ = turn(["silence OOMKilled on billing for 1h", "make it 3h"], vocabulary)
    assert (result.intent, result.asks) == ("silence", False)
    assert result.entities == {"alertname": "OOMKilled", "service": "billing", "duration_s": 10800}


def test_a_bare_number_after_a_silence_is_a_guess_and_asks(vocabulary):
    result, _ = turn(["silence billing for 1h", "make it 2"], vocabulary)
    assert result.intent == "silence" and result.asks
    assert result.entities["duration_s"] == 7200


def test_make_it_n_after_a_silence_never_scales(vocabulary):
    result, _ = turn(["scale billing to 4", "silence billing for 1h", "make it 2"], vocabulary)
    assert result.intent != "remediate"


def test_a_duration_outside_a_silence_is_not_an_entity(vocabulary):
    result = understand("restart billing, it has been stuck for 2 hours", EMPTY_CONTEXT, vocabulary)
    assert "duration_s" not in result.entities


@pytest.mark.parametrize(
    ("text", "expected"),
    [("approve the loan for customer 4411", None), ("approve PR #4412 pls", None),
     ("last 10 actions", None), ("support has 3 tickets about billing", None),
     ("approve 4411", 4411), ("show #4412", 4412)],
)
def test_a_number_that_belongs_to_something_else_is_no_incident(vocabulary, text, expected):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.entities.get("incident") == expected


@pytest.mark.parametrize("text", ["approve the loan for customer 4411", "approve PR #4412 pls"])
def test_approving_a_number_that_is_no_incident_never_acts(vocabulary, text):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent != "approve" or result.asks


def test_a_remediation_naming_only_an_incident_asks(vocabulary):
    result = understand("restart 4011", EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks


@pytest.mark.parametrize("text", ["would a redeploy fix 2755?", "would restarting billing help?",
                                  "could a restart of billing fix it?"])
def test_asking_whether_an_action_would_help_never_acts(vocabulary, text):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent not in MUTATING_INTENTS or result.asks


def test_a_polite_request_is_still_a_command(vocabulary):
    result = understand("could you restart billing", EMPTY_CONTEXT, vocabulary)
    assert (result.intent, result.asks) == ("remediate", False)


def test_action_ok_while_an_action_is_proposed_approves(vocabulary):
    result, _ = turn(["show 4545", "RESTART OK"], vocabulary)
    assert result.intent == "approve" and result.entities["incident"] == 4545


def test_a_reply_to_a_quoted_plan_answers_the_plan(vocabulary):
    text = "> Plan #2455: redeploy billing. Needs approval.\n:+1:"
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent == "approve"
    assert result.entities["incident"] == 2455 and result.entities["service"] == "billing"


def test_a_firm_refusal_of_a_quoted_plan_denies_it(vocabulary):
    text = "> Plan #2615: scale billing 8 → 2. Approve?\nabsolutely not, it's peak hour"
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent == "deny" and result.entities["incident"] == 2615


@pytest.mark.parametrize(
    ("text", "action"),
    [("bring i-0d0d0d0d back up", "start"), ("spin it up", "start"), ("power it on", "start"),
     ("turn billing off and on again", "restart"), ("ship a fresh deploy of billing", "redeploy")],
)
def test_split_phrasal_verbs_name_the_action(vocabulary, text, action):
    mentions = read(text, vocabulary).mentions
    assert [m.value for m in mentions if m.kind == "action"] == [action]


@pytest.mark.parametrize(
    ("text", "target"),
    [("escalate 4055 to mgmt lol", "mgmt"), ("page oncall-games instead", "oncall-games"),
     ("needs escalation: 2048 -> sre-leads", "sre-leads"), ("get @oncall-ingest on #733", "oncall-ingest"),
     ("escalate 444 to tier 2", "tier 2"), ("escalate 2041 to the manager on duty", "manager on duty")],
)
def test_escalation_targets_as_written(vocabulary, text, target):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.intent == "escalate" and result.entities.get("target") == target


def test_to_a_team_right_after_an_escalation_names_the_target(vocabulary):
    mentions = read("to the db team", vocabulary).mentions
    assert [m.value for m in mentions if m.kind == "target"] == ["db team"]


@pytest.mark.parametrize("text", ["hi", "hello", "how do I reset my okta password",
                                  "help me write a SQL query"])
def test_greetings_and_other_how_tos_are_not_help(vocabulary, text):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == "unknown"


def test_how_to_use_the_bot_is_help(vocabulary):
    assert understand("how do I unmute something", EMPTY_CONTEXT, vocabulary).intent == "help"


def test_a_chatty_line_is_read_by_the_clause_that_asks_something(vocabulary):
    text = "hey, is billing ok today? support says a few invoices were late this morning"
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == "status"


class ByClause:
    """A classifier double: sure only about the one clause it knows."""

    def predict(self, masked):
        from pipeline.nlu.classifier import Prediction

        if masked == "bounce <svc> please":
            return Prediction("remediate", 0.95, "status")
        return Prediction("unknown", 0.5, "status")


def test_a_command_found_in_one_clause_of_a_longer_line_is_confirmed(vocabulary):
    text = "ugh wrong window! bounce ledger please"
    result = understand(text, EMPTY_CONTEXT, vocabulary, classifier=ByClause())
    assert (result.intent, result.source, result.asks) == ("remediate", "clause", True)
    assert result.entities == {"action": "restart", "service": "ledger"}


def test_a_single_sentence_is_not_split(vocabulary):
    result = understand("bounce ledger please", EMPTY_CONTEXT, vocabulary, classifier=ByClause())
    assert result.source != "clause" and not result.asks


def test_the_evaluator_compares_targets_without_at_signs_or_mention_markup(vocabulary):
    lines = [LabelledLine("escalate 933 to <@U03H7QK2P>", "escalate",
                          {"incident": 933, "target": "<@U03H7QK2P>"}),
             LabelledLine("escalate 5 to @jun.park", "escalate", {"incident": 5, "target": "@jun.park"})]
    assert evaluate(lines, vocabulary).entity_f1 == 1.0


def test_the_evaluator_scores_no_entities_on_unknown_lines(vocabulary):
    lines = [LabelledLine("who is on call for billing this week?", "unknown", {"service": "billing"})]
    report = evaluate(lines, vocabulary, lambda text, context, voc: understand(text, context, voc))
    assert report.counts["expected"] == 0


def test_pooled_figures_are_micro_averages(vocabulary):
    right = LabelledLine("status of billing", "status", {"service": "billing"})
    wrong = LabelledLine("status of billing", "history", {"service": "billing"})
    first, second = evaluate([right], vocabulary), evaluate([right, wrong, wrong], vocabulary)
    pooled = pool([first, second])
    assert pooled.n == 4 and pooled.intent_accuracy == 0.5 and pooled.entity_f1 == 1.0


def test_context_round_trips_region_and_alert():
    context = ChatContext(last_region="eu-west-1", last_alertname="OOMKilled")
    assert ChatContext.from_json(context.to_json()) == context


@pytest.mark.parametrize("text", ["the search tonight was sick", "my web at home keeps buffering lol"])
def test_chat_about_a_plain_word_that_names_a_service_is_not_operations(vocabulary, text):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == "unknown"


def test_a_service_named_by_a_plain_word_in_an_operations_line_is_kept(vocabulary):
    result = understand("is search down?", EMPTY_CONTEXT, vocabulary)
    assert (result.intent, result.entities) == ("status", {"service": "search"})


@pytest.mark.parametrize("text", ["would a redeploy fix 2755?", "would restarting billing help?",
                                  "is the reboot safe?"])
def test_asking_what_an_action_would_do_is_explain(vocabulary, text):
    assert understand(text, EMPTY_CONTEXT, vocabulary).intent == "explain"


def test_ok_and_another_service_repeats_the_last_question(vocabulary):
    result, _ = turn(["history of billing", "ok and the ledger?"], vocabulary)
    assert (result.intent, result.entities) == ("history", {"service": "ledger"})


@pytest.mark.parametrize("text", ["is billing ok? panels are flat since 10:40",
                                  "billing stuck since 10", "redeploy billing, the 14:02 release is half out"])
def test_times_of_day_are_not_incidents(vocabulary, text):
    assert "incident" not in understand(text, EMPTY_CONTEXT, vocabulary).entities


def test_a_scale_up_is_a_scaling(vocabulary):
    assert understand("reject the scale-up on 4452", EMPTY_CONTEXT, vocabulary).entities == {
        "incident": 4452, "action": "scale"}
