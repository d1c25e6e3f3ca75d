"""Answers at response_url: allowlisted URLs only, 5xx and connection errors retried with jitter, 4xx never."""

from __future__ import annotations

import fakeredis
import httpx
import pytest

from adapters.replay_guard import RedisReplayGuard
from adapters.slack_responder import ResponseUrlRefused, SlackResponder, check_response_url
from pipeline.errors import PermanentError, TransientError

URL = "https://hooks.slack.com/commands/T1/2/abc"
MESSAGE = {"response_type": "in_channel", "text": "done", "blocks": []}


def responder(statuses, delays=None, attempts=3):
    calls = []

    def handle(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        status = statuses[min(len(calls), len(statuses)) - 1]
        if status == "down":
            raise httpx.ConnectError("connection refused", request=request)
        return httpx.Response(status)

    client = httpx.Client(transport=httpx.MockTransport(handle))
    sleeps = delays if delays is not None else []
    return SlackResponder(
        client, ["hooks.slack.com"], attempts=attempts, sleep=sleeps.append
    ), calls


def test_a_2xx_delivers_the_message_as_json_in_one_attempt():
    slack, calls = responder([200])

    slack.post(URL, MESSAGE)

    assert len(calls) == 1
    assert calls[0].headers["content-type"] == "application/json"
    assert httpx.Response(200, content=calls[0].content).json() == MESSAGE


def test_5xx_and_connection_errors_are_retried_with_bounded_jittered_sleeps():
    sleeps: list[float] = []
    slack, calls = responder([503, "down", 200], delays=sleeps)

    slack.post(URL, MESSAGE)

    assert len(calls) == 3
    assert len(sleeps) == 2
    assert 0 <= sleeps[0] <= 0.5 and 0 <= sleeps[1] <= 1.0


def test_a_4xx_is_never_retried_and_is_permanent():
    slack, calls = responder([404, 200])

    with pytest.raises(PermanentError, match="HTTP 404"):
        slack.post(URL, MESSAGE)
    assert len(calls) == 1


def test_when_every_attempt_fails_the_error_is_transient_so_the_task_retries_later():
    slack, calls = responder([500])

    with pytest.raises(TransientError, match="after 3 attempts: HTTP 500"):
        slack.post(URL, MESSAGE)
    assert len(calls) == 3


def test_a_url_off_the_allowlist_is_never_contacted():
    slack, calls = responder([200])

    with pytest.raises(ResponseUrlRefused):
        slack.post("https://attacker.example/hook", MESSAGE)
    assert calls == []


@pytest.mark.parametrize("url", ["https://localhost/x", "http://127.0.0.1:9/x", "http://[::1]:9/x"])
def test_loopback_hosts_on_the_allowlist_may_use_http(url):
    assert check_response_url(url, ["localhost", "127.0.0.1", "::1"]) == url


@pytest.mark.parametrize(
    "url", ["http://10.0.0.5/x", "https://127.0.0.1:notaport/x", "gopher://127.0.0.1/x", 42]
)
def test_other_schemes_private_hosts_and_malformed_urls_are_refused(url):
    with pytest.raises(ResponseUrlRefused):
        check_response_url(url, ["10.0.0.5", "127.0.0.1"])


def test_the_redis_replay_guard_accepts_a_signature_once_and_expires_it():
    client = fakeredis.FakeRedis()
    guard = RedisReplayGuard(client, prefix="t:")

    assert guard.first_seen("v0=abc", 600) is True
    assert guard.first_seen("v0=abc", 600) is False
    assert guard.first_seen("v0=abd", 600) is True
    [key] = [k for k in client.keys("t:*") if client.ttl(k) > 0][:1]
    assert 0 < client.ttl(key) <= 600
