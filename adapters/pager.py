"""Sending pages over HTTP: Slack incoming webhooks and PagerDuty-Events-v2-shaped webhooks."""

from __future__ import annotations

from typing import Any

import httpx

from pipeline.errors import PermanentError, TransientError
from pipeline.escalation import PageTarget


class HttpPager:
    """Posts a page as JSON; 4xx is permanent (a wrong URL or key), 5xx and network errors transient."""

    def __init__(self, client: httpx.Client) -> None:
        self._client = client

    def send(self, target: PageTarget, message: dict[str, Any]) -> None:
        try:
            answer = self._client.post(target.url, json=message)
        except httpx.HTTPError as exc:
            raise TransientError(f"page to {target.name} not delivered: {exc}") from exc
        if answer.status_code >= 500:
            raise TransientError(f"page to {target.name}: HTTP {answer.status_code}")
        if answer.status_code >= 400:
            raise PermanentError(f"page to {target.name} refused: HTTP {answer.status_code}")


class RecordingPager:
    """A Pager for tests: keeps what it would have sent; `failing` names targets that fail."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.sent: list[tuple[str, dict[str, Any]]] = []
        self.failing = failing

    def send(self, target: PageTarget, message: dict[str, Any]) -> None:
        if target.name in self.failing:
            raise TransientError(f"{target.name} is down")
        self.sent.append((target.name, message))
