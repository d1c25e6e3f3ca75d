"""Silences in Alertmanager (API v2), mirroring the silences SmartCloudOps stores for chat."""

from __future__ import annotations

import re
from datetime import datetime

import httpx

from pipeline.errors import PermanentError, TransientError
from pipeline.events import to_utc

_SILENCE_ID = re.compile(r"[0-9A-Za-z-]{1,64}")


class AlertmanagerSilences:
    """Creates and expires silences through Alertmanager's `/api/v2/silences`."""

    def __init__(self, client: httpx.Client, base_url: str) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")

    def create(
        self,
        *,
        alertname: str | None,
        service: str | None,
        starts_at: datetime,
        ends_at: datetime,
        created_by: str,
        comment: str,
    ) -> str:
        """Create an equality-matcher silence and return Alertmanager's silence id."""
        matchers = [
            {"name": name, "value": value, "isRegex": False, "isEqual": True}
            for name, value in (("alertname", alertname), ("service", service))
            if value is not None
        ]
        body = {
            "matchers": matchers,
            "startsAt": to_utc(starts_at).isoformat(),
            "endsAt": to_utc(ends_at).isoformat(),
            "createdBy": created_by,
            "comment": comment or "via chat",
        }
        response = self._send("POST", "/api/v2/silences", body)
        silence_id = response.json().get("silenceID")
        if not isinstance(silence_id, str) or not silence_id:
            raise PermanentError("Alertmanager answered without a silenceID")
        return silence_id

    def expire(self, silence_id: str) -> None:
        """Expire a silence now; one Alertmanager no longer knows is already gone."""
        if not _SILENCE_ID.fullmatch(silence_id):
            raise PermanentError(f"not an Alertmanager silence id: {silence_id[:64]!r}")
        self._send("DELETE", f"/api/v2/silence/{silence_id}", None, missing_ok=True)

    def _send(
        self, method: str, path: str, body: dict | None, missing_ok: bool = False
    ) -> httpx.Response:
        try:
            response = self._client.request(method, self._base_url + path, json=body)
        except httpx.TransportError as exc:
            raise TransientError(f"Alertmanager unreachable: {exc}") from exc
        if missing_ok and response.status_code == 404:
            return response
        if response.status_code >= 500:
            raise TransientError(f"Alertmanager answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentError(
                f"Alertmanager refused the silence: HTTP {response.status_code} "
                f"{response.text[:200]}"
            )
        return response
