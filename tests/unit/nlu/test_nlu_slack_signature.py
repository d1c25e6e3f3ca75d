"""Slack request signatures: good, bad, stale, missing and replayed requests."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from consumers.slack_signature import (
    BadSignature,
    MissingSignatureHeader,
    ReplayedRequest,
    StaleTimestamp,
    expected_signature,
    verify_slack_request,
    verify_slack_signature,
)
from pipeline.errors import InvalidInput
from services.ports import InMemoryReplayGuard

SECRET = b"8f742231b10e8888abcd99yyyzzz85a5"
BODY = b"token=x&team_id=T1&user_id=U1&command=%2Fops&text=restart+billing"
NOW = 1_531_420_618


def sign(timestamp: int | str, body: bytes = BODY, secret: bytes = SECRET) -> str:
    basestring = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(secret, basestring, hashlib.sha256).hexdigest()


def test_slack_documented_example_signature():
    # The worked example from Slack's "Verifying requests from Slack" guide.
    body = (b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
            b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
            b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
            b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
            b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c")
    assert expected_signature(SECRET, "1531420618", body) == (
        "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503")


def test_a_good_signature_passes():
    assert verify_slack_signature(SECRET, str(NOW), sign(NOW), BODY, now=NOW + 10) is None


def test_a_signature_with_another_secret_is_bad():
    with pytest.raises(BadSignature, match="does not match"):
        verify_slack_signature(SECRET, str(NOW), sign(NOW, secret=b"other"), BODY, now=NOW)


def test_a_tampered_body_is_bad():
    with pytest.raises(BadSignature):
        verify_slack_signature(SECRET, str(NOW), sign(NOW), BODY + b"&x=1", now=NOW)


def test_a_timestamp_swapped_after_signing_is_bad():
    with pytest.raises(BadSignature):
        verify_slack_signature(SECRET, str(NOW + 1), sign(NOW), BODY, now=NOW)


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_a_timestamp_more_than_300_s_away_is_stale(age):
    with pytest.raises(StaleTimestamp, match="more than 300 s"):
        verify_slack_signature(SECRET, str(NOW), sign(NOW), BODY, now=NOW + age)


def test_exactly_at_the_tolerance_is_still_fresh():
    verify_slack_signature(SECRET, str(NOW), sign(NOW), BODY, now=NOW + 300)


@pytest.mark.parametrize("timestamp", ["abc", "1.5", "-5", "１２３", "9" * 20])
def test_a_malformed_timestamp_is_refused(timestamp):
    with pytest.raises(StaleTimestamp, match="Unix seconds"):
        verify_slack_signature(SECRET, timestamp, sign(timestamp), BODY, now=NOW)


@pytest.mark.parametrize(
    ("timestamp", "signature", "missing"),
    [(None, "v0=ab", "X-Slack-Request-Timestamp"), ("", "v0=ab", "X-Slack-Request-Timestamp"),
     (str(NOW), None, "X-Slack-Signature"), (str(NOW), "", "X-Slack-Signature")],
)
def test_a_missing_header_is_named(timestamp, signature, missing):
    with pytest.raises(MissingSignatureHeader, match=f"missing {missing} header"):
        verify_slack_signature(SECRET, timestamp, signature, BODY, now=NOW)


def test_an_empty_secret_refuses_everything():
    with pytest.raises(InvalidInput, match="signing secret is empty"):
        verify_slack_signature(b"", str(NOW), sign(NOW, secret=b""), BODY, now=NOW)


def test_errors_belong_to_the_invalid_input_family():
    assert issubclass(ReplayedRequest, InvalidInput) and issubclass(BadSignature, InvalidInput)


class Clock:
    def __init__(self) -> None:
        self.now = float(NOW)

    def __call__(self) -> float:
        return self.now


def test_the_same_signed_request_twice_is_a_replay():
    guard = InMemoryReplayGuard(Clock())
    verify_slack_request(SECRET, str(NOW), sign(NOW), BODY, NOW, guard)
    with pytest.raises(ReplayedRequest, match="already received"):
        verify_slack_request(SECRET, str(NOW), sign(NOW), BODY, NOW + 1, guard)


def test_different_requests_are_not_replays():
    guard = InMemoryReplayGuard(Clock())
    verify_slack_request(SECRET, str(NOW), sign(NOW), BODY, NOW, guard)
    verify_slack_request(SECRET, str(NOW + 1), sign(NOW + 1), BODY, NOW + 1, guard)


def test_a_forged_request_is_not_remembered():
    guard = InMemoryReplayGuard(Clock())
    with pytest.raises(BadSignature):
        verify_slack_request(SECRET, str(NOW), "v0=" + "0" * 64, BODY, NOW, guard)
    assert guard.first_seen("v0=" + "0" * 64, 600) is True


def test_the_replay_guard_forgets_after_its_window():
    clock = Clock()
    guard = InMemoryReplayGuard(clock)
    assert guard.first_seen("v0=aa", 600) is True
    clock.now += 599
    assert guard.first_seen("v0=aa", 600) is False
    clock.now += 2
    assert guard.first_seen("v0=aa", 600) is True
