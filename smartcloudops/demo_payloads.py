"""Realistic Alertmanager webhook payloads for the demo and the benchmarks."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Any

GO_ZERO_TIME = "0001-01-01T00:00:00Z"


def _rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat().replace("+00:00", "Z")


def alert(alertname: str, service: str, instance: str, *, status: str, starts_at: datetime,
          ends_at: datetime | None = None, severity: str = "critical", run: str = "") -> dict[str, Any]:
    """One alert as Alertmanager sends it, with a stable fingerprint of its labels."""
    labels = {"alertname": alertname, "service": service, "instance": instance, "severity": severity,
              "job": service, "env": "prod", "demo_run": run}
    labels = {k: v for k, v in labels.items() if v}
    fingerprint = hashlib.sha256(repr(sorted(labels.items())).encode()).hexdigest()[:16]
    return {
        "status": status,
        "labels": labels,
        "annotations": {"summary": f"{alertname} on {service} ({instance})",
                        "runbook_url": f"https://runbooks.example.com/{alertname}"},
        "startsAt": _rfc3339(starts_at),
        "endsAt": _rfc3339(ends_at) if ends_at else GO_ZERO_TIME,
        "generatorURL": f"http://prometheus:9090/graph?g0.expr=ALERTS%7Balertname%3D%22{alertname}%22%7D",
        "fingerprint": fingerprint,
    }


def webhook(alerts: list[dict[str, Any]], *, receiver: str = "smartcloudops", truncated: int = 0) -> dict[str, Any]:
    """A version 4 webhook body around alerts that share alertname and service."""
    common = {k: v for k, v in alerts[0]["labels"].items() if all(a["labels"].get(k) == v for a in alerts)}
    status = "firing" if any(a["status"] == "firing" for a in alerts) else "resolved"
    return {
        "version": "4",
        "groupKey": "{}/{}:{alertname=\"%s\", service=\"%s\"}" % (common.get("alertname"), common.get("service")),
        "truncatedAlerts": truncated,
        "status": status,
        "receiver": receiver,
        "groupLabels": {k: common[k] for k in ("alertname", "service") if k in common},
        "commonLabels": common,
        "commonAnnotations": {},
        "externalURL": "http://alertmanager:9093",
        "alerts": alerts,
    }


def demo_story(now: datetime | None = None, run: str = "") -> list[tuple[str, dict[str, Any]]]:
    """The demo's deliveries, in order: firing, a repeated delivery, a second service, resolutions."""
    now = now or datetime.now(timezone.utc)
    t0 = now - timedelta(minutes=5)
    latency = [alert("HighLatency", "checkout", f"i-0c4ec{n}a1b2c3d4e5f", status="firing",
                     starts_at=t0 + timedelta(seconds=20 * n), run=run) for n in range(2)]
    errors = [alert("HighErrorRate", "payments", "i-0fa11e0dbeef0042a", status="firing",
                    starts_at=t0 + timedelta(minutes=1), severity="warning", run=run)]
    resolved = [dict(a, status="resolved", endsAt=_rfc3339(now)) for a in latency]
    return [
        ("checkout: HighLatency fires on two instances", webhook(latency)),
        ("checkout: Alertmanager repeats the same notification", webhook(latency)),
        ("payments: HighErrorRate fires", webhook(errors)),
        ("checkout: the first instance recovers", webhook([resolved[0], latency[1]])),
        ("checkout: the second instance recovers", webhook(resolved)),
    ]
