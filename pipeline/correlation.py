"""Grouping alerts into incidents.

An alert joins the most recent open incident with the same correlation key (by default
its `alertname` and `service` labels) when it starts within the window of that
incident's last activity; otherwise it opens a new incident. A resolved alert resolves
its part; an incident resolves when all of its alerts have. Redelivered events are
recognised by the alert's identity (fingerprint + start) and status, so they change
nothing.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Iterable, Mapping, Sequence

from pipeline.events import AlertBatch, AlertReceived


@dataclass(frozen=True, slots=True)
class CorrelationPolicy:
    """Which labels group alerts, and how far apart in time they may start."""

    labels: tuple[str, ...] = ("alertname", "service")
    window: timedelta = timedelta(minutes=15)


AlertIdentity = tuple[str, datetime]  # (fingerprint, starts_at)
IncidentRef = int | str  # a stored id, or "new:<n>" for an incident this batch opens


@dataclass(frozen=True, slots=True)
class KnownAlert:
    """What the store already holds about an alert."""

    incident: IncidentRef
    status: str


@dataclass(frozen=True, slots=True)
class OpenIncident:
    """An incident still open, as correlation needs to see it."""

    ref: IncidentRef
    key: str
    last_seen_at: datetime
    firing: int


@dataclass(slots=True)
class IncidentBook:
    """The slice of stored state a batch can touch; `correlate` works on a copy."""

    alerts: dict[AlertIdentity, KnownAlert] = field(default_factory=dict)
    open_by_key: dict[str, list[OpenIncident]] = field(default_factory=dict)

    def copy(self) -> IncidentBook:
        return IncidentBook(dict(self.alerts), {k: list(v) for k, v in self.open_by_key.items()})


# Decisions: what correlation concluded, as past-tense facts for the store to record.

@dataclass(frozen=True, slots=True)
class AlertDeduplicated:
    alert: AlertReceived
    incident: IncidentRef | None


@dataclass(frozen=True, slots=True)
class IncidentOpened:
    ref: str
    key: str
    alert: AlertReceived
    status: str  # "open", or "resolved" when its first sight is already resolved


@dataclass(frozen=True, slots=True)
class AlertFired:
    incident: IncidentRef
    alert: AlertReceived


@dataclass(frozen=True, slots=True)
class AlertResolved:
    incident: IncidentRef
    alert: AlertReceived
    first_seen: bool  # we never saw it firing


@dataclass(frozen=True, slots=True)
class IncidentResolved:
    incident: IncidentRef
    at: datetime


@dataclass(frozen=True, slots=True)
class TruncationRecorded:
    incident: IncidentRef
    truncated_alerts: int


Decision = AlertDeduplicated | IncidentOpened | AlertFired | AlertResolved | IncidentResolved | TruncationRecorded


def correlation_key(labels: Mapping[str, str], policy: CorrelationPolicy) -> str:
    """The grouping key of an alert: its values of the policy's labels."""
    return ",".join(f"{name}={labels.get(name, '')}" for name in policy.labels)


def identity(alert: AlertReceived) -> AlertIdentity:
    """An alert's identity across deliveries: fingerprint and start."""
    return (alert.fingerprint, alert.starts_at)


def correlate(batch: AlertBatch, book: IncidentBook, policy: CorrelationPolicy) -> list[Decision]:
    """Decide, alert by alert in delivery order, what the batch changes."""
    return correlate_in_order([batch], book, policy)[0]


def correlate_in_order(batches: Sequence[AlertBatch], book: IncidentBook,
                       policy: CorrelationPolicy) -> list[list[Decision]]:
    """Decide batch after batch, each seeing what the ones before it changed; one list of decisions each.

    This is what recording the batches one transaction after another would decide, so many broker
    messages can be committed in one transaction. New incidents' refs are unique across all batches.
    """
    state = book.copy()
    new_refs = (f"new:{n}" for n in itertools.count(1))
    return [_decide(batch, state, policy, new_refs) for batch in batches]


