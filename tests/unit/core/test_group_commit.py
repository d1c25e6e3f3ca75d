"""The Redis fast path commits concurrent requests' messages together, each exactly as it would alone."""

from __future__ import annotations

import asyncio
import base64
import json
from datetime import datetime, timezone

import fakeredis
import orjson
import pytest
from celery import Celery

from adapters import intake_journal
from adapters.broker import RedisDirectPublisher
from config.settings import QueueNames
from pipeline.errors import TransientError
from pipeline.events import CloudEvent, envelope

TASK = "alerts.record_batch"
NOW = datetime(2026, 12, 3, tzinfo=timezone.utc)


def event(n: int) -> CloudEvent:
    data = {"alerts": [{"n": n, "labels": {"alertname": "Ünïcode ✓", "i": str(n)}}], "group_key": f"g{n}"}
    return envelope("dev.smartcloudops.test", "urn:test", data, event_id=f"e-{n}", trace_id=f"t-{n}", now=NOW)


@pytest.fixture
def app():
    app = Celery("group-commit", broker="memory://")
    yield app
    app.close()


class CountingClient:
    """An asyncio Redis client (fakeredis) that counts the MULTIs it is asked for."""

    def __init__(self, fail: Exception | None = None) -> None:
        self.server = fakeredis.FakeServer()
        self.client = fakeredis.FakeAsyncRedis(server=self.server)
        self.multis = 0
        self.fail = fail

    def pipeline(self, transaction: bool = True):  # type: ignore[no-untyped-def]
        assert transaction
        self.multis += 1
        pipe = self.client.pipeline(transaction=True)
        if self.fail is not None:
            async def execute(*_args, **_kwargs):  # type: ignore[no-untyped-def]
                raise self.fail
            pipe.execute = execute
        return pipe

    def sync(self) -> fakeredis.FakeRedis:
        return fakeredis.FakeRedis(server=self.server)


def body_of(message: bytes) -> list:
    return json.loads(base64.b64decode(json.loads(message)["body"]))


def test_the_message_and_journal_entry_serialise_the_event_once_to_the_same_bytes(app):
    publisher = RedisDirectPublisher(app, QueueNames(), client=None)
    for n in range(5):
        message, entry = publisher.encode_with_entry(TASK, event(n), "events")
        assert entry == intake_journal.journal_entry(TASK, event(n))
        assert body_of(message) == [[event(n).to_dict()], {}, {"callbacks": None, "errbacks": None, "chain": None,
                                                               "chord": None}]
        alone = json.loads(publisher.encode(TASK, event(n), "events"))
        together = json.loads(message)
        for volatile in ("id", "root_id"):
            alone["headers"].pop(volatile), together["headers"].pop(volatile)
        for volatile in ("correlation_id", "delivery_tag"):
            alone["properties"].pop(volatile), together["properties"].pop(volatile)
        assert together == alone


def test_concurrent_requests_share_a_multi_and_each_message_is_stored_with_its_journal_entry(app):
    fake = CountingClient()
    publisher = RedisDirectPublisher(app, QueueNames(), client=None, async_client=fake)

    async def many() -> None:
        await asyncio.gather(*(publisher.apublish(TASK, event(n)) for n in range(40)))

    asyncio.run(many())
    redis = fake.sync()
    stored = [body_of(raw)[0][0] for raw in reversed(redis.lrange("events", 0, -1))]
    assert stored == [event(n).to_dict() for n in range(40)]  # every message, in the order they came
    assert redis.hgetall(intake_journal.ENTRIES) == {
        f"e-{n}".encode(): intake_journal.journal_entry(TASK, event(n)) for n in range(40)}
    assert redis.zcard(intake_journal.WRITTEN_AT) == 40
    assert fake.multis == 1  # all forty queued before the committer ran


def test_a_group_is_at_most_group_commit_max_messages(app):
    fake = CountingClient()
    publisher = RedisDirectPublisher(app, QueueNames(), client=None, async_client=fake)
    count = 2 * publisher.GROUP_COMMIT_MAX + 2

    async def many() -> None:
        await asyncio.gather(*(publisher.apublish(TASK, event(n)) for n in range(count)))

    asyncio.run(many())
    assert fake.sync().llen("events") == count
    assert fake.multis == 3  # 64, 64 and 2


def test_a_request_alone_is_committed_at_once(app):
    fake = CountingClient()
    publisher = RedisDirectPublisher(app, QueueNames(), client=None, async_client=fake)

    async def one_by_one() -> None:
        for n in range(3):
            await publisher.apublish(TASK, event(n))

    asyncio.run(one_by_one())
    assert fake.multis == 3
    assert fake.sync().llen("events") == 3


def test_every_request_of_a_failed_group_gets_its_own_transient_error(app):
    fake = CountingClient(fail=ConnectionRefusedError("refused"))
    publisher = RedisDirectPublisher(app, QueueNames(), client=None, async_client=fake)

    async def many() -> list:
        return await asyncio.gather(*(publisher.apublish(TASK, event(n)) for n in range(5)), return_exceptions=True)

    errors = asyncio.run(many())
    assert all(isinstance(error, TransientError) for error in errors)
    assert all(str(error) == "broker unreachable: refused" for error in errors)
    assert len({id(error) for error in errors}) == 5
    assert all(isinstance(error.__cause__, ConnectionRefusedError) for error in errors)


def test_a_fault_that_is_not_the_brokers_reaches_every_request_unchanged(app):
    fake = CountingClient(fail=ValueError("a bug"))
    publisher = RedisDirectPublisher(app, QueueNames(), client=None, async_client=fake)

    async def many() -> list:
        return await asyncio.gather(*(publisher.apublish(TASK, event(n)) for n in range(3)), return_exceptions=True)

    assert [type(error) for error in asyncio.run(many())] == [ValueError] * 3


def test_a_request_cancelled_while_waiting_leaves_the_others_committed(app):
    fake = CountingClient()
    publisher = RedisDirectPublisher(app, QueueNames(), client=None, async_client=fake)

    async def one_cancelled() -> None:
        tasks = [asyncio.create_task(publisher.apublish(TASK, event(n))) for n in range(4)]
        await asyncio.sleep(0)  # each has queued its message
        tasks[2].cancel()
        results = await asyncio.gather(*tasks, return_exceptions=True)
        assert [isinstance(result, asyncio.CancelledError) for result in results] == [False, False, True, False]

    asyncio.run(one_cancelled())
    # The cancelled request's message was already on its way: like a client that hangs up after
    # sending, it may be stored (the event id makes it harmless), and nothing else is held back.
    assert fake.sync().llen("events") == 4
    assert orjson.loads(fake.sync().hget(intake_journal.ENTRIES, "e-3"))["task"] == TASK
