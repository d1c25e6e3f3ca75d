"""CloudEvents 1.0 envelopes and the alert events that travel through the pipeline."""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

from pipeline import limits
from pipeline.errors import InvalidInput

SPEC_VERSION = "1.0"
EVENT_NAMESPACE = uuid.UUID("5b0c2a8e-56a1-4c1e-9a43-93c0f1a6d0a1")

ALERTMANAGER_BATCH = "dev.smartcloudops.alertmanager.batch.received"

# The follow-up of an alert batch: assess the risk of each incident it opened (the command, its event type).
ASSESS_INCIDENT = "risk.assess_incident"
ASSESSMENT_REQUESTED = "dev.smartcloudops.risk.assessment.requested"
# Several incidents one alert transaction opened, assessed by one task in one transaction.
ASSESS_INCIDENTS = "risk.assess_incidents"
ASSESSMENTS_REQUESTED = "dev.smartcloudops.risk.assessments.requested"
ASSESSMENTS_PER_MESSAGE = 100
REMEDIATION_SOURCE = "urn:smartcloudops:remediation"

# Follow-ups of a decision or a run's end, left in the outbox by the transaction they follow.
START_RUN = "remediation.start_run"  # publish a run's step chain from a step on
RUN_START_REQUESTED = "dev.smartcloudops.remediation.run.start.requested"
TELL_RUN_OUTCOME = "remediation.tell_run_outcome"  # post how a run ended to the chat that approved it
RUN_ENDED = "dev.smartcloudops.remediation.run.ended"
POST_REPLY = "remediation.post_reply"  # post one prepared answer at a response_url
CHAT_REPLY_DUE = "dev.smartcloudops.chat.reply.due"