def _decide(batch: AlertBatch, state: IncidentBook, policy: CorrelationPolicy,
            new_refs: Iterable[str]) -> list[Decision]:
    decisions: list[Decision] = []
    for alert in batch.alerts:
        if alert.status == "firing":
            decisions.extend(_fire(alert, state, policy, new_refs))
        else:
            decisions.extend(_resolve(alert, state, policy, new_refs))
    if batch.truncated_alerts > 0:
        decisions.extend(TruncationRecorded(ref, batch.truncated_alerts) for ref in _touched(decisions))
    return decisions


def _fire(alert: AlertReceived, state: IncidentBook, policy: CorrelationPolicy,
          new_refs: Iterable[str]) -> list[Decision]:
    known = state.alerts.get(identity(alert))
    if known is not None:
        return [AlertDeduplicated(alert, known.incident)]
    key = correlation_key(alert.labels, policy)
    incident = _joinable(state.open_by_key.get(key, []), alert.starts_at, policy.window)
    decisions: list[Decision] = []
    if incident is None:
        ref = next(iter(new_refs))
        decisions.append(IncidentOpened(ref, key, alert, "open"))
        incident = OpenIncident(ref, key, alert.starts_at, 0)
        state.open_by_key.setdefault(key, []).append(incident)
    _replace_open(state, incident, last_seen_at=max(incident.last_seen_at, alert.starts_at),
                  firing=incident.firing + 1)
    state.alerts[identity(alert)] = KnownAlert(incident.ref, "firing")
    decisions.append(AlertFired(incident.ref, alert))
    return decisions


def _resolve(alert: AlertReceived, state: IncidentBook, policy: CorrelationPolicy,
             new_refs: Iterable[str]) -> list[Decision]:
    known = state.alerts.get(identity(alert))
    if known is not None and known.status == "resolved":
        return [AlertDeduplicated(alert, known.incident)]
    if known is None:
        return _resolve_unseen(alert, state, policy, new_refs)
    state.alerts[identity(alert)] = KnownAlert(known.incident, "resolved")
    decisions: list[Decision] = [AlertResolved(known.incident, alert, first_seen=False)]
    incident = _find_open(state, known.incident)
    if incident is not None:
        if incident.firing <= 1:
            state.open_by_key[incident.key].remove(incident)
            decisions.append(IncidentResolved(incident.ref, _resolved_at(alert)))
        else:
            _replace_open(state, incident, firing=incident.firing - 1)
    return decisions


def _resolve_unseen(alert: AlertReceived, state: IncidentBook, policy: CorrelationPolicy,
                    new_refs: Iterable[str]) -> list[Decision]:
    """A resolved alert we never saw firing (we were down): record it, open nothing."""
    key = correlation_key(alert.labels, policy)
    incident = _joinable(state.open_by_key.get(key, []), alert.starts_at, policy.window)
    decisions: list[Decision] = []
    if incident is None:
        ref = next(iter(new_refs))
        decisions.append(IncidentOpened(ref, key, alert, "resolved"))
        incident_ref: IncidentRef = ref
    else:
        incident_ref = incident.ref
    state.alerts[identity(alert)] = KnownAlert(incident_ref, "resolved")
    decisions.append(AlertResolved(incident_ref, alert, first_seen=True))
    return decisions


def _joinable(candidates: list[OpenIncident], starts_at: datetime, window: timedelta) -> OpenIncident | None:
    """The most recently active open incident that this start falls within the window of."""
    best = max(candidates, key=lambda inc: inc.last_seen_at, default=None)
    if best is not None and starts_at - best.last_seen_at <= window:
        return best
    return None


def _find_open(state: IncidentBook, ref: IncidentRef) -> OpenIncident | None:
    for incidents in state.open_by_key.values():
        for incident in incidents:
            if incident.ref == ref:
                return incident
    return None


def _replace_open(state: IncidentBook, incident: OpenIncident, **changes: object) -> None:
    incidents = state.open_by_key[incident.key]
    index = next(i for i, item in enumerate(incidents) if item.ref == incident.ref)
    incidents[index] = replace(incident, **changes)


def _resolved_at(alert: AlertReceived) -> datetime:
    return alert.ends_at or alert.starts_at


def _touched(decisions: list[Decision]) -> list[IncidentRef]:
    refs: dict[IncidentRef, None] = {}
    for decision in decisions:
        ref = getattr(decision, "incident", None) or getattr(decision, "ref", None)
        if ref is not None:
            refs[ref] = None
    return list(refs)
