"""Verify Slack's request signature (v0 HMAC-SHA256) and refuse replayed requests.

Slack signs `v0:{timestamp}:{raw body}` with the app's signing secret and sends
`X-Slack-Request-Timestamp` and `X-Slack-Signature: v0=<hex>`. A request is accepted when
the timestamp is within the tolerance of now, the HMAC matches (constant-time compare), and
the same signature was not already accepted inside the window.
"""

from __future__ import annotations

import hashlib
import hmac

from pipeline.errors import InvalidInput
from services.ports import ReplayGuard

SIGNATURE_VERSION = "v0"
DEFAULT_TOLERANCE_S = 300


class SlackSignatureError(InvalidInput):
    """A Slack request failed authentication; the edge answers 401."""


class MissingSignatureHeader(SlackSignatureError):
    """X-Slack-Request-Timestamp or X-Slack-Signature is absent or empty."""


class StaleTimestamp(SlackSignatureError):
    """The request timestamp is malformed or too far from now."""


class BadSignature(SlackSignatureError):
    """The signature does not match the body signed with our secret."""


class ReplayedRequest(SlackSignatureError):
    """A correctly signed request that was already accepted."""


def verify_slack_signature(
    signing_secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    now: float,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Raise a SlackSignatureError unless the request is signed by Slack and fresh."""
    if not signing_secret:
        raise InvalidInput("the Slack signing secret is empty; refusing every request")
    if not timestamp_header:
        raise MissingSignatureHeader("missing X-Slack-Request-Timestamp header")
    if not signature_header:
        raise MissingSignatureHeader("missing X-Slack-Signature header")
    timestamp = _timestamp(timestamp_header)
    if abs(now - timestamp) > tolerance_s:
        raise StaleTimestamp(
            f"X-Slack-Request-Timestamp is {int(abs(now - timestamp))} s away from now "
            f"(more than {tolerance_s} s): stale or replayed request"
        )
    expected = expected_signature(signing_secret, timestamp_header.strip(), raw_body)
    if not hmac.compare_digest(expected.encode(), signature_header.strip().encode()):
        raise BadSignature("X-Slack-Signature does not match the request body")


def verify_slack_request(
    signing_secret: bytes,
    timestamp_header: str | None,
    signature_header: str | None,
    raw_body: bytes,
    now: float,
    replay_guard: ReplayGuard,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
) -> None:
    """Verify the signature, then refuse it if this exact request was already accepted."""
    verify_slack_signature(
        signing_secret, timestamp_header, signature_header, raw_body, now, tolerance_s
    )
    # Only verified signatures are recorded, so forged ones cannot fill the cache. The
    # window is twice the tolerance: a timestamp may be up to tolerance_s in the future.
    if not replay_guard.first_seen(signature_header.strip(), 2 * tolerance_s):
        raise ReplayedRequest("this signed Slack request was already received (replay)")


def expected_signature(signing_secret: bytes, timestamp: str, raw_body: bytes) -> str:
    """`v0=<hex HMAC-SHA256 of v0:{timestamp}:{body}>`, what Slack sends for this request."""
    basestring = f"{SIGNATURE_VERSION}:{timestamp}:".encode() + raw_body
    digest = hmac.new(signing_secret, basestring, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_VERSION}={digest}"


def _timestamp(header: str) -> int:
    text = header.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 12:
        raise StaleTimestamp(f"X-Slack-Request-Timestamp must be Unix seconds, got {text[:20]!r}")
    return int(text)