@dataclass(frozen=True, slots=True)
class CloudEvent:
    """A CloudEvents 1.0 envelope (JSON format), plus the trace id carried to every log and audit row."""

    id: str
    source: str
    type: str
    time: str
    data: Mapping[str, Any]
    traceid: str
    specversion: str = SPEC_VERSION
    datacontenttype: str = "application/json"

    def to_dict(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict (shallow: `data` is already JSON-ready)."""
        return {name: getattr(self, name) for name in _ENVELOPE_FIELDS}

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> CloudEvent:
        """Rebuild an envelope from its JSON form; a missing attribute is an InvalidInput."""
        try:
            if raw["specversion"] != SPEC_VERSION:
                raise InvalidInput(f"unsupported CloudEvents specversion {raw['specversion']!r}")
            return cls(**{name: raw[name] for name in _ENVELOPE_FIELDS})
        except KeyError as exc:
            raise InvalidInput(f"event envelope lacks attribute {exc.args[0]!r}") from exc
        except TypeError as exc:
            raise InvalidInput(f"event envelope is not an object: {exc}") from exc


_ENVELOPE_FIELDS = ("id", "source", "type", "time", "data", "traceid", "specversion", "datacontenttype")


@dataclass(frozen=True, slots=True)
class AlertReceived:
    """One Alertmanager alert, normalised; `event_id` is the same on every redelivery."""

    event_id: str
    fingerprint: str
    status: str  # "firing" | "resolved"
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: datetime
    ends_at: datetime | None
    generator_url: str
    group_key: str
    receiver: str

    @property
    def alertname(self) -> str:
        return self.labels.get("alertname", "")

    @property
    def service(self) -> str:
        return self.labels.get("service", "")

    @property
    def severity(self) -> str:
        return self.labels.get("severity", "")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for a broker message."""
        return {
            "event_id": self.event_id,
            "fingerprint": self.fingerprint,
            "status": self.status,
            "labels": dict(self.labels),
            "annotations": dict(self.annotations),
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "generator_url": self.generator_url,
            "group_key": self.group_key,
            "receiver": self.receiver,
        }

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> AlertReceived:
        """Rebuild from a broker message; malformed content is an InvalidInput."""
        try:
            return cls(
                event_id=str(raw["event_id"]),
                fingerprint=str(raw["fingerprint"]),
                status=_status(raw["status"]),
                labels=_str_map(raw["labels"], "labels"),
                annotations=_str_map(raw.get("annotations") or {}, "annotations"),
                starts_at=parse_time(raw["starts_at"]),
                ends_at=parse_time(raw["ends_at"]) if raw.get("ends_at") else None,
                generator_url=str(raw.get("generator_url") or ""),
                group_key=str(raw.get("group_key") or ""),
                receiver=str(raw.get("receiver") or ""),
            )
        except KeyError as exc:
            raise InvalidInput(f"alert lacks field {exc.args[0]!r}") from exc


@dataclass(frozen=True, slots=True)
class AlertBatch:
    """Every alert of one webhook request: one broker message, not one per alert."""

    alerts: tuple[AlertReceived, ...]
    group_key: str
    receiver: str
    truncated_alerts: int
    external_url: str
    group_labels: Mapping[str, str] = field(default_factory=dict)

    def to_data(self) -> dict[str, Any]:
        return {
            "alerts": [alert.to_dict() for alert in self.alerts],
            "group_key": self.group_key,
            "receiver": self.receiver,
            "truncated_alerts": self.truncated_alerts,
            "external_url": self.external_url,
            "group_labels": dict(self.group_labels),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> AlertBatch:
        try:
            alerts = data["alerts"]
            if not isinstance(alerts, list):
                raise InvalidInput("alert batch field 'alerts' is not a list")
            return cls(
                alerts=tuple(AlertReceived.from_dict(alert) for alert in alerts),
                group_key=str(data.get("group_key") or ""),
                receiver=str(data.get("receiver") or ""),
                truncated_alerts=limits.check_int(int(data.get("truncated_alerts") or 0), "truncated_alerts",
                                                  high=limits.INT32_MAX),
                external_url=str(data.get("external_url") or ""),
                group_labels=_str_map(data.get("group_labels") or {}, "group_labels"),
            )
        except KeyError as exc:
            raise InvalidInput(f"alert batch lacks field {exc.args[0]!r}") from exc
        except (TypeError, ValueError) as exc:
            raise InvalidInput(f"alert batch is malformed: {exc}") from exc


def decode_alert_batch(data: Mapping[str, Any], key_labels: tuple[str, ...]
                       ) -> tuple[AlertBatch, list[tuple[Any, InvalidInput]]]:
    """The storable alerts of a batch message, and each alert that is not, with why (to quarantine it alone)."""
    raw_alerts = data.get("alerts") if isinstance(data, Mapping) else None
    if not isinstance(raw_alerts, list):
        raise InvalidInput("alert batch field 'alerts' is not a list")
    good: list[AlertReceived] = []
    rejected: list[tuple[Any, InvalidInput]] = []
    for raw in raw_alerts:
        try:
            if not isinstance(raw, Mapping):
                raise InvalidInput(f"alert is a {type(raw).__name__}, not an object")
            good.append(check_alert(AlertReceived.from_dict(raw), key_labels))
        except InvalidInput as exc:
            rejected.append((raw, exc))
        except (TypeError, ValueError, AttributeError, OverflowError) as exc:
            rejected.append((raw, InvalidInput(f"alert is malformed: {exc!r}")))
    header = AlertBatch.from_data({**data, "alerts": []})
    return AlertBatch(tuple(good), header.group_key, header.receiver, header.truncated_alerts,
                      header.external_url, header.group_labels), rejected


def check_alert(alert: AlertReceived, key_labels: tuple[str, ...]) -> AlertReceived:
    """`alert` if the store can hold it (pipeline.limits, the edge's rules); else OutOfLimits."""
    limits.check_alert_fields(alert.labels, alert.annotations, key_labels=key_labels,
                              fingerprint=alert.fingerprint, generator_url=alert.generator_url)
    limits.check_text(alert.event_id, "event id", 36)
    limits.utc_within_limits(alert.starts_at, "starts_at")
    if alert.ends_at is not None:
        limits.utc_within_limits(alert.ends_at, "ends_at")
    return alert


def alert_event_id(fingerprint: str, status: str, starts_at: datetime) -> str:
    """Deterministic event id: the same alert, status and start is the same event (a UUIDv5)."""
    return _uuid5(f"{fingerprint}|{status}|{to_utc(starts_at).isoformat()}")


_NAMESPACE_BYTES = EVENT_NAMESPACE.bytes


# The RFC 4122 variant keeps a byte's low six bits and sets its top two to 10: for its first hex digit,
# the digit's low two bits plus 8.
_VARIANT_DIGIT = {digit: "89ab"[int(digit, 16) & 0x3] for digit in "0123456789abcdef"}


def _uuid5(name: str) -> str:
    """uuid.uuid5(EVENT_NAMESPACE, name) as a string, without the UUID object (it is on the webhook's hot
    path): the digest's first 32 hex digits with the version digit (5) and the variant's digit set."""
    text = hashlib.sha1(_NAMESPACE_BYTES + name.encode()).hexdigest()
    return f"{text[:8]}-{text[8:12]}-5{text[13:16]}-{_VARIANT_DIGIT[text[16]]}{text[17:20]}-{text[20:32]}"


def batch_event_id(alerts: tuple[AlertReceived, ...]) -> str:
    """Deterministic id of a whole batch, derived from the ids of its alerts."""
    return _uuid5(",".join(sorted(a.event_id for a in alerts)))


def envelope(event_type: str, source: str, data: Mapping[str, Any], *, event_id: str, trace_id: str,
             now: datetime) -> CloudEvent:
    """Wrap data in a CloudEvents envelope."""
    return CloudEvent(id=event_id, source=source, type=event_type, time=to_utc(now).isoformat(),
                      data=data, traceid=trace_id)


def assessment_requested(incident_id: int, trace_id: str, now: datetime) -> CloudEvent:
    """Ask for the risk of a newly opened incident; one id per incident, so it is assessed once."""
    return envelope(ASSESSMENT_REQUESTED, REMEDIATION_SOURCE, {"incident_id": incident_id},
                    event_id=_uuid5(f"assess|{incident_id}"), trace_id=trace_id, now=now)


def assessment_follow_ups(opened_by: Sequence[tuple[int, str]], now: datetime) -> list[tuple[str, CloudEvent]]:
    """The follow-ups of the incidents one transaction opened, as (task, event): an incident alone is
    assessed by `ASSESS_INCIDENT`; several go `ASSESSMENTS_PER_MESSAGE` to a message of `ASSESS_INCIDENTS`,
    assessed in one transaction. Each incident keeps its own assessment event id either way, so it is
    assessed once whichever message reaches a worker."""
    if len(opened_by) == 1:
        incident_id, trace_id = opened_by[0]
        return [(ASSESS_INCIDENT, assessment_requested(incident_id, trace_id, now))]
    follow_ups = []
    for chunk in _chunks(opened_by):
        ids = ",".join(str(incident_id) for incident_id, _ in chunk)
        data = {"incidents": [{"incident_id": incident_id, "trace_id": trace_id} for incident_id, trace_id in chunk]}
        follow_ups.append((ASSESS_INCIDENTS, envelope(ASSESSMENTS_REQUESTED, REMEDIATION_SOURCE, data,
                                                      event_id=_uuid5(f"assess-many|{ids}"), trace_id=chunk[0][1],
                                                      now=now)))
    return follow_ups


def assessment_requests(event: CloudEvent) -> list[tuple[int, str, str]]:
    """(incident id, its assessment's event id, trace id) for each incident an assessment message names."""
    if event.type == ASSESSMENT_REQUESTED:
        named = [{"incident_id": event.data.get("incident_id"), "trace_id": event.traceid}]
    else:
        named = event.data.get("incidents")
        if not isinstance(named, list) or not 0 < len(named) <= ASSESSMENTS_PER_MESSAGE:
            raise InvalidInput(f"incidents must be a list of 1 to {ASSESSMENTS_PER_MESSAGE} entries")
    requests = []
    for entry in named:
        incident_id = entry.get("incident_id") if isinstance(entry, dict) else None
        if not isinstance(incident_id, int) or isinstance(incident_id, bool) or incident_id < 1:
            raise InvalidInput(f"incident_id must be a positive integer, got {incident_id!r}")
        trace_id = entry.get("trace_id")
        requests.append((incident_id, _uuid5(f"assess|{incident_id}"),
                         trace_id if isinstance(trace_id, str) else event.traceid))
    return requests


def _chunks(items: Sequence[Any]) -> list[Sequence[Any]]:
    return [items[i:i + ASSESSMENTS_PER_MESSAGE] for i in range(0, len(items), ASSESSMENTS_PER_MESSAGE)]


def run_start_requested(run_id: int, first_step: int, trace_id: str, now: datetime) -> CloudEvent:
    """Start a run's chain at `first_step` (after an approval); one id per run and step."""
    return envelope(RUN_START_REQUESTED, REMEDIATION_SOURCE, {"run_id": run_id, "first_step": first_step},
                    event_id=_uuid5(f"start-run|{run_id}|{first_step}"), trace_id=trace_id, now=now)


def run_ended(run_id: int, reply_to: str, trace_id: str, now: datetime) -> CloudEvent:
    """Tell the chat at `reply_to` how a run ended; a run ends once, so one id per run."""
    return envelope(RUN_ENDED, REMEDIATION_SOURCE, {"run_id": run_id, "reply_to": reply_to},
                    event_id=run_ended_id(run_id), trace_id=trace_id, now=now)


def run_ended_id(run_id: int) -> str:
    """The id of `run_ended` for this run (the relay looks it up after every step)."""
    return _uuid5(f"run-ended|{run_id}")


def chat_reply_due(answering: str, reply_to: str, text: str, trace_id: str, now: datetime) -> CloudEvent:
    """Post `text` at `reply_to` in answer to the message `answering` (one reply per message)."""
    return envelope(CHAT_REPLY_DUE, REMEDIATION_SOURCE, {"reply_to": reply_to, "text": text},
                    event_id=_uuid5(f"reply|{answering}"), trace_id=trace_id, now=now)


def new_trace_id() -> str:
    """A W3C-style 128-bit trace id in hex (random, not secret: the process PRNG is enough)."""
    return f"{random.getrandbits(128):032x}"


def to_utc(moment: datetime) -> datetime:
    """Aware UTC datetime; naive input is taken as UTC (as SQLite returns it)."""
    if moment.tzinfo is timezone.utc:
        return moment
    if moment.tzinfo is None:
        return moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc)


def parse_time(value: Any) -> datetime:
    """Parse an RFC 3339 timestamp into an aware UTC datetime."""
    if isinstance(value, datetime):
        return to_utc(value)
    if not isinstance(value, str):
        raise InvalidInput(f"timestamp must be an RFC 3339 string, got {type(value).__name__}")
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    if "." in text:  # Go prints nanoseconds; Python keeps microseconds.
        head, _, tail = text.partition(".")
        digits = "".join(ch for ch in tail if ch.isdigit())
        zone = tail[len(digits):]
        text = f"{head}.{digits[:6]}{zone}"
    try:
        return to_utc(datetime.fromisoformat(text))
    except (ValueError, OverflowError) as exc:  # OverflowError: year 1 with a positive offset
        raise InvalidInput(f"timestamp {value!r} is not RFC 3339") from exc


def _status(value: Any) -> str:
    if value not in ("firing", "resolved"):
        raise InvalidInput(f"alert status must be 'firing' or 'resolved', got {value!r}")
    return value


def _str_map(value: Any, name: str) -> dict[str, str]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{name} must be an object of strings")
    return {str(k): str(v) for k, v in value.items()}
