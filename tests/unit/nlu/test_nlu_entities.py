"""Entities: catalog services (aliases, typos), alerts, ids, regions, numbers, targets, actions."""

from __future__ import annotations

import pytest

from pipeline.nlu import EMPTY_CONTEXT, understand


def entities(text, vocabulary):
    return understand(text, EMPTY_CONTEXT, vocabulary).entities


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("status of billing", "billing"),
        ("status of invoicing", "billing"),  # alias
        ("status of billing-api", "billing"),  # hyphenated alias
        ("status of user profile", "user-profile"),  # spaces for a hyphen
        ("status of UserProfile", "user-profile"),
        ("status of the kafka broker", "kafka-broker"),
        ("status of blling", "billing"),  # one slip in 7 letters
        ("status of notificatoins", "notifications"),  # swapped letters
        ("status of ledger's api", "ledger"),  # possessive
        ("restart the billing service", "billing"),
        ("status of the ledger-svc", "ledger"),
    ],
)
def test_service_is_the_canonical_catalog_name(text, service, vocabulary):
    assert entities(text, vocabulary)["service"] == service


@pytest.mark.parametrize(
    "text",
    [
        "status of the weather",  # `weather` is English, not a typo of anything
        "restart the wet pipeline",  # `wet` is one edit from `web`, but short words are exact
        "status of ledgers-and-books",  # a different word that merely starts alike
        "status of ntfy",  # four letters: too short to forgive a slip
        "status of bililng-reports",
    ],
)
def test_no_service_from_ordinary_or_distant_words(text, vocabulary):
    assert "service" not in entities(text, vocabulary)


def test_a_tie_between_two_services_is_no_match():
    from pipeline.nlu.vocabulary import Vocabulary

    tied = Vocabulary.build({"payment": [], "paymint": []}, [])
    assert "service" not in entities("restart paymant", tied)


def test_a_slip_of_two_services_asks_which_one():
    from pipeline.nlu.vocabulary import Vocabulary

    tied = Vocabulary.build({"ledgers": [], "ledgerx": []}, [])
    result = understand("restart ledger", EMPTY_CONTEXT, tied)
    assert result.question is not None
    assert [c.entities["service"] for c in result.question.choices] == ["ledgers", "ledgerx"]


@pytest.mark.parametrize(
    ("text", "alert"),
    [
        ("silence OOMKilled for 1h", "OOMKilled"),
        ("silence oomkilled for 1h", "OOMKilled"),
        ("silence cpu throttling for 1h", "CPUThrottling"),
        ("silence HighLatncy for 1h", "HighLatency"),
        ("silence disk_pressure for 1h", "DiskPressure"),
    ],
)
def test_alertname_is_the_catalog_spelling(text, alert, vocabulary):
    assert entities(text, vocabulary)["alertname"] == alert


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("reboot i-0123abcd4567ef890", {"action": "reboot", "instance": "i-0123abcd4567ef890"}),
        ("reboot i-0abc1234 in us-east-1",
         {"action": "reboot", "instance": "i-0abc1234", "region": "us-east-1"}),
        ("start i-0fedcba987654321a in ap-southeast-2",
         {"action": "start", "instance": "i-0fedcba987654321a", "region": "ap-southeast-2"}),
        ("scale web to 6", {"action": "scale", "service": "web", "capacity": 6}),
        ("scale web up to 12 replicas", {"action": "scale", "service": "web", "capacity": 12}),
        ("redeploy ledger", {"action": "redeploy", "service": "ledger"}),
        ("bounce kafka", {"action": "restart", "service": "kafka-broker"}),
        ("power on i-00112233", {"action": "start", "instance": "i-00112233"}),
    ],
)
def test_remediation_entities(text, expected, vocabulary):
    assert entities(text, vocabulary) == expected


@pytest.mark.parametrize(
    ("text", "incident"),
    [("approve 12", 12), ("approve #400", 400), ("approve incident 7", 7),
     ("show inc-450", 450), ("ack INC-31", 31), ("deny 1999.", 1999)],
)
def test_incident_references(text, incident, vocabulary):
    assert entities(text, vocabulary)["incident"] == incident


def test_instance_ids_must_have_8_to_17_hex_digits(vocabulary):
    assert "instance" not in entities("reboot i-0abc12", vocabulary)
    assert "instance" not in entities("reboot i-0abcxyz12345", vocabulary)


