"""The assessment follow-ups of an alert transaction: one message alone, bundles of up to 100 otherwise."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.errors import InvalidInput
from pipeline.events import (
    ASSESS_INCIDENT, ASSESS_INCIDENTS, ASSESSMENTS_PER_MESSAGE, CloudEvent, assessment_follow_ups,
    assessment_requested, assessment_requests,
)

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


def test_one_incident_keeps_the_single_message_and_its_id() -> None:
    [(task, event)] = assessment_follow_ups([(7, "trace-a")], NOW)
    assert task == ASSESS_INCIDENT and event.id == assessment_requested(7, "x", NOW).id
    assert assessment_requests(event) == [(7, event.id, "trace-a")]


def test_many_incidents_go_in_bundles_each_with_its_own_assessment_id_and_trace() -> None:
    opened = [(i, f"trace-{i}") for i in range(1, 2 * ASSESSMENTS_PER_MESSAGE + 2)]
    follow_ups = assessment_follow_ups(opened, NOW)
    assert [task for task, _ in follow_ups] == [ASSESS_INCIDENTS] * 3
    named = [request for _, event in follow_ups for request in assessment_requests(CloudEvent.from_dict(event.to_dict()))]
    assert named == [(i, assessment_requested(i, "x", NOW).id, f"trace-{i}") for i, _ in opened]
    # Deterministic: the same transaction's follow-ups have the same ids (the outbox keeps one row each).
    assert [e.id for _, e in assessment_follow_ups(opened, NOW)] == [e.id for _, e in follow_ups]
    assert len({e.id for _, e in follow_ups}) == 3


@pytest.mark.parametrize("incidents", [[], "7", [{"incident_id": 0}], [{"incident_id": True}], [7],
                                       [{"incident_id": i} for i in range(1, ASSESSMENTS_PER_MESSAGE + 2)]])
def test_a_malformed_bundle_is_invalid_input(incidents) -> None:  # type: ignore[no-untyped-def]
    [(_, event)] = assessment_follow_ups([(1, "t"), (2, "t")], NOW)
    bad = CloudEvent.from_dict({**event.to_dict(), "data": {"incidents": incidents}})
    with pytest.raises(InvalidInput):
        assessment_requests(bad)
