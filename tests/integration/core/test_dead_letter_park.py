"""The Redis dead-letter park writes what kombu's producer writes, and parks a letter once (real Redis)."""

from __future__ import annotations

import base64
import json

import redis
from kombu import Connection, Exchange, Producer, Queue

from adapters.dead_letters import RedisDeadLetterQueue, marker_key

LETTER = {"task": "alerts.record_batch", "event": {"id": "e-1"}, "error": "InvalidInput('x')"}


def test_the_parked_envelope_is_kombus_and_a_kombu_consumer_reads_it(redis_url):
    client = redis.Redis.from_url(redis_url)
    queue = Queue("dead_letter", Exchange("dead_letter", type="direct"), routing_key="dead_letter")
    with Connection(redis_url) as connection:
        Producer(connection.default_channel).publish(LETTER, exchange=queue.exchange, routing_key="dead_letter",
                                                     declare=[queue], serializer="json")
    [by_kombu] = [json.loads(raw) for raw in client.lrange("dead_letter", 0, -1)]
    client.delete("dead_letter")
    assert RedisDeadLetterQueue(client, "dead_letter").park("id-1", LETTER) is True
    [ours] = [json.loads(raw) for raw in client.lrange("dead_letter", 0, -1)]

    def shape(message):
        return {**message, "body": json.loads(base64.b64decode(message["body"])),
                "properties": {k: v for k, v in message["properties"].items() if k != "delivery_tag"}}

    assert shape(ours) == shape(by_kombu)
    with Connection(redis_url) as connection, connection.SimpleQueue(queue) as simple:
        message = simple.get(timeout=2)
        assert message.payload == LETTER
        message.ack()


def test_a_letter_parks_once_and_its_marker_lives_seven_days(redis_url):
    client = redis.Redis.from_url(redis_url)
    park = RedisDeadLetterQueue(client, "dead_letter")
    assert [park.park("id-2", LETTER) for _ in range(3)] == [True, False, False]
    assert client.llen("dead_letter") == 1
    assert 7 * 24 * 3600 - 5 < client.ttl(marker_key("id-2")) <= 7 * 24 * 3600
