"""Block Kit replies: the right kind of message per answer, and user text escaped."""

from __future__ import annotations

import json

from pipeline.nlu.authz import Decision, Role
from pipeline.nlu.replies import (
    ActionLine,
    IncidentLine,
    ScoreLine,
    acknowledgement_reply,
    error_reply,
    escape,
    help_reply,
    history_reply,
    incident_detail_reply,
    incident_list_reply,
    refusal_reply,
    status_reply,
)

INCIDENT = IncidentLine(id=42, title="HighCPU on <!channel> & co", severity="critical",
                        state="open", service="billing", opened_at="10:02Z")


def texts(message: dict) -> str:
    return json.dumps(message["blocks"])


def test_escape_follows_slack_rules():
    assert escape("a & b <@U1> >") == "a &amp; b &lt;@U1&gt; &gt;"


def test_escape_does_not_double_escape_once_applied_in_order():
    assert escape("&lt;") == "&amp;lt;"


def test_help_lists_examples_privately():
    message = help_reply(intro="I did not understand `foo <bar>`")
    assert message["response_type"] == "ephemeral"
    assert "I did not understand `foo &lt;bar&gt;`" in texts(message)
    assert "approve 42 / deny 42" in texts(message)


def test_status_shows_incidents_scores_and_actions():
    message = status_reply(
        "billing", [INCIDENT], [ScoreLine("cpu{instance=\"a\"}", 0.934)],
        [ActionLine("09:00Z", "restart", "billing", "verified")],
    )
    assert message["response_type"] == "in_channel"
    assert message["text"] == "Status of billing: 1 open incident(s)"
    body = texts(message)
    assert "#42* HighCPU on &lt;!channel&gt; &amp; co" in body
    assert "0.93" in body and "`restart` billing: verified" in body


def test_status_without_incidents_says_so():
    message = status_reply(None, [], [], [])
    assert message["text"] == "Status of all services: no open incidents"
    assert len(message["blocks"]) == 2


def test_incident_list_caps_long_lists():
    incidents = [IncidentLine(i, f"t{i}", "warning", "open") for i in range(40)]
    body = texts(incident_list_reply(incidents))
    assert "#14*" in body and "#15*" not in body and "and 25 more" in body


def test_empty_incident_list():
    assert incident_list_reply([], "web")["text"] == "No open incidents for web"


def test_incident_detail_has_facts_and_factors():
    message = incident_detail_reply(INCIDENT, {"Risk": "0.82 (high)", "Run": "#7"},
                                    ["anomaly score 0.97 on cpu", "3 restarts in 1h"])
    assert message["blocks"][0]["type"] == "header"
    assert message["blocks"][2]["fields"][0]["text"] == "*Risk*\n0.82 (high)"
    assert "3 restarts in 1h" in texts(message)


def test_refusal_is_polite_and_private():
    decision = Decision(False, Role.APPROVER, Role.OPERATOR, "approve needs approver")
    message = refusal_reply(decision, "approve")
    assert message["response_type"] == "ephemeral"
    assert "needs the *approver* role and you hold *operator*" in texts(message)


def test_refusal_for_someone_without_role():
    decision = Decision(False, Role.VIEWER, None, "status needs viewer")
    assert "you hold *no role*" in texts(refusal_reply(decision, "status"))


def test_acknowledgement_and_error_escape_text():
    assert "Silenced &lt;x&gt;" in texts(acknowledgement_reply("Silenced <x>", in_channel=True))
    error = error_reply("Incident #9 <not found>")
    assert error["response_type"] == "ephemeral"
    assert "Incident #9 &lt;not found&gt;" in texts(error)


def test_history_without_actions():
    assert "Nothing recorded yet." in texts(history_reply([], "web"))


def test_sections_stay_within_slack_limits():
    huge = IncidentLine(1, "x" * 5000, "warning", "open")
    message = incident_detail_reply(huge, {}, ["y" * 5000])
    for block in message["blocks"]:
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
