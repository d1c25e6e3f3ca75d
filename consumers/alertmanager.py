"""Alertmanager webhook (version 4) payloads, validated and turned into one AlertBatch."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from pipeline import limits
from pipeline.correlation import CorrelationPolicy
from pipeline.errors import InvalidInput
from pipeline.events import AlertBatch, AlertReceived, alert_event_id

LabelName = Annotated[str, StringConstraints(min_length=1, max_length=limits.LABEL_NAME_CHARS)]
LabelValue = Annotated[str, StringConstraints(max_length=limits.LABEL_VALUE_CHARS)]
Count = Annotated[int, Field(ge=0, le=limits.INT32_MAX)]
GO_ZERO_TIME_YEAR = 1  # Alertmanager sends 0001-01-01T00:00:00Z as endsAt of a firing alert
DEFAULT_KEY_LABELS = CorrelationPolicy().labels


class _Strict(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class WebhookAlert(_Strict):
    status: Literal["firing", "resolved"]
    labels: dict[LabelName, LabelValue]
    annotations: dict[LabelName, LabelValue] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str = ""
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z]+$")] | None = None


class WebhookPayload(_Strict):
    version: str
    groupKey: str
    truncatedAlerts: Count = 0
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


def parse_webhook(body: bytes, key_labels: tuple[str, ...] = DEFAULT_KEY_LABELS) -> AlertBatch:
    """Validate a webhook body and normalise its alerts; errors name each bad field.

    `key_labels` are the correlation policy's labels: their joined key must fit its column too.
    """
    try:
        payload = WebhookPayload.model_validate_json(body)
    except ValidationError as exc:
        if any(error["type"] == "json_invalid" for error in exc.errors()):
            raise MalformedJson(f"body is not valid JSON: {exc.errors()[0]['msg']}") from exc
        raise UnprocessablePayload(describe_errors(exc)) from exc
    if payload.version != "4":
        raise UnprocessablePayload(f"version: unsupported webhook version {payload.version!r}, expected '4'")
    for name, text in (("groupKey", payload.groupKey), ("receiver", payload.receiver),
                       ("externalURL", payload.externalURL)):
        _within_limits(f"{name}", lambda text=text, name=name: limits.check_text(text, name))
    _within_limits("groupLabels", lambda: limits.check_texts(payload.groupLabels.items(), "group label"))
    fingerprints = [alert.fingerprint or label_fingerprint(alert.labels) for alert in payload.alerts]
    # The usual webhook passes every field limit at once; otherwise each alert is checked in turn, so the
    # first bad one is named (a field passed here cannot fail later: the order of the errors is kept).
    fields_checked = limits.alerts_within_limits(
        ((alert.labels, alert.annotations, fingerprint, alert.generatorURL)
         for alert, fingerprint in zip(payload.alerts, fingerprints)), key_labels=tuple(key_labels))
    alerts = []
    for index, alert in enumerate(payload.alerts):  # as _within_limits does, without a closure per alert
        try:
            alerts.append(_normalise(alert, fingerprints[index], payload, key_labels, fields_checked))
        except limits.OutOfLimits as exc:
            raise UnprocessablePayload(f"alerts.{index}: {exc}") from exc
    return AlertBatch(
        alerts=tuple(alerts),
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


def _within_limits(where: str, check):  # type: ignore[no-untyped-def]
    try:
        return check()
    except limits.OutOfLimits as exc:
        raise UnprocessablePayload(f"{where}: {exc}") from exc


def _normalise(alert: WebhookAlert, fingerprint: str, payload: WebhookPayload, key_labels: tuple[str, ...],
               fields_checked: bool) -> AlertReceived:
    starts_at = limits.utc_within_limits(alert.startsAt, "startsAt")
    # Go's zero time (year 1, whatever the offset) is "no end"; checked before any conversion can overflow.
    is_zero_time = alert.endsAt is None or alert.endsAt.year <= GO_ZERO_TIME_YEAR
    ends_at = None if is_zero_time else limits.utc_within_limits(alert.endsAt, "endsAt")
    if not fields_checked:
        limits.check_alert_fields(alert.labels, alert.annotations, key_labels=key_labels, fingerprint=fingerprint,
                                  generator_url=alert.generatorURL)
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
