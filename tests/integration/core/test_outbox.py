"""The risk assessment of an incident is a transactional outbox row: a crash between commit and publish loses nothing.

A transaction that opens one incident writes one `ASSESS_INCIDENT` row; one that opens several writes
one `ASSESS_INCIDENTS` row naming them all (assessed in one transaction), each incident keeping its
own assessment event id.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.outbox import outbox
from adapters.db.outbox_relay import OutboxRelay
from pipeline.correlation import CorrelationPolicy
from pipeline.errors import TransientError
from pipeline.events import (
    ASSESS_INCIDENT, ASSESS_INCIDENTS, ASSESSMENT_REQUESTED, ASSESSMENTS_REQUESTED, EVENT_NAMESPACE,
    assessment_requests,
)
from tests.factories import batch, make_alert

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
POLICY = CorrelationPolicy(window=timedelta(minutes=15))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    engine = create_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    yield engine
    engine.dispose()


class Broker:
    def __init__(self, fail_after: int | None = None) -> None:
        self.sent: list = []
        self.fail_after = fail_after

    def publish(self, task, event) -> None:
        if self.fail_after is not None and len(self.sent) >= self.fail_after:
            raise TransientError("broker down")
        self.sent.append((task, event))


def pending_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(outbox)).scalar_one()


def two_incidents():
    return batch(make_alert(service="billing"), make_alert(service="checkout", instance="i-0def12345678"))


def one_incident(service: str):
    return batch(make_alert(service=service))


def assess_id(incident_id: int) -> str:
    return str(uuid.uuid5(EVENT_NAMESPACE, f"assess|{incident_id}"))


def test_the_assessment_request_commits_with_the_incidents_it_follows(engine):
    outcome = AlertStore(engine, POLICY).record_batch(two_incidents(), trace_id="t", now=NOW)
    assert len(outcome.opened) == 2 and pending_rows(engine) == 1 and len(outcome.follow_ups) == 1
    alone = AlertStore(engine, POLICY).record_batch(one_incident("search"), trace_id="t", now=NOW)
    assert len(alone.opened) == 1 and pending_rows(engine) == 2
    assert alone.follow_ups == (assess_id(alone.opened[0]),)


def test_a_crash_between_commit_and_publish_leaves_nothing_unassessed(engine):
    store, broker = AlertStore(engine, POLICY), Broker()
    opened = store.record_batch(two_incidents(), trace_id="t", now=NOW).opened
    # The worker dies here, before publishing. Its message is redelivered: a duplicate, it opens nothing.
    redelivered = store.record_batch(two_incidents(), trace_id="t", now=NOW + timedelta(seconds=5))
    assert redelivered.opened == () and redelivered.duplicates == 2 and redelivered.follow_ups == ()
    relay = OutboxRelay(engine, broker.publish)
    assert relay.sweep(older_than_s=30, now=NOW + timedelta(seconds=10)) == 0  # still young: its own worker's
    assert relay.sweep(older_than_s=30, now=NOW + timedelta(seconds=31)) == 1
    [(task, event)] = broker.sent
    assert (task, event.type) == (ASSESS_INCIDENTS, ASSESSMENTS_REQUESTED)
    # The consumer dedupes on each incident's id (risk_assessments.event_id is unique): one per incident, forever.
    assert assessment_requests(event) == [(i, assess_id(i), "t") for i in opened]
    assert pending_rows(engine) == 0 and relay.sweep(older_than_s=0) == 0


def test_an_incident_alone_is_one_assessment_message_with_the_same_id(engine):
    broker = Broker()
    opened = AlertStore(engine, POLICY).record_batch(one_incident("search"), trace_id="t", now=NOW).opened
    OutboxRelay(engine, broker.publish).sweep(older_than_s=0, now=NOW + timedelta(seconds=1))
    [(task, event)] = broker.sent
    assert (task, event.type, event.id) == (ASSESS_INCIDENT, ASSESSMENT_REQUESTED, assess_id(opened[0]))
    assert assessment_requests(event) == [(opened[0], assess_id(opened[0]), "t")]


def test_relay_after_commit_publishes_the_batch_rows_and_forgets_them(engine):
    broker = Broker()
    outcome = AlertStore(engine, POLICY).record_batch(two_incidents(), trace_id="t", now=NOW)
    assert OutboxRelay(engine, broker.publish).relay(outcome.follow_ups) == 1
    assert pending_rows(engine) == 0


def test_a_publish_that_fails_keeps_its_row_for_the_sweep(engine):
    store = AlertStore(engine, POLICY)
    for service in ("search", "billing"):
        store.record_batch(one_incident(service), trace_id="t", now=NOW)
    broker = Broker(fail_after=1)
    with pytest.raises(TransientError):
        OutboxRelay(engine, broker.publish).sweep(older_than_s=0, now=NOW + timedelta(seconds=1))
    assert len(broker.sent) == 1 and pending_rows(engine) == 1
    broker.fail_after = None
    assert OutboxRelay(engine, broker.publish).sweep(older_than_s=0, now=NOW + timedelta(seconds=1)) == 1
    assert pending_rows(engine) == 0


def test_a_relay_with_publish_many_sends_the_rows_in_one_call_and_keeps_them_all_if_it_fails(engine):
    store = AlertStore(engine, POLICY)
    ids = [i for service in ("search", "billing")
           for i in store.record_batch(one_incident(service), trace_id="t", now=NOW).follow_ups]
    calls: list = []

    def refuse(messages) -> None:
        raise TransientError("broker down")

    with pytest.raises(TransientError):
        OutboxRelay(engine, Broker().publish, publish_many=refuse).relay(ids)
    assert pending_rows(engine) == 2  # all or none: nothing was deleted
    assert OutboxRelay(engine, Broker().publish, publish_many=calls.append).relay(ids) == 2
    assert [[(task, event.id) for task, event in call] for call in calls] == [[(ASSESS_INCIDENT, i) for i in ids]]
    assert pending_rows(engine) == 0
