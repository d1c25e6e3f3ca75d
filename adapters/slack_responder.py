"""Posting chat answers to a command's response_url: allowlisted hosts only, retried with jitter on 5xx."""

from __future__ import annotations

import ipaddress
import random
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

import httpx
import structlog

from pipeline.errors import InvalidInput, PermanentError, TransientError

log = structlog.get_logger("adapters.slack_responder")

SLACK_RESPONSE_HOST = "hooks.slack.com"
_LOOPBACK_NAMES = frozenset({"localhost"})


class ResponseUrlRefused(InvalidInput):
    """A response_url that is not https on an allowlisted host: we never POST there."""


def check_response_url(url: object, allowed_hosts: Iterable[str]) -> str:
    """`url` when it is https:// on an allowed host (http:// only on a loopback host), else refused."""
    if not isinstance(url, str) or not url or len(url) > 2048:
        raise ResponseUrlRefused("response_url must be a URL of at most 2048 characters")
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ResponseUrlRefused(f"response_url is not a valid URL: {exc}") from exc
    if parts.username or parts.password:
        raise ResponseUrlRefused("response_url must not carry credentials")
    if host not in {h.lower() for h in allowed_hosts}:
        raise ResponseUrlRefused(
            f"response_url host {host[:80]!r} is not allowed (SCO_CHAT_RESPONSE_URL_HOSTS)"
        )
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(host)):
        return url
    raise ResponseUrlRefused("response_url must use https (plain http only on a loopback host)")


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class SlackResponder:
    """POSTs to response_url with httpx: retries 5xx and connection errors with full jitter, never 4xx."""

    def __init__(
        self,
        client: httpx.Client,
        allowed_hosts: Iterable[str],
        *,
        attempts: int = 3,
        base_delay_s: float = 0.25,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._allowed = frozenset(h.lower() for h in allowed_hosts)
        self._attempts = attempts
        self._base_delay_s = base_delay_s
        self._sleep = sleep

    def post(self, url: str, message: dict[str, Any]) -> None:
        """Deliver or raise: PermanentError on a 4xx or a refused URL, TransientError when retries ran out."""
        check_response_url(url, self._allowed)
        for attempt in range(1, self._attempts + 1):
            try:
                response = self._client.post(url, json=message)
            except httpx.TransportError as exc:
                failure = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code < 300:
                    return
                if response.status_code < 500:
                    # Slack answers 404 once a response_url expired (30 min) or was used 5 times.
                    raise PermanentError(
                        f"response_url refused the answer: HTTP {response.status_code}"
                    )
                failure = f"HTTP {response.status_code}"
            log.warning("chat.reply_retry", attempt=attempt, error=failure)
            if attempt < self._attempts:
                self._sleep(random.uniform(0, self._base_delay_s * 2**attempt))
        raise TransientError(
            f"response_url did not take the answer after {self._attempts} attempts: {failure}"
        )


class InMemoryResponder:
    """A Responder for unit tests: keeps what it would have posted (after the same URL check)."""

    def __init__(self, allowed_hosts: Iterable[str] = (SLACK_RESPONSE_HOST,)) -> None:
        self.allowed = frozenset(allowed_hosts)
        self.posted: list[tuple[str, dict[str, Any]]] = []

    def post(self, url: str, message: dict[str, Any]) -> None:
        check_response_url(url, self.allowed)
        self.posted.append((url, message))
