"""A message given up on is audited first, then parked; a kill between or after, then redelivery, does each once.

The task runs on a migrated SQLite store and the Redis park on fakeredis; a kill is a BaseException
raised at the chosen point, which no handler of the task catches, as a SIGKILL would stop it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import fakeredis
import pytest
import sqlalchemy as sa
from celery import Celery

from adapters.dead_letters import DeadLetters, RedisDeadLetterQueue, dead_letter_id, marker_key
from adapters.db.engine import create_engine
from adapters.db.schema import audit_log
from config.settings import load_settings
from pipeline.errors import InvalidInput
from tasks import runtime as task_runtime
from tasks.base import PipelineTask
from tasks.runtime import Runtime

TASK = "test.poisoned"
EVENT = {"id": "evt-0001", "traceid": "trace-1", "data": {"alerts": [{"labels": {}}]}}


class Killed(BaseException):
    """The process died here: nothing after this point ran."""


class Park:
    """The real Redis park (on fakeredis) that can die before or after it parks, and reports what it saw."""

    def __init__(self, redis_client: Any, engine: Any) -> None:
        self.real = RedisDeadLetterQueue(redis_client, "dead_letter")
        self.engine = engine
        self.die: str | None = None  # "before" | "after": the next park is killed there
        self.audit_rows_seen: list[int] = []

    def park(self, letter_id: str, letter: dict[str, Any]) -> bool:
        self.audit_rows_seen.append(audit_rows(self.engine))
        die, self.die = self.die, None
        if die == "before":
            raise Killed
        parked = self.real.park(letter_id, letter)
        if die == "after":
            raise Killed
        return parked


def audit_rows(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.kind == "message.dead_lettered")).scalar_one()


def parked(client) -> list[dict]:
    return [json.loads(base64.b64decode(json.loads(raw)["body"])) for raw in client.lrange("dead_letter", 0, -1)]


@pytest.fixture
def world(sqlite_url, tmp_path):
    engine = create_engine(sqlite_url)
    client = fakeredis.FakeRedis()
    park = Park(client, engine)
    task_runtime.install(Runtime(settings=load_settings(data_dir=tmp_path), engine=engine, alert_store=None,
                                 incidents=None, dead_letters=DeadLetters(engine, park)))
    app = Celery("dead-letter-test", broker="memory://")

    @app.task(name=TASK, base=PipelineTask, bind=True, shared=False)  # registered on this app alone
    def poisoned(self, event):
        raise InvalidInput("this message can never be processed")

    yield poisoned, park, client, engine
    task_runtime.install(None)
    app.close()


def deliver(task, event=EVENT, task_id: str = "task-1") -> Any:
    """One delivery of the message, as a worker runs it (acks late: a redelivery keeps its task id)."""
    return task.apply(args=[event], task_id=task_id, throw=True).get(propagate=True)


def test_the_audit_row_is_written_before_the_message_is_parked(world):
    task, park, client, engine = world
    assert deliver(task)["dead_lettered"] is True
    assert park.audit_rows_seen == [1]  # the row was committed when the park began
    assert audit_rows(engine) == 1 and len(parked(client)) == 1


def test_killed_after_the_audit_the_redelivery_parks_once_and_audits_no_more(world):
    task, park, client, engine = world
    park.die = "before"
    with pytest.raises(Killed):
        deliver(task)
    assert (audit_rows(engine), len(parked(client))) == (1, 0)
    deliver(task)
    assert (audit_rows(engine), len(parked(client))) == (1, 1)


def test_killed_after_the_park_the_redelivery_neither_audits_nor_parks_again(world):
    task, park, client, engine = world
    park.die = "after"
    with pytest.raises(Killed):
        deliver(task)
    assert (audit_rows(engine), len(parked(client))) == (1, 1)
    deliver(task)
    deliver(task, task_id="task-2")  # the intake journal re-published it: a new task id, the same event
    assert (audit_rows(engine), len(parked(client))) == (1, 1)


def test_the_letter_id_is_deterministic_and_named_by_the_audit_row_and_the_letter(world):
    task, _, client, engine = world
    deliver(task)
    expected = dead_letter_id(TASK, "message.dead_lettered", "evt-0001")
    assert expected == dead_letter_id(TASK, "message.dead_lettered", "evt-0001")
    assert len({expected, dead_letter_id("other.task", "message.dead_lettered", "evt-0001"),
                dead_letter_id(TASK, "alert.quarantined", "evt-0001"),
                dead_letter_id(TASK, "message.dead_lettered", "evt-0002")}) == 4
    [letter] = parked(client)
    assert letter["dead_letter_id"] == expected and letter["event"] == EVENT
    with engine.connect() as conn:
        body = json.loads(conn.execute(sa.select(audit_log.c.body).where(
            audit_log.c.kind == "message.dead_lettered")).scalar_one())
    assert body["data"]["dead_letter_id"] == expected and body["event_id"] == "evt-0001"
    assert client.ttl(marker_key(expected)) > 6 * 24 * 3600


def test_a_message_without_an_event_id_is_named_by_its_task_id(world):
    task, _, client, _ = world
    deliver(task, event={"not": "a cloudevent"}, task_id="task-9")
    deliver(task, event={"not": "a cloudevent"}, task_id="task-9")
    [letter] = parked(client)
    assert letter["dead_letter_id"] == dead_letter_id(TASK, "message.dead_lettered", "task-9")


def test_two_alerts_without_event_ids_in_one_batch_are_two_letters_each_parked_once(world):
    task, _, client, engine = world
    broken = [{"labels": "not a mapping"}, {"labels": {"alertname": "\ud800"}}]

    def deliver_batch() -> None:
        for item in broken:
            task.quarantine(EVENT, item, InvalidInput("bad alert"))

    deliver_batch()
    deliver_batch()  # the batch redelivered
    letters = parked(client)
    assert len(letters) == 2 and len({letter["dead_letter_id"] for letter in letters}) == 2
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(audit_log).where(
            audit_log.c.kind == "alert.quarantined")).scalar_one() == 2
