"""The intake journal: what the HTTP edge acknowledged, kept in Redis until a worker has committed it.

Kombu's Redis transport takes a message off its queue (BRPOP) and only afterwards records it in
its `unacked` hash; a worker SIGKILLed in between loses the message, and `acks_late` cannot help
(kombu #305, #1836; celery #4354, #7950). So the publisher writes, in one MULTI with its LPUSH, a
journal entry keyed by the event id: the task and the event. A worker forgets the entry once the
task's work is committed (or dead-lettered), and a sweeper re-publishes entries older than a bound.
Re-publishing is safe because every task is idempotent on its event id; the bound only decides
how much duplicate work a long backlog costs.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import structlog

from adapters.periodic import PeriodicJob
from pipeline.events import CloudEvent

log = structlog.get_logger("intake_journal")

ENTRIES = "smartcloudops:intake:journal"  # hash: event id -> {"task", "event"}
WRITTEN_AT = "smartcloudops:intake:journal:at"  # sorted set: event id -> when it was (re)published

Republish = Callable[[str, CloudEvent], None]


def journal_entry(task: str, event: CloudEvent) -> bytes:
    """The journal's record of one published message (orjson: the webhook's hot path, and the same
    event the broker message already carries through orjson)."""
    return orjson.dumps({"task": task, "event": event.to_dict()})


def serialised_entry(task: str, event: orjson.Fragment) -> bytes:
    """journal_entry of an event already serialised (the broker message's bytes): the same bytes."""
    return orjson.dumps({"task": task, "event": event})


def add_entry_to(pipe: Any, event_id: str, entry: bytes, now: float) -> None:
    """Queue the journal writes of `entry` (`journal_entry` or `serialised_entry`) on a MULTI pipeline that
    also carries the LPUSH (sync or asyncio client)."""
    pipe.hset(ENTRIES, event_id, entry)
    pipe.zadd(WRITTEN_AT, {event_id: now})


class IntakeJournal:
    """Forgets committed work and re-publishes what a crash left behind."""

    def __init__(self, client: Any, clock: Callable[[], float] = time.time) -> None:
        self._client, self._clock = client, clock

    def forget(self, event_id: str) -> None:
        """The work of this event is committed: it needs no re-publishing."""
        pipe = self._client.pipeline(transaction=True)
        pipe.hdel(ENTRIES, event_id)
        pipe.zrem(WRITTEN_AT, event_id)
        pipe.execute()

    def forget_many(self, event_ids: list[str]) -> None:
        """The work of these events is committed (one transaction for many messages): one round trip."""
        if not event_ids:
            return
        pipe = self._client.pipeline(transaction=True)
        pipe.hdel(ENTRIES, *event_ids)
        pipe.zrem(WRITTEN_AT, *event_ids)
        pipe.execute()

    def touch(self, event_id: str) -> None:
        """This event's message is alive (a task is retrying it): not due for re-publishing yet.

        Only an entry that exists is refreshed. Without this, every message retried through a long
        database outage would be re-published each bound, and the backlog would be that many
        duplicates longer when the database returns.
        """
        self._client.zadd(WRITTEN_AT, {event_id: self._clock()}, xx=True)

    def pending(self) -> int:
        return int(self._client.zcard(WRITTEN_AT))

    def sweep(self, older_than_s: float, republish: Republish, limit: int = 500) -> int:
        """Re-publish entries older than `older_than_s`; how many were re-published."""
        cutoff = self._clock() - older_than_s
        ids = self._client.zrangebyscore(WRITTEN_AT, "-inf", cutoff, start=0, num=limit)
        sent = 0
        for raw_id in ids:
            event_id = raw_id.decode() if isinstance(raw_id, bytes) else raw_id
            raw = self._client.hget(ENTRIES, event_id)
            if raw is None:  # forgotten between the two reads
                self._client.zrem(WRITTEN_AT, event_id)
                continue
            entry = json.loads(raw)
            republish(entry["task"], CloudEvent.from_dict(entry["event"]))  # journals it again, at now
            sent += 1
        if sent:
            log.warning("intake_journal.republished", messages=sent, older_than_s=older_than_s)
        return sent


@functools.lru_cache(maxsize=4)
def journal_for(broker_url: str, timeout_s: float = 2.0) -> IntakeJournal | None:
    """The journal beside a Redis broker (one client per process and URL); None on other transports."""
    if not broker_url.startswith(("redis://", "rediss://")):
        return None
    import redis

    return IntakeJournal(redis.Redis.from_url(broker_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s))


class JournalSweeper:
    """A worker-side thread that re-publishes stale journal entries every interval."""

    def __init__(self, journal: IntakeJournal, republish: Republish, *, interval_s: float,
                 older_than_s: float) -> None:
        # Redis down: the sweep fails, is logged, and runs again next interval.
        self._job = PeriodicJob(lambda: journal.sweep(older_than_s, republish), interval_s=interval_s,
                                name="intake-journal-sweeper", log=log,
                                failure_event="intake_journal.sweep_failed")

    def start(self) -> threading.Thread:
        return self._job.start()

    def stop(self) -> None:
        self._job.stop()
