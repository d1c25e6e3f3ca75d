"""Builders of realistic alerts and batches for tests."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from pipeline.events import AlertBatch, AlertReceived, alert_event_id

T0 = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)


def make_alert(alertname: str = "HighCPU", service: str = "billing", instance: str = "i-0abc12345678",
               *, status: str = "firing", starts_at: datetime = T0, ends_at: datetime | None = None,
               severity: str = "critical") -> AlertReceived:
    labels = {"alertname": alertname, "service": service, "instance": instance, "severity": severity}
    fingerprint = hashlib.sha256(f"{alertname}|{service}|{instance}".encode()).hexdigest()[:16]
    return AlertReceived(
        event_id=alert_event_id(fingerprint, status, starts_at), fingerprint=fingerprint, status=status,
        labels=labels, annotations={"summary": f"{alertname} on {instance}"}, starts_at=starts_at,
        ends_at=ends_at, generator_url="http://prometheus/graph", group_key="g", receiver="sco")


def resolved(alert: AlertReceived, after: timedelta = timedelta(minutes=5)) -> AlertReceived:
    ends_at = alert.starts_at + after
    return AlertReceived(
        event_id=alert_event_id(alert.fingerprint, "resolved", alert.starts_at), fingerprint=alert.fingerprint,
        status="resolved", labels=alert.labels, annotations=alert.annotations, starts_at=alert.starts_at,
        ends_at=ends_at, generator_url=alert.generator_url, group_key=alert.group_key, receiver=alert.receiver)


def batch(*alerts: AlertReceived, truncated: int = 0) -> AlertBatch:
    return AlertBatch(alerts=tuple(alerts), group_key="g", receiver="sco", truncated_alerts=truncated,
                      external_url="http://alertmanager:9093")
