"""Both broker publishers honour one contract: the fast Redis path writes what kombu's producer writes."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timezone

import pytest
import redis

from adapters.broker import CeleryPublisher, RedisDirectPublisher
from config.settings import QueueNames
from consumers.publisher import InMemoryPublisher
from pipeline.errors import TransientError
from pipeline.events import envelope

EVENT = envelope("dev.smartcloudops.test", "urn:test", {"alerts": [{"n": 1}]}, event_id="e-1", trace_id="t-1",
                 now=datetime(2026, 11, 27, tzinfo=timezone.utc))


@pytest.fixture
def celery_app(redis_url):
    from celery import Celery

    app = Celery("contract", broker=redis_url)
    app.conf.broker_connection_retry_on_startup = True
    yield app
    app.close()


def stored(redis_url):
    raw = redis.Redis.from_url(redis_url).lrange("events", 0, -1)
    assert len(raw) == 1
    return json.loads(raw[0])


def test_fast_path_message_matches_kombus(redis_url, celery_app):
    queues = QueueNames()
    CeleryPublisher(celery_app, queues).publish("alerts.record_batch", EVENT)
    by_kombu = stored(redis_url)
    redis.Redis.from_url(redis_url).delete("events")
    RedisDirectPublisher.from_url(celery_app, queues, redis_url, 2.0).publish("alerts.record_batch", EVENT)
    by_fast_path = stored(redis_url)

    def shape(message):
        volatile = {"id", "root_id", "correlation_id", "delivery_tag", "origin", "reply_to"}
        return {section: {k: v for k, v in message[section].items() if k not in volatile}
                for section in ("headers", "properties")} | {
            "keys": sorted(message), "content-type": message["content-type"]}

    assert shape(by_fast_path) == shape(by_kombu)
    assert json.loads(base64.b64decode(by_fast_path["body"])) == json.loads(base64.b64decode(by_kombu["body"]))
    assert by_fast_path["headers"]["id"] == by_fast_path["properties"]["correlation_id"]


def test_fast_path_publishes_from_the_event_loop_too(redis_url, celery_app):
    import asyncio

    publisher = RedisDirectPublisher.from_url(celery_app, QueueNames(), redis_url, 2.0)

    async def publish_and_close() -> None:
        await publisher.apublish("alerts.record_batch", EVENT)
        await publisher.aclose()

    asyncio.run(publish_and_close())
    message = stored(redis_url)
    assert message["headers"]["task"] == "alerts.record_batch"
    assert json.loads(base64.b64decode(message["body"]))[0] == [EVENT.to_dict()]


@pytest.mark.parametrize("kind", ["kombu", "fast", "memory"])
def test_every_publisher_raises_transient_error_when_the_broker_is_down(kind):
    from celery import Celery

    down = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    app = Celery("down", broker=down)
    publisher = {"kombu": lambda: CeleryPublisher(app, QueueNames(), timeout_s=0.5),
                 "fast": lambda: RedisDirectPublisher.from_url(app, QueueNames(), down, 0.5),
                 "memory": InMemoryPublisher}[kind]()
    if isinstance(publisher, InMemoryPublisher):
        publisher.down = True
    with pytest.raises(TransientError, match="broker unreachable"):
        publisher.publish("alerts.record_batch", EVENT)
    if isinstance(publisher, RedisDirectPublisher):
        import asyncio

        async def publish_and_close() -> None:
            try:
                await publisher.apublish("alerts.record_batch", EVENT)
            finally:
                await publisher.aclose()

        with pytest.raises(TransientError, match="broker unreachable"):
            asyncio.run(publish_and_close())
    with pytest.raises(TransientError):
        publisher.ping()
    app.close()
