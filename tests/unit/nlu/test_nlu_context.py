"""Conversation context: `it`, `that`, `why?`, `no don't` resolve from earlier turns."""

from __future__ import annotations

import pytest

from pipeline.errors import InvalidInput
from pipeline.nlu import EMPTY_CONTEXT, ChatContext, next_context, understand


def converse(lines, vocabulary, context=EMPTY_CONTEXT):
    """Understand `lines` in order as one conversation; return every understanding."""
    results = []
    for line in lines:
        result = understand(line, context, vocabulary)
        context = next_context(context, result)
        results.append(result)
    return results, context


def test_restart_it_restarts_the_service_just_discussed(vocabulary):
    (_, restart), _ = converse(["status of invoicing", "restart it"], vocabulary)
    assert (restart.intent, restart.entities) == (
        "remediate", {"action": "restart", "service": "billing"})
    assert restart.resolved_from_context == {"service"}


def test_approve_it_approves_the_incident_just_shown(vocabulary):
    (_, approve), _ = converse(["show incident 99", "approve it"], vocabulary)
    assert (approve.intent, approve.entities) == ("approve", {"incident": 99})
    assert approve.resolved_from_context == {"incident"}


def test_why_explains_the_incident_just_shown(vocabulary):
    (_, why), _ = converse(["show incident 404", "why?"], vocabulary)
    assert (why.intent, why.entities) == ("explain", {"incident": 404})


def test_no_dont_denies_the_incident_in_question(vocabulary):
    (_, no), _ = converse(["show #512", "no don't"], vocabulary)
    assert (no.intent, no.entities) == ("deny", {"incident": 512})


def test_silence_it_silences_the_service_in_focus(vocabulary):
    (_, silence), _ = converse(["how is ledger doing", "silence it for 1h"], vocabulary)
    assert (silence.intent, silence.entities) == (
        "silence", {"service": "ledger", "duration_s": 3600})


def test_the_latest_subject_wins(vocabulary):
    (*_, silence), _ = converse(
        ["status of web", "show incident 12", "silence it for 2h"], vocabulary
    )
    assert silence.entities == {"incident": 12, "duration_s": 7200}


def test_start_it_after_an_instance_targets_the_instance(vocabulary):
    (_, start), _ = converse(["reboot i-0aa11bb22cc33dd44", "start it"], vocabulary)
    assert start.entities == {"action": "start", "instance": "i-0aa11bb22cc33dd44"}


def test_scale_it_keeps_the_new_capacity(vocabulary):
    (_, scale), _ = converse(["check kafka", "scale it to 10"], vocabulary)
    assert scale.entities == {"action": "scale", "service": "kafka-broker", "capacity": 10}


def test_an_entity_in_the_text_beats_the_context(vocabulary):
    (_, approve), _ = converse(["show incident 99", "approve 100"], vocabulary)
    assert approve.entities == {"incident": 100}
    assert approve.resolved_from_context == frozenset()


def test_a_plain_status_does_not_inherit_the_last_service(vocabulary):
    (_, status), _ = converse(["restart billing", "status"], vocabulary)
    assert status.entities == {}


def test_without_context_nothing_is_invented(vocabulary):
    result = understand("approve it", EMPTY_CONTEXT, vocabulary)
    assert (result.intent, result.entities) == ("approve", {})


def test_a_pending_approval_is_what_yes_approves(vocabulary):
    context = ChatContext(last_incident=3).awaiting_approval(41)
    (yes,), after = converse(["yes do it"], vocabulary, context)
    assert (yes.intent, yes.entities) == ("approve", {"incident": 41})
    assert after.pending_approval is None


def test_unknown_lines_leave_the_context_alone(vocabulary):
    _, context = converse(["status of ledger", "tell me a joke"], vocabulary)
    assert (context.last_service, context.last_intent) == ("ledger", "status")


def test_next_context_records_subjects_and_focus(vocabulary):
    _, context = converse(["reboot i-0abc1234", "show incident 7"], vocabulary)
    assert context == ChatContext(
        last_incident=7, last_instance="i-0abc1234", last_intent="show_incident",
        last_action="reboot", focus="incident",
    )


def test_context_round_trips_through_json():
    context = ChatContext(last_incident=4, last_service="web", focus="service")
    assert ChatContext.from_json(context.to_json()) == context


@pytest.mark.parametrize(
    "data",
    [[], {"last_incident": "4"}, {"last_incident": True}, {"focus": "planet"}],
)
def test_context_json_with_wrong_types_is_rejected(data):
    with pytest.raises(InvalidInput):
        ChatContext.from_json(data)


def test_an_instance_named_with_its_service_is_what_it_means_next(vocabulary):
    (_, start), _ = converse(["reboot i-0abc1234 of billing", "start it"], vocabulary)
    assert start.entities == {"action": "start", "instance": "i-0abc1234"}
