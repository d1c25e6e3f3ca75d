"""The chat endpoints: Slack signatures (good, bad, stale, replayed), form parsing, clear 4xx, allowlisted response_url."""

from __future__ import annotations

import json
import time
from urllib.parse import urlencode

import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from consumers.app import create_app
from consumers.deps import ApiDeps
from consumers.chat import CHAT_COMMAND_RECEIVED, HANDLE_CHAT_COMMAND
from consumers.publisher import InMemoryPublisher
from consumers.slack_signature import expected_signature
from services.ports import InMemoryReplayGuard

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "api-token-for-chat-tests"
WEBHOOK_TOKEN = "webhook-token-for-chat-tests"
RESPONSE_URL = "https://hooks.slack.com/commands/T0001/1234/abcd"


@pytest.fixture
def publisher():
    return InMemoryPublisher()


@pytest.fixture
def client(publisher, tmp_path):
    settings = load_settings(
        data_dir=tmp_path,
        webhook_token=WEBHOOK_TOKEN,
        api_token=TOKEN,
        api_token_role="operator",
        slack_signing_secret=SECRET,
        chat_response_url_hosts="hooks.slack.com,127.0.0.1",
    )
    guard = InMemoryReplayGuard(time.time)
    deps = ApiDeps(settings=settings, publisher=publisher, chat_replay_guard=guard)
    with TestClient(create_app(deps)) as test_client:
        yield test_client


def slash_form(**overrides: str) -> bytes:
    fields = {
        "token": "legacy",
        "team_id": "T0001",
        "channel_id": "C0CHAN01",
        "user_id": "U03BOB00003",
        "user_name": "bob",
        "command": "/ops",
        "text": "restart checkout",
        "response_url": RESPONSE_URL,
        "trigger_id": "13345224609.738474920.8088930838d88f008e0",
    }
    fields.update(overrides)
    return urlencode(fields).encode()


def signed_post(
    client, body: bytes, *, timestamp: int | None = None, secret: str = SECRET, headers=None
):
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    sent = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": expected_signature(secret.encode(), stamp, body),
        **(headers or {}),
    }
    return client.post("/v1/chat/slack", content=body, headers=sent)


