"""Escalation policies and the page a tier sends: who is told, after how long, in which shape."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

TargetKind = Literal["slack_webhook", "slack_api", "webhook"]
# Slack Web API method a `slack_api` target posts to (a channel id, or a user id for a DM).
SLACK_POST_MESSAGE_URL = "https://slack.com/api/chat.postMessage"


@dataclass(frozen=True, slots=True)
class PageTarget:
    """One recipient: a Slack incoming webhook, a Slack channel or user through the Web API
    (`channel`, with the bot token of the deployment), or a webhook in PagerDuty Events v2 shape."""

    name: str
    kind: TargetKind
    url: str
    routing_key: str = ""
    channel: str = ""


@dataclass(frozen=True, slots=True)
class Tier:
    """Targets paged when the tier is due; `after_s` counts from the previous tier (or the opening)."""

    after_s: float
    targets: tuple[PageTarget, ...]


@dataclass(frozen=True, slots=True)
class EscalationPolicy:
    name: str
    tiers: tuple[Tier, ...]


@dataclass(frozen=True, slots=True)
class EscalationBook:
    """Every policy, which service uses which, and the one used by services not named."""

    policies: Mapping[str, EscalationPolicy] = field(default_factory=dict)
    services: Mapping[str, str] = field(default_factory=dict)
    default: str | None = None

    def for_service(self, service: str) -> EscalationPolicy | None:
        """The service's policy, else the default, else None (nobody is paged)."""
        name = self.services.get(service, self.default)
        return self.policies.get(name) if name else None


@dataclass(frozen=True, slots=True)
class PagedIncident:
    """What a page says about an incident."""

    id: int
    service: str
    alertname: str
    severity: str


def page_message(incident: PagedIncident, tier: int, target: PageTarget, by: str) -> dict[str, Any]:
    """The body posted to `target`: Slack's `text`, or a PagerDuty Events v2 trigger."""
    summary = (
        f"SmartCloudOps incident #{incident.id}: {incident.alertname} on {incident.service} "
        f"is not acknowledged (escalation tier {tier + 1}, by {by})"
    )
    if target.kind == "slack_webhook":
        return {"text": summary}
    if target.kind == "slack_api":
        return {"channel": target.channel, "text": summary}
    return {
        "routing_key": target.routing_key,
        "event_action": "trigger",
        # One alert per incident on the receiving side: later tiers update it, never duplicate it.
        "dedup_key": f"smartcloudops-incident-{incident.id}",
        "payload": {
            "summary": summary[:1024],
            "source": "smartcloudops",
            "severity": _pd_severity(incident.severity),
            "component": incident.service,
            "custom_details": {"incident_id": incident.id, "tier": tier + 1, "by": by},
        },
    }


def _pd_severity(severity: str) -> str:
    return severity if severity in ("critical", "error", "warning", "info") else "error"
