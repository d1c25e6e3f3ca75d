"""Escalation (issue 13 #8): tiers page in order, once each, and ack or resolve stops them; every page is audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_chat import incident_acks
from adapters.pager import RecordingPager
from adapters.pager_log import PageLog
from config.escalation import load_escalation
from pipeline.correlation import CorrelationPolicy
from pipeline.events import AlertBatch, AlertReceived
from services import escalation as flow

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

POLICY = """
default_policy: standard
policies:
  standard:
    tiers:
      - after_s: 300
        targets:
          - {name: ops-channel, type: slack_webhook, url: "https://hooks.slack.com/services/T/B/X"}
      - after_s: 600
        targets:
          - {name: pagerduty, type: webhook, url: "https://events.pagerduty.com/v2/enqueue", routing_key: "K"}
services:
  checkout: standard
"""


@pytest.fixture
def book(tmp_path):
    path = tmp_path / "escalation.yaml"
    path.write_text(POLICY)
    return load_escalation(path)


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    yield engine
    engine.dispose()


def open_incident(engine) -> int:
    alert = AlertReceived(
        event_id="ev-1", fingerprint="fp-1", status="firing",
        labels={"alertname": "HighLatency", "service": "checkout", "severity": "critical"},
        annotations={}, starts_at=NOW, ends_at=None, generator_url="", group_key="g", receiver="r",
    )
    outcome = AlertStore(engine, CorrelationPolicy()).record_batch(
        AlertBatch((alert,), "g", "r", 0, ""), trace_id="t", now=NOW)
    return outcome.opened[0]


def kinds(engine) -> list[str]:
    with engine.connect() as conn:
        return [json.loads(b)["kind"] for b in conn.execute(sa.select(audit_log.c.body)).scalars()
                if json.loads(b)["kind"].startswith("escalation.")]


def test_two_tiers_page_in_order_with_their_delays_and_each_page_is_audited(engine, book):
    incident_id, pager, log = open_incident(engine), RecordingPager(), PageLog(engine)
    assert flow.first_tier_delay(book, "checkout") == 300

    first = flow.escalate(log, pager, book, incident_id=incident_id, tier=0, now=NOW)
    second = flow.escalate(log, pager, book, incident_id=incident_id, tier=first.next_tier, now=NOW)

    assert (first.status, first.next_tier, first.next_after_s) == ("paged", 1, 600)
    assert (second.status, second.next_tier) == ("paged", None)
    [(slack, text), (pd, event)] = pager.sent
    assert slack == "ops-channel" and f"#{incident_id}" in text["text"]
    assert pd == "pagerduty" and event["event_action"] == "trigger" and event["routing_key"] == "K"
    assert event["dedup_key"] == f"smartcloudops-incident-{incident_id}"
    assert kinds(engine).count("escalation.paged") == 2


def test_a_redelivered_tier_pages_once(engine, book):
    incident_id, pager, log = open_incident(engine), RecordingPager(), PageLog(engine)
    flow.escalate(log, pager, book, incident_id=incident_id, tier=0, now=NOW)
    again = flow.escalate(log, pager, book, incident_id=incident_id, tier=0, now=NOW)
    assert again.status == "duplicate" and len(pager.sent) == 1


def test_an_acknowledgement_stops_the_escalation(engine, book):
    incident_id, pager, log = open_incident(engine), RecordingPager(), PageLog(engine)
    flow.escalate(log, pager, book, incident_id=incident_id, tier=0, now=NOW)
    with engine.begin() as conn:
        conn.execute(incident_acks.update().where(incident_acks.c.id == incident_id)
                     .values(acknowledged_by="chat:U1", acknowledged_at=NOW + timedelta(minutes=1)))
    later = flow.escalate(log, pager, book, incident_id=incident_id, tier=1, now=NOW)
    assert later.status == "cancelled_acknowledged" and len(pager.sent) == 1


def test_a_resolved_incident_is_not_paged(engine, book):
    incident_id, pager, log = open_incident(engine), RecordingPager(), PageLog(engine)
    with engine.begin() as conn:
        conn.execute(incidents.update().where(incidents.c.id == incident_id).values(status="resolved"))
    assert flow.escalate(log, pager, book, incident_id=incident_id, tier=0, now=NOW).status == "cancelled_resolved"
    assert pager.sent == []


def test_escalate_by_a_person_jumps_to_the_next_tier_at_once(engine, book):
    incident_id, pager, log = open_incident(engine), RecordingPager(), PageLog(engine)
    flow.escalate(log, pager, book, incident_id=incident_id, tier=0, now=NOW)
    jumped = flow.escalate(log, pager, book, incident_id=incident_id, tier=None, by="chat:U1", now=NOW)
    assert (jumped.status, jumped.tier) == ("paged", 1)
    assert [name for name, _ in pager.sent] == ["ops-channel", "pagerduty"]


def test_a_failing_target_is_audited_and_the_others_are_still_paged(engine, tmp_path):
    path = tmp_path / "e.yaml"
    path.write_text(POLICY.replace("      - after_s: 600\n        targets:\n", "").replace(
        "          - {name: pagerduty", "          - {name: pagerduty", 1))
    book = load_escalation(path)
    incident_id, pager = open_incident(engine), RecordingPager(failing=frozenset({"ops-channel"}))
    outcome = flow.escalate(PageLog(engine), pager, book, incident_id=incident_id, tier=0, now=NOW)
    assert outcome.paged == ("pagerduty",)
    assert "escalation.page_failed" in kinds(engine) and "escalation.paged" in kinds(engine)


def test_a_policy_naming_an_undefined_policy_is_refused(tmp_path):
    from pipeline.errors import ConfigurationError

    path = tmp_path / "bad.yaml"
    path.write_text("default_policy: nope\npolicies: {}\n")
    with pytest.raises(ConfigurationError, match="nope"):
        load_escalation(path)


SLACK_API_POLICY = """
default_policy: dm
policies:
  dm:
    tiers:
      - after_s: 0
        targets:
          - {name: lead-dm, type: slack_api, channel: U02ALICE002}
