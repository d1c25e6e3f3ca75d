"""A bundle of assessments that fails for good is split: each incident goes on as its own task."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

import tasks.alerts as alert_tasks
import tasks.remediation as remediation_tasks
from pipeline.errors import PermanentError, TransientError
from pipeline.events import ASSESS_INCIDENT, assessment_follow_ups, assessment_requested

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


class Broker:
    def __init__(self) -> None:
        self.sent: list = []

    def publish(self, task, event) -> None:  # type: ignore[no-untyped-def]
        self.sent.append((task, event))


@pytest.fixture
def bundle() -> dict:
    [(_, event)] = assessment_follow_ups([(11, "trace-a"), (12, "trace-b")], NOW)
    return event.to_dict()


def failing(exc: Exception):  # type: ignore[no-untyped-def]
    def assess(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise exc

    return assess


def test_a_permanent_failure_sends_each_incident_on_alone_with_its_own_id(monkeypatch, bundle) -> None:
    broker = Broker()
    monkeypatch.setattr(remediation_tasks, "_remediation", lambda: None)
    monkeypatch.setattr(remediation_tasks.flow, "assess_incidents", failing(PermanentError("refused for good")))
    monkeypatch.setattr(alert_tasks, "event_publisher", lambda: broker)

    assert remediation_tasks.assess_incidents.run(bundle) == {"incidents": 2, "isolated": True}
    assert [(task, event.data["incident_id"], event.traceid) for task, event in broker.sent] == [
        (ASSESS_INCIDENT, 11, "trace-a"), (ASSESS_INCIDENT, 12, "trace-b")]
    assert [event.id for _, event in broker.sent] == [assessment_requested(i, "t", NOW).id for i in (11, 12)]


def test_a_transient_failure_retries_the_bundle_and_sends_nothing(monkeypatch, bundle) -> None:
    broker = Broker()
    monkeypatch.setattr(remediation_tasks, "_remediation", lambda: None)
    monkeypatch.setattr(remediation_tasks.flow, "assess_incidents", failing(TransientError("database away")))
    monkeypatch.setattr(alert_tasks, "event_publisher", lambda: broker)

    with pytest.raises(TransientError):
        remediation_tasks.assess_incidents.run(bundle)
    assert broker.sent == []