def test_region_must_be_an_aws_region(vocabulary):
    assert entities("reboot i-0abc1234 in eu-west-3", vocabulary)["region"] == "eu-west-3"
    assert "region" not in entities("reboot i-0abc1234 in xx-west-3", vocabulary)


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("escalate 12 to dba-oncall", "dba-oncall"),
        ("escalate #12 to @maria", "maria"),
        ("page sre-primary about #300", "sre-primary"),
        ("escalate 21 to the network-oncall", "network-oncall"),
        ("escalate 5 to <@U024BE7LH|bob>", "U024BE7LH"),
    ],
)
def test_escalation_target(text, target, vocabulary):
    assert entities(text, vocabulary)["target"] == target


def test_escalation_without_target_has_none(vocabulary):
    assert entities("escalate #400", vocabulary) == {"incident": 400}


def test_duration_and_scope_of_a_silence(vocabulary):
    assert entities("silence OOMKilled on billing for 1h30m", vocabulary) == {
        "alertname": "OOMKilled",
        "service": "billing",
        "duration_s": 5400,
    }


def test_a_number_is_an_incident_outside_scaling(vocabulary):
    assert entities("escalate 12 to dba-oncall", vocabulary) == {
        "incident": 12,
        "target": "dba-oncall",
    }


def test_action_words_name_the_action_a_history_is_about(vocabulary):
    assert entities("history of restarts for billing", vocabulary) == {
        "service": "billing", "action": "restart"}


def test_a_verb_in_a_question_about_state_is_no_action(vocabulary):
    assert entities("status of billing after the restart", vocabulary) == {"service": "billing"}


def test_a_capacity_without_a_verb_means_scaling(vocabulary):
    assert entities("put billing on 5 replicas", vocabulary) == {
        "action": "scale", "service": "billing", "capacity": 5}


@pytest.mark.parametrize("word", ["recording", "skipping", "identify", "involving", "logic"])
def test_english_words_one_slip_from_a_service_are_not_services(word):
    from pipeline.nlu.vocabulary import Vocabulary

    catalog = Vocabulary.build(
        {"reporting": [], "shipping": [], "identity": [], "invoicing": [], "login": []}, []
    )
    assert "service" not in entities(f"status of {word}", catalog)


@pytest.mark.parametrize(
    "text",
    [
        "restart <https://grafana.example.com/d/x?var-service=billing|this dashboard>",
        "restart https://grafana.example.com/d/x?var-service=billing",
        "restart <#C024BE7LR|billing> <!here>",
    ],
)
def test_links_and_channel_references_name_no_service(text, vocabulary):
    # Nothing in the catalog is named, so there is nothing to restart: not a command at all.
    assert entities(text, vocabulary) == {}


@pytest.mark.parametrize(
    "text", ["deny the refund 88123", "approve the refill for bed 7", "approve the timesheet for nurse 4411"]
)
def test_a_number_after_an_unknown_noun_is_no_incident(text, vocabulary):
    assert "incident" not in entities(text, vocabulary)


@pytest.mark.parametrize(
    "text", ["approve the plan 2455", "deny 2455", "show the incident 2455", "escalate 2455 to dba"]
)
def test_a_number_after_a_verb_or_an_operations_noun_is_an_incident(text, vocabulary):
    assert entities(text, vocabulary).get("incident") == 2455


def test_a_compound_name_with_a_substituted_letter_is_a_slip(vocabulary):
    assert entities("restart kafka-brokar", vocabulary).get("service") == "kafka-broker"


@pytest.mark.parametrize(
    ("text", "incident"),
    [("ack nine", 9), ("escalate fifty-six", 56), ("reject incident seven hundred three", 703),
     ("show incident five hundred and five", 505), ("approve number four", 4)],
)
def test_spelled_incident_numbers_after_a_command_or_incident_word(text, incident, vocabulary):
    assert entities(text, vocabulary).get("incident") == incident


@pytest.mark.parametrize("text", ["ack that one", "show the first one", "scale web to two"])
def test_other_number_words_are_no_incident(text, vocabulary):
    assert "incident" not in entities(text, vocabulary)


@pytest.mark.parametrize("text", ["incident-505", "incident=505", "INC-505", "inc505"])
def test_an_incident_word_joined_to_its_number(text, vocabulary):
    assert entities(text, vocabulary).get("incident") == 505