"""


def test_a_slack_api_target_posts_to_chat_post_message_with_the_bot_token(tmp_path):
    """A Slack channel or user reached through the Web API: chat.postMessage, bearer bot token, ok checked."""
    import httpx

    from adapters.pager import HttpPager
    from pipeline.errors import PermanentError
    from pipeline.escalation import PagedIncident, page_message

    path = tmp_path / "escalation.yaml"
    path.write_text(SLACK_API_POLICY)
    [target] = load_escalation(path).for_service("checkout").tiers[0].targets
    seen = []

    def slack(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        return httpx.Response(200, json={"ok": body["channel"] == "U02ALICE002"} | (
            {} if body["channel"] == "U02ALICE002" else {"error": "channel_not_found"}))

    pager = HttpPager(httpx.Client(transport=httpx.MockTransport(slack)), "xoxb-test-token-0000000000")
    message = page_message(PagedIncident(7, "checkout", "HighLatency", "critical"), 0, target, "system")
    pager.send(target, message)
    [request] = seen
    assert str(request.url) == "https://slack.com/api/chat.postMessage"
    assert request.headers["authorization"] == "Bearer xoxb-test-token-0000000000"
    assert json.loads(request.content)["channel"] == "U02ALICE002"
    assert "incident #7" in json.loads(request.content)["text"]

    from dataclasses import replace

    with pytest.raises(PermanentError, match="channel_not_found"):
        pager.send(replace(target, channel="C0NOPE"), {**message, "channel": "C0NOPE"})
    with pytest.raises(PermanentError, match="SCO_SLACK_BOT_TOKEN"):
        HttpPager(httpx.Client(transport=httpx.MockTransport(slack))).send(target, message)


def test_a_slack_api_target_without_a_channel_names_the_field(tmp_path):
    from pipeline.errors import ConfigurationError

    path = tmp_path / "escalation.yaml"
    path.write_text(SLACK_API_POLICY.replace("channel: U02ALICE002", "url: https://slack.com/api/x"))
    with pytest.raises(ConfigurationError, match="channel"):
        load_escalation(path)
