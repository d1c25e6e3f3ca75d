"""The console's ack, escalate and silence buttons go through the chat's own handlers: the intent is
given (no text to understand), the account's role is granted by the console, and only the console
source may do either."""

from __future__ import annotations

import sqlalchemy as sa
from chat_bench import NOW
from test_chat_flow import audit, open_incident

from adapters.db.schema_chat import silences
from pipeline.events import envelope
from services.chat import ChatCommand


def console_command(bench, intent: str, entities: dict, role: str, *, source: str = "console",
                    text: str = "help") -> ChatCommand:
    data = {"user": "console.otto", "channel": "console", "text": text, "response_url": None, "source": source,
            "intent": intent, "entities": entities, "granted_roles": [role]}
    event = envelope("dev.smartcloudops.chat.command.received", "urn:test", data,
                     event_id=f"console-{intent}-{role}-{source}", trace_id="trace-c", now=NOW)
    return ChatCommand.from_event(event)


def test_a_console_ack_by_an_operator_acknowledges_without_parsing_text(bench):
    incident_id = open_incident(bench)
    answer = bench.handler.handle(console_command(bench, "ack", {"incident": incident_id}, "operator"), NOW)

    assert answer.allowed and answer.intent == "ack"
    with bench.engine.connect() as conn:
        by = conn.execute(sa.text("SELECT acknowledged_by FROM incidents WHERE id = :i"),
                          {"i": incident_id}).scalar_one()
    assert by == "chat:console.otto"
    [row] = audit(bench, "incident.acknowledged")
    assert row["incident_id"] == incident_id


def test_a_console_viewer_is_refused_and_the_refusal_audited(bench):
    incident_id = open_incident(bench)
    answer = bench.handler.handle(console_command(bench, "escalate", {"incident": incident_id}, "viewer"), NOW)

    assert not answer.allowed
    assert audit(bench, "incident.escalated") == [] and len(audit(bench, "chat.refused")) == 1
    assert bench.published == []


def test_a_console_silence_uses_the_given_scope_and_duration(bench):
    incident_id = open_incident(bench, alertname="HighCPU", service="checkout")
    bench.handler.handle(console_command(bench, "silence", {"service": "checkout", "duration_s": 3600,
                                                            "incident": "not-an-int"}, "operator"), NOW)

    with bench.engine.connect() as conn:
        [row] = conn.execute(sa.select(silences)).all()
    assert row.service == "checkout" and row.alertname is None
    assert abs((row.ends_at.replace(tzinfo=NOW.tzinfo) - NOW).total_seconds() - 3600) < 1
    assert incident_id is not None


def test_other_sources_cannot_give_an_intent_or_grant_a_role(bench):
    incident_id = open_incident(bench)
    command = console_command(bench, "ack", {"incident": incident_id}, "admin", source="slack",
                              text=f"show incident {incident_id}")

    assert command.granted == () and command.given is None
    assert bench.handler.handle(command, NOW).intent == "show_incident"
