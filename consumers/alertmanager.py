"""Alertmanager webhook (version 4) payloads, validated and turned into one AlertBatch."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from pipeline.errors import InvalidInput
from pipeline.events import AlertBatch, AlertReceived, alert_event_id, to_utc

LabelName = Annotated[str, StringConstraints(min_length=1, max_length=256)]
LabelValue = Annotated[str, StringConstraints(max_length=4096)]
GO_ZERO_TIME_YEAR = 1  # Alertmanager sends 0001-01-01T00:00:00Z as endsAt of a firing alert


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# Labels the store indexes in columns of bounded width; longer values are refused up front (422)
# rather than failing in the worker.
INDEXED_LABEL_LIMITS = {"alertname": 256, "service": 256, "severity": 64}


class WebhookAlert(_Strict):
    status: Literal["firing", "resolved"]
    labels: dict[LabelName, LabelValue]
    annotations: dict[LabelName, LabelValue] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")] | None = None

    @field_validator("labels")
    @classmethod
    def _indexed_labels_fit(cls, labels: dict[str, str]) -> dict[str, str]:
        for name, limit in INDEXED_LABEL_LIMITS.items():
            if len(labels.get(name, "")) > limit:
                raise ValueError(f"label {name!r} is longer than {limit} characters")
        return labels


class WebhookPayload(_Strict):
    version: str
    groupKey: str
    truncatedAlerts: int = Field(default=0, ge=0)
    status: Literal["firing", "resolved"]
    receiver: str
    groupLabels: dict[LabelName, LabelValue] = Field(default_factory=dict)
    commonLabels: dict[LabelName, LabelValue] = Field(default_factory=dict)
    commonAnnotations: dict[LabelName, LabelValue] = Field(default_factory=dict)
    externalURL: str = ""
    alerts: list[WebhookAlert] = Field(min_length=1, max_length=10_000)


class MalformedJson(InvalidInput):
    """The body is not JSON at all (400)."""


class UnprocessablePayload(InvalidInput):
    """The body is JSON but not a version 4 webhook payload (422)."""


def parse_webhook(body: bytes) -> AlertBatch:
    """Validate a webhook body and normalise its alerts; errors name each bad field."""
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedJson(f"body is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise UnprocessablePayload(describe_errors(exc)) from exc
    if payload.version != "4":
        raise UnprocessablePayload(f"version: unsupported webhook version {payload.version!r}, expected '4'")
    return AlertBatch(
        alerts=tuple(_normalise(alert, payload) for alert in payload.alerts),
        group_key=payload.groupKey,
        receiver=payload.receiver,
        truncated_alerts=payload.truncatedAlerts,
        external_url=payload.externalURL,
        group_labels=payload.groupLabels,
    )


def describe_errors(exc: ValidationError) -> str:
    """One readable line per problem: `alerts.0.startsAt: Input should be a valid datetime`."""
    parts = []
    for error in exc.errors()[:20]:
        where = ".".join(str(part) for part in error["loc"]) or "body"
        parts.append(f"{where}: {error['msg']}")
    return "; ".join(parts)


def _normalise(alert: WebhookAlert, payload: WebhookPayload) -> AlertReceived:
    starts_at = to_utc(alert.startsAt)
    ends_at = to_utc(alert.endsAt) if alert.endsAt and alert.endsAt.year > GO_ZERO_TIME_YEAR else None
    fingerprint = alert.fingerprint or label_fingerprint(alert.labels)
    return AlertReceived(
        event_id=alert_event_id(fingerprint, alert.status, starts_at),
        fingerprint=fingerprint,
        status=alert.status,
        labels=alert.labels,
        annotations=alert.annotations,
        starts_at=starts_at,
        ends_at=ends_at,
        generator_url=alert.generatorURL,
        group_key=payload.groupKey,
        receiver=payload.receiver,
    )


def label_fingerprint(labels: dict[str, str]) -> str:
    """Fingerprint of a label set, for senders that omit Alertmanager's own."""
    canonical = json.dumps(labels, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
