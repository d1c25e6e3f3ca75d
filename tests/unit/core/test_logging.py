"""Log lines are JSON with trace ids; secrets never reach them."""

import json
import logging

import structlog

from adapters.observability.logging import REDACTED, configure_logging, redact_secrets


def test_secret_keys_are_redacted_recursively():
    event = redact_secrets(None, "info", {"event": "x", "webhook_token": "abc", "headers": {
        "Authorization": "Bearer abc", "X-Slack-Signature": "v0=deadbeef", "accept": "json"}})
    assert event["webhook_token"] == REDACTED
    assert event["headers"] == {"Authorization": REDACTED, "X-Slack-Signature": REDACTED, "accept": "json"}


def test_secrets_inside_strings_are_redacted():
    event = redact_secrets(None, "info", {
        "event": "calling with Bearer eyJhbGciOi.abc.def and v0=0123456789abcdef0123",
        "url": "redis://user:hunter2@127.0.0.1:6379/0"})
    assert "eyJhbGciOi" not in event["event"] and "0123456789abcdef0123" not in event["event"]
    assert event["url"] == f"redis://user:{REDACTED}@127.0.0.1:6379/0"


def test_log_line_is_json_with_trace_and_event_ids(capsys):
    configure_logging("INFO", "json")
    structlog.contextvars.bind_contextvars(trace_id="t123", event_id="e456")
    try:
        structlog.get_logger("test").info("webhook.accepted", api_token="tok", alerts=2)
    finally:
        structlog.contextvars.clear_contextvars()
        logging.getLogger().handlers.clear()
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "webhook.accepted" and line["trace_id"] == "t123" and line["event_id"] == "e456"
    assert line["level"] == "info" and line["logger"] == "test" and "timestamp" in line
    assert line["api_token"] == REDACTED and line["alerts"] == 2


class _Unreadable(dict):
    def items(self):  # redaction walks a mapping's items: reaching this means the call was processed
        raise AssertionError("a call below the level was processed")


def test_a_call_below_the_level_is_dropped_before_it_is_processed(capsys):
    configure_logging("WARNING", "json")
    try:
        structlog.get_logger("test").info("webhook.accepted", headers=_Unreadable(a="b"))
        structlog.get_logger("test").warning("webhook.broker_unavailable", api_token="tok")
    finally:
        logging.getLogger().handlers.clear()
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    assert [line["event"] for line in lines] == ["webhook.broker_unavailable"]
    assert lines[0]["api_token"] == REDACTED
