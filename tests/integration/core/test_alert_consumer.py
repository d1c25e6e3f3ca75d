"""The alert consumer commits many broker messages in one transaction and acks each only after it.

Real Redis and PostgreSQL; the consumer runs in a thread of the test, as it runs in a child of the worker.
"""

from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timezone

import pytest
import redis
import sqlalchemy as sa

from adapters.broker import RedisDirectPublisher
from adapters.db import audit_writer
from adapters.db.outbox import outbox
from adapters.db.schema import alerts, audit_log, incidents
from adapters.intake_journal import ENTRIES
from config.settings import Settings
from pipeline.events import ALERTMANAGER_BATCH, batch_event_id, envelope
from tasks import alert_consumer as consumer_module
from tasks import alerts as alert_tasks
from tasks import runtime as runtime_module
from tasks.alert_consumer import AlertBatchConsumer
from tests.factories import batch, make_alert
from tests.processes import wait_for

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def worker(redis_url, pg_url, tmp_path):
    from smartcloudops.bootstrap import bootstrap, configure_worker

    settings = Settings(broker_url=redis_url, redis_url=redis_url, database_url=pg_url, data_dir=tmp_path,
                        alert_batch_messages=50, alert_batch_wait_ms=100, worker_metrics_port=0)
    app = configure_worker(settings)
    alert_tasks.event_publisher.cache_clear()
    runtime_module.install(bootstrap(settings))
    yield settings, app
    runtime_module.install(None)
    alert_tasks.event_publisher.cache_clear()


def message(n: int, *alerts_):
    alert_batch = batch(*alerts_)
    return envelope(ALERTMANAGER_BATCH, "urn:test", alert_batch.to_data(), event_id=batch_event_id(alert_batch.alerts),
                    trace_id=f"trace-{n}", now=NOW)


def publish(settings, app, events) -> None:
    publisher = RedisDirectPublisher.from_url(app, settings.queues, settings.broker, 2.0)
    for event in events:
        publisher.publish("alerts.record_batch", event)


def requests(count: int, per: int = 4, prefix: str = "svc"):
    """`count` webhook requests of `per` alerts each, every alert its own incident."""
    return [message(n, *[make_alert(service=f"{prefix}{n}-{i}") for i in range(per)]) for n in range(count)]


def run_until(settings, app, done) -> None:
    stop = threading.Event()
    consumer = AlertBatchConsumer(app, settings, stop=stop)
    thread = threading.Thread(target=consumer.run, daemon=True)
    thread.start()
    try:
        wait_for(done, 60, "the consumer did not finish")
    finally:
        stop.set()
        thread.join(15)
    assert not thread.is_alive()


def count(settings, table, *where) -> int:
    engine = runtime_module.runtime().engine
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def broker_state(settings) -> tuple[int, int, int]:
    """(messages waiting on the events queue, messages taken and not acknowledged, their journal entries).

    The relayed risk assessments are journaled too; only the alert messages' entries are counted.
    """
    client = redis.Redis.from_url(settings.broker)
    alert_entries = sum(1 for raw in client.hvals(ENTRIES) if json.loads(raw)["task"] == "alerts.record_batch")
    return client.llen("events"), client.hlen("unacked"), alert_entries


def test_many_messages_commit_in_one_transaction_and_are_acknowledged_after_it(worker):
    settings, app = worker
    publish(settings, app, requests(10))
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0))
    assert count(settings, alerts) == 40 and count(settings, incidents) == 40
    engine = runtime_module.runtime().engine
    with engine.connect() as conn:
        # One transaction: every alert carries the batch's one `now`; one append to the audit chain.
        assert conn.execute(sa.select(sa.func.count(sa.distinct(alerts.c.received_at)))).scalar_one() == 1
        traces = conn.execute(sa.select(incidents.c.trace_id).distinct()).scalars().all()
        assert audit_writer.verify_chain(conn).ok
    assert sorted(traces) == sorted(f"trace-{n}" for n in range(10))  # each incident keeps its request's trace
    assert count(settings, outbox) == 0  # the 40 risk assessments were relayed
    # ... as one message: the incidents one transaction opened are assessed in one transaction too.
    relayed = [json.loads(raw) for raw in redis.Redis.from_url(settings.broker).lrange("risk", 0, -1)]
    assert [message["headers"]["task"] for message in relayed] == ["risk.assess_incidents"]
    event = json.loads(base64.b64decode(relayed[0]["body"]))[0][0]
    with engine.connect() as conn:
        opened = conn.execute(sa.select(incidents.c.id).order_by(incidents.c.id)).scalars().all()
    assert [entry["incident_id"] for entry in event["data"]["incidents"]] == opened