class TestSlackSignature:
    def test_a_correctly_signed_command_is_acknowledged_at_once_and_queued_as_one_event(
        self, client, publisher
    ):
        response = signed_post(client, slash_form())

        assert response.status_code == 200
        answer = response.json()
        assert answer["response_type"] == "ephemeral"
        assert "Working on: restart checkout" in answer["text"]
        [(task, event)] = publisher.sent
        assert task == HANDLE_CHAT_COMMAND
        assert event.type == CHAT_COMMAND_RECEIVED
        assert event.data == {
            "user": "U03BOB00003",
            "channel": "C0CHAN01",
            "text": "restart checkout",
            "response_url": RESPONSE_URL,
            "source": "slack",
            "user_name": "bob",
            "command": "/ops",
            "team": "T0001",
        }

    def test_a_signature_made_with_another_secret_is_refused_with_401(self, client, publisher):
        response = signed_post(client, slash_form(), secret="not-the-signing-secret")

        assert response.status_code == 401
        assert "does not match" in response.json()["error"]
        assert publisher.sent == []

    def test_a_body_changed_after_signing_is_refused(self, client, publisher):
        stamp = str(int(time.time()))
        signature = expected_signature(SECRET.encode(), stamp, slash_form())
        response = client.post(
            "/v1/chat/slack",
            content=slash_form(text="approve 42"),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Slack-Request-Timestamp": stamp,
                "X-Slack-Signature": signature,
            },
        )

        assert response.status_code == 401
        assert publisher.sent == []

    def test_a_timestamp_older_than_five_minutes_is_refused_as_stale(self, client, publisher):
        response = signed_post(client, slash_form(), timestamp=int(time.time()) - 301)

        assert response.status_code == 401
        assert "more than 300 s" in response.json()["error"]
        assert publisher.sent == []

    def test_the_same_signed_request_sent_twice_is_refused_the_second_time(self, client, publisher):
        body, stamp = slash_form(), int(time.time())

        first = signed_post(client, body, timestamp=stamp)
        replay = signed_post(client, body, timestamp=stamp)

        assert first.status_code == 200
        assert replay.status_code == 401
        assert "replay" in replay.json()["error"]
        assert len(publisher.sent) == 1

    def test_missing_signature_headers_are_refused(self, client, publisher):
        response = client.post(
            "/v1/chat/slack",
            content=slash_form(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )

        assert response.status_code == 401
        assert "X-Slack-Request-Timestamp" in response.json()["error"]

    def test_without_a_signing_secret_every_slack_request_is_refused_with_503(
        self, publisher, tmp_path
    ):
        settings = load_settings(data_dir=tmp_path, webhook_token=TOKEN)
        deps = ApiDeps(
            settings=settings,
            publisher=publisher,
            chat_replay_guard=InMemoryReplayGuard(time.time),
        )
        with TestClient(create_app(deps)) as unconfigured:
            response = signed_post(unconfigured, slash_form())

        assert response.status_code == 503
        assert "SCO_SLACK_SIGNING_SECRET" in response.json()["error"]


class TestSlackForm:
    def test_plus_signs_and_percent_escapes_are_decoded_like_slack_sends_them(
        self, client, publisher
    ):
        body = (
            b"user_id=U1&channel_id=C1&text=silence+HighCPU+on+ledger+for+2h%3B+rm+-rf+%2F&response_url="
            + b"https%3A%2F%2Fhooks.slack.com%2Fcommands%2Fx&command=%2Fops"
        )

        assert signed_post(client, body).status_code == 200
        assert publisher.sent[0][1].data["text"] == "silence HighCPU on ledger for 2h; rm -rf /"

    def test_an_empty_text_is_accepted_and_means_help(self, client, publisher):
        response = signed_post(client, slash_form(text=""))

        assert response.status_code == 200
        assert publisher.sent[0][1].data["text"] == ""

    def test_a_form_without_a_user_id_is_a_422_naming_the_field(self, client, publisher):
        body = urlencode(
            {"channel_id": "C1", "text": "status", "response_url": RESPONSE_URL}
        ).encode()

        response = signed_post(client, body)

        assert response.status_code == 422
        assert response.json()["error"] == "field 'user' is required"
        assert publisher.sent == []

    def test_a_user_id_with_separators_cannot_key_someone_elses_context(self, client, publisher):
        response = signed_post(client, slash_form(user_id="U1:C2"))

        assert response.status_code == 422
        assert "not a plain id" in response.json()["error"]

    def test_a_json_body_on_the_slack_endpoint_is_a_415(self, client):
        response = signed_post(
            client, b'{"text": "status"}', headers={"Content-Type": "application/json"}
        )

        assert response.status_code == 415

    def test_a_body_that_is_not_a_form_is_a_400(self, client):
        response = signed_post(client, b"\xff\xfe not utf-8")

        assert response.status_code == 400

    def test_an_overlong_text_is_refused_with_a_422(self, client):
        response = signed_post(client, slash_form(text="status " * 400))

        assert response.status_code == 422
        assert "longer than 2000" in response.json()["error"]

    def test_when_the_broker_is_down_slack_gets_an_ephemeral_explanation_not_a_5xx(
        self, client, publisher
    ):
        publisher.down = True

        response = signed_post(client, slash_form())

        assert response.status_code == 200
        assert response.json()["response_type"] == "ephemeral"
        assert "cannot take commands right now" in response.json()["text"]


class TestResponseUrlAllowlist:
    @pytest.mark.parametrize(
        "url",
        [
            "https://evil.example.com/steal",
            "http://hooks.slack.com/commands/x",  # plain http off loopback
            "https://hooks.slack.com.evil.example/x",  # a suffix is not the host
            "https://user:pw@hooks.slack.com/x",  # credentials in the URL
            "file:///etc/passwd",
            "",
        ],
    )
    def test_a_response_url_off_the_allowlist_is_refused_before_anything_is_queued(
        self, client, publisher, url
    ):
        response = signed_post(client, slash_form(response_url=url))

        assert response.status_code == 400
        assert "response_url" in response.json()["error"]
        assert publisher.sent == []

    def test_a_configured_loopback_host_may_use_plain_http_for_tests(self, client, publisher):
        response = signed_post(client, slash_form(response_url="http://127.0.0.1:8765/answer"))

        assert response.status_code == 200
        assert publisher.sent[0][1].data["response_url"] == "http://127.0.0.1:8765/answer"


class TestGenericCommand:
    def post(self, client, payload, token=TOKEN):
        return client.post(
            "/v1/chat/command",
            content=json.dumps(payload),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )

    def test_a_command_is_queued_and_answered_202_with_its_event_id(self, client, publisher):
        response = self.post(client, {"channel": "ops", "text": "status of web"})

        assert response.status_code == 202
        [(task, event)] = publisher.sent
        assert response.json()["event_id"] == event.id
        assert task == HANDLE_CHAT_COMMAND
        assert event.data["user"] == "api-token"  # the authenticated caller, not a body field
        assert event.data["principal"]["roles"] == ["operator"]
        assert event.data["source"] == "api"
        assert event.data["response_url"] is None

    def test_without_the_api_token_it_is_a_401(self, client, publisher):
        response = self.post(client, {"user": "u", "channel": "c", "text": "status"}, token="wrong")

        assert response.status_code == 401
        assert publisher.sent == []

    @pytest.mark.parametrize(
        ("payload", "message"),
        [
            ({"user": "api-token", "text": "status"}, "field 'channel' is required"),
            ({"user": "api-token", "channel": "c", "text": 7}, "field 'text' must be a string"),
            (
                {
                    "user": "api-token",
                    "channel": "c",
                    "text": "x",
                    "response_url": "https://evil.example/x",
                },
                "not allowed",
            ),
            (["not", "an", "object"], "must be a JSON object"),
        ],
    )
    def test_bad_input_is_a_422_that_says_what_is_wrong(self, client, payload, message):
        response = self.post(client, payload)

        assert response.status_code == 422
        assert message in response.json()["error"]

    def test_a_body_naming_another_user_is_a_400(self, client, publisher):
        response = self.post(client, {"user": "U01ADMIN001", "channel": "c", "text": "approve 4"})

        assert response.status_code == 400
        assert "cannot name someone else" in response.json()["error"]
        assert publisher.sent == []

    def test_the_webhook_token_cannot_send_chat_commands(self, client, publisher):
        response = self.post(client, {"channel": "c", "text": "status"}, token=WEBHOOK_TOKEN)

        assert response.status_code == 403
        assert publisher.sent == []

    def test_a_broken_json_body_is_a_400(self, client):
        response = client.post(
            "/v1/chat/command",
            content=b"{not json",
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        )

        assert response.status_code == 400

    def test_when_the_broker_is_down_it_is_a_503_with_retry_after(self, client, publisher):
        publisher.down = True

        response = self.post(client, {"channel": "c", "text": "status"})

        assert response.status_code == 503
        assert response.headers["Retry-After"] == "5"


class TestApiKeyCaller:
    """An API key's principal (`apikey:<name>`) is a chat user like any other, on the JSON endpoint."""

    KEY = "sco_chat-test-key-0123456789abcdef0123456789"

    @pytest.fixture
    def keyed_client(self, publisher, tmp_path):  # type: ignore[no-untyped-def]
        from consumers.auth import Authenticator, InMemoryApiKeys, static_credentials

        settings = load_settings(data_dir=tmp_path, webhook_token=WEBHOOK_TOKEN, api_token=TOKEN,
                                 api_token_role="operator", chat_response_url_hosts="127.0.0.1")
        keys = InMemoryApiKeys({self.KEY: ("ci-bot", "operator")})
        deps = ApiDeps(settings=settings, publisher=publisher, chat_replay_guard=InMemoryReplayGuard(time.time),
                       authenticator=Authenticator(static=static_credentials(settings), api_keys=keys))
        with TestClient(create_app(deps)) as test_client:
            yield test_client

    def test_an_api_key_caller_is_queued_as_its_principal(self, keyed_client, publisher):  # type: ignore[no-untyped-def]
        response = keyed_client.post("/v1/chat/command", json={"channel": "ops", "text": "status of web"},
                                     headers={"Authorization": f"Bearer {self.KEY}"})

        assert response.status_code == 202, response.text
        [(_, event)] = publisher.sent
        assert event.data["user"] == "apikey:ci-bot"

    @pytest.mark.parametrize("user", ["apikey:", "apikey:a:b", "other:ci-bot", "apikey:ci bot", ":ci-bot"])
    def test_only_the_api_key_form_may_carry_a_colon(self, user) -> None:  # type: ignore[no-untyped-def]
        from pipeline.errors import InvalidInput
        from pipeline.nlu.context import check_chat_id

        with pytest.raises(InvalidInput):
            check_chat_id("user", user)
        with pytest.raises(InvalidInput):
            check_chat_id("channel", "apikey:ci-bot")  # a channel never carries one
