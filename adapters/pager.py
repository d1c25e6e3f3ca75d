"""Sending pages over HTTP: Slack incoming webhooks, Slack's Web API (chat.postMessage with the
bot token) and PagerDuty-Events-v2-shaped webhooks."""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.errors import PermanentError, TransientError
from pipeline.escalation import PageTarget


class HttpPager:
    """Posts a page as JSON; 4xx is permanent (a wrong URL or key), 5xx and network errors transient."""

    def __init__(self, client: httpx.Client, slack_bot_token: str | None = None) -> None:
        self._client = client
        self._slack_bot_token = slack_bot_token

    def send(self, target: PageTarget, message: dict[str, Any]) -> None:
        headers = {}
        if target.kind == "slack_api":
            if not self._slack_bot_token:
                raise PermanentError(f"page to {target.name}: SCO_SLACK_BOT_TOKEN is not set")
            headers["Authorization"] = f"Bearer {self._slack_bot_token}"
        try:
            answer = self._client.post(target.url, json=message, headers=headers)
        except httpx.HTTPError as exc:
            raise TransientError(f"page to {target.name} not delivered: {exc}") from exc
        if answer.status_code == 429 or answer.status_code >= 500:
            raise TransientError(f"page to {target.name}: HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise PermanentError(f"page to {target.name} refused: HTTP {answer.status_code}")
        if target.kind == "slack_api":
            _slack_ok(target, answer)


def _slack_ok(target: PageTarget, answer: httpx.Response) -> None:
    """Slack's Web API answers 200 with {"ok": false, "error": ...} when it refuses."""
    try:
        body = answer.json()
    except ValueError as exc:
        raise TransientError(f"page to {target.name}: Slack answered no JSON") from exc
    if not body.get("ok"):
        error = str(body.get("error") or "unknown error")[:100]
        if error == "ratelimited":
            raise TransientError(f"page to {target.name}: Slack rate-limited it")
        raise PermanentError(f"page to {target.name} refused by Slack: {error}")


class RecordingPager:
    """A Pager for tests: keeps what it would have sent; `failing` names targets that fail."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failing = failing

    def send(self, target: PageTarget, message: dict[str, Any]) -> None:
        if target.name in self.failing:
            raise TransientError(f"{target.name} is down")
        self.sent.append((target.name, message))