def test_a_kill_between_commit_and_ack_redelivers_messages_that_change_nothing(worker, monkeypatch):
    settings, app = worker
    publish(settings, app, requests(6))
    with monkeypatch.context() as patch:  # the worker dies after the commit, before any acknowledgement
        patch.setattr(AlertBatchConsumer, "_finish", lambda self, deliveries: None)
        run_until(settings, app, lambda: count(settings, alerts) == 24)
    audit_rows = count(settings, audit_log)
    # Closing the channel put the unacknowledged messages back (a SIGKILL leaves them to the visibility timeout).
    waiting, unacked, journal = broker_state(settings)
    assert (waiting, unacked, journal) == (6, 0, 6)
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0))
    assert count(settings, alerts) == 24 and count(settings, incidents) == 24
    assert count(settings, audit_log) == audit_rows  # the redelivered batch wrote nothing


def test_a_poison_alert_is_quarantined_alone_and_sinks_no_other_message(worker, monkeypatch):
    settings, app = worker
    bad = make_alert(service="refused", instance="i-refused00000")
    store = runtime_module.runtime().alert_store

    class Refusing:  # the store refuses one alert that the limits did not foresee
        def record_batches(self, batches, **kwargs):
            if any(bad in b.alerts for b, _ in batches):
                raise sa.exc.DataError("INSERT", {}, Exception("value out of range"))
            return store.record_batches(batches, **kwargs)

        def record_batch(self, b, **kwargs):
            return self.record_batches([(b, kwargs.pop("trace_id"))], **kwargs)

    monkeypatch.setattr(runtime_module.runtime(), "alert_store", Refusing())
    good = requests(5)
    with_bad = message(99, make_alert(service="mixed-1"), bad, make_alert(service="mixed-2"))
    publish(settings, app, [*good[:2], with_bad, *good[2:]])
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0))
    assert count(settings, alerts) == 5 * 4 + 2
    assert count(settings, audit_log, audit_log.c.kind == "alert.quarantined") == 1
    assert redis.Redis.from_url(settings.broker).llen("dead_letter") == 1


def test_an_alert_the_decoder_refuses_is_quarantined_after_its_batch_commits(worker):
    settings, app = worker
    good = requests(3)
    data = dict(good[0].data)
    data["alerts"] = [*data["alerts"], {"labels": {"alertname": "High\x00CPU"}, "status": "firing"}]
    mixed = envelope(ALERTMANAGER_BATCH, "urn:test", data, event_id="mixed-1", trace_id="trace-m", now=NOW)
    publish(settings, app, [mixed, *good[1:]])
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0))
    assert count(settings, alerts) == 12
    assert count(settings, audit_log, audit_log.c.kind == "alert.quarantined") == 1


def test_a_transient_fault_retries_and_dead_letters_nothing(worker, monkeypatch):
    settings, app = worker
    store = runtime_module.runtime().alert_store
    faults = {"left": 3}

    class Flaky:  # the database is away for the batch and the first two messages tried alone
        def record_batches(self, batches, **kwargs):
            if faults["left"] > 0:
                faults["left"] -= 1
                raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
            return store.record_batches(batches, **kwargs)

        def record_batch(self, b, **kwargs):
            return self.record_batches([(b, kwargs.pop("trace_id"))], **kwargs)

    monkeypatch.setattr(runtime_module.runtime(), "alert_store", Flaky())
    monkeypatch.setattr(consumer_module, "BACKOFF_BASE_S", 0.01)
    publish(settings, app, requests(4))
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0))
    assert count(settings, alerts) == 16 and faults["left"] == 0
    assert count(settings, audit_log, audit_log.c.kind.in_(("message.dead_lettered", "alert.quarantined"))) == 0


def test_a_database_outage_puts_every_message_back_without_splitting_the_batch(worker, monkeypatch):
    settings, app = worker
    store = runtime_module.runtime().alert_store
    calls = {"batches": 0, "alone": 0}

    class AwayOnce:  # the database is away for the first batch, and says so to the consumer's ping
        def record_batches(self, batches, **kwargs):
            calls["batches"] += 1
            if calls["batches"] == 1:
                raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))
            return store.record_batches(batches, **kwargs)

        def record_batch(self, b, **kwargs):
            calls["alone"] += 1
            return store.record_batch(b, **kwargs)

    monkeypatch.setattr(runtime_module.runtime(), "alert_store", AwayOnce())
    monkeypatch.setattr(AlertBatchConsumer, "_database_answers", lambda self: calls["batches"] > 1)
    monkeypatch.setattr(consumer_module, "BACKOFF_BASE_S", 0.01)
    publish(settings, app, requests(4))
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0))
    assert count(settings, alerts) == 16 and calls["alone"] == 0 and calls["batches"] >= 2
    assert count(settings, audit_log, audit_log.c.kind.in_(("message.dead_lettered", "alert.quarantined"))) == 0


def test_messages_without_an_event_are_dead_lettered_each_under_its_own_task_id(worker):
    settings, app = worker
    for _ in range(2):  # no event id: the letters are told apart by the messages' task ids
        app.send_task("alerts.record_batch", args=["not an event"], queue="events")
    publish(settings, app, requests(2))
    run_until(settings, app, lambda: broker_state(settings) == (0, 0, 0)
              and count(settings, audit_log, audit_log.c.kind == "message.dead_lettered") == 2)
    assert count(settings, alerts) == 8
    assert redis.Redis.from_url(settings.broker).llen("dead_letter") == 2
