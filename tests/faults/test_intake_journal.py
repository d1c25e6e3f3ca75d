"""An acknowledged message lost in kombu's BRPOP-to-unacked window is re-published from the intake journal."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timezone

import pytest
import redis

from adapters.broker import RedisDirectPublisher
from adapters.intake_journal import ENTRIES, WRITTEN_AT, IntakeJournal
from config.settings import QueueNames
from pipeline.events import envelope

QUEUES = QueueNames()


def event(n: int):
    return envelope("dev.smartcloudops.test", "urn:test", {"alerts": [{"n": n}]}, event_id=f"e-{n}",
                    trace_id="t", now=datetime(2026, 12, 1, tzinfo=timezone.utc))


@pytest.fixture
def celery_app(redis_url):
    from celery import Celery

    app = Celery("journal", broker=redis_url)
    yield app
    app.close()


@pytest.fixture
def client(redis_url):
    client = redis.Redis.from_url(redis_url)
    yield client
    client.close()


def queued_event_ids(client) -> list[str]:
    return [json.loads(base64.b64decode(json.loads(raw)["body"]))[0][0]["id"]
            for raw in client.lrange(QUEUES.events, 0, -1)]


def test_publish_writes_the_message_and_its_journal_entry_together(redis_url, celery_app, client):
    publisher = RedisDirectPublisher.from_url(celery_app, QUEUES, redis_url, 2.0)
    publisher.publish("alerts.record_batch", event(1))

    async def publish_async() -> None:
        await publisher.apublish("alerts.record_batch", event(2))
        await publisher.aclose()

    asyncio.run(publish_async())
    assert sorted(queued_event_ids(client)) == ["e-1", "e-2"]
    assert sorted(client.hkeys(ENTRIES)) == [b"e-1", b"e-2"] and client.zcard(WRITTEN_AT) == 2


def test_a_message_lost_between_brpop_and_unacked_is_republished_and_forgotten_once_committed(
        redis_url, celery_app, client):
    publisher = RedisDirectPublisher.from_url(celery_app, QUEUES, redis_url, 2.0)
    for n in range(3):
        publisher.publish("alerts.record_batch", event(n))
    # A worker BRPOPs e-0 and is SIGKILLed before kombu records it in `unacked`: gone from Redis.
    client.rpop(QUEUES.events)
    # Another worker takes e-1, commits its work and forgets it; e-2 still waits in the queue.
    client.rpop(QUEUES.events)
    journal = IntakeJournal(client, clock=lambda: 10**10)  # far in the future: every entry is stale
    journal.forget("e-1")
    assert queued_event_ids(client) == ["e-2"]  # only the journal still knows e-0
    assert journal.sweep(older_than_s=900, republish=publisher.publish) == 2  # e-0, and e-2 (safe: idempotent)
    assert sorted(queued_event_ids(client)) == ["e-0", "e-2", "e-2"]
    # Re-published entries are journaled again with a new time: not swept twice in one bound.
    journal_now_is_real = IntakeJournal(client)
    assert journal_now_is_real.sweep(older_than_s=900, republish=publisher.publish) == 0
    for n in range(3):
        journal.forget(f"e-{n}")
    assert journal.pending() == 0 and client.hlen(ENTRIES) == 0


def test_a_message_retried_through_an_outage_is_not_republished_while_it_retries(redis_url, celery_app, client):
    publisher = RedisDirectPublisher.from_url(celery_app, QUEUES, redis_url, 2.0)
    publisher.publish("alerts.record_batch", event(1))
    publisher.publish("alerts.record_batch", event(2))
    now = [10**10]  # long after both were published
    journal = IntakeJournal(client, clock=lambda: now[0])
    journal.touch("e-1")  # its task failed on a transient fault and is retrying
    journal.touch("e-unknown")  # a message never journaled gets no entry

    def sweep() -> list[str]:
        republished: list[str] = []
        journal.sweep(older_than_s=900, republish=lambda task, e: republished.append(e.id))
        return republished

    now[0] += 899
    assert sweep() == ["e-2"]  # silent since it was published: possibly lost
    now[0] += 2
    assert "e-1" in sweep()  # its retries stopped touching it: now it is due too
    assert client.zscore(WRITTEN_AT, "e-unknown") is None
