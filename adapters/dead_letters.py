"""Dead letters: audit first, then park; each letter exactly once, whatever crash and redelivery between.

A message a task gives up on is first audited (an audit row naming the letter, with a claim on the
letter's id in `follow_up_claims`, one transaction), then parked on the dead-letter queue. The
letter's id is derived from the task's name, the kind of letter and the message's event id, so a
redelivered message (or one the intake journal re-published under a new task id) names the same
letter:

- killed after the audit committed: the redelivery finds the claim, writes no second row, and parks;
- killed after the park: the redelivery finds both the claim and the park marker, and does nothing.

On a Redis broker the park is one MULTI of the LPUSH (the envelope kombu's Redis transport writes)
and the marker `sco:dead_letter:parked:<id>` (kept 7 days), under WATCH of the marker: the letter
and its marker land together or not at all, and two deliveries racing park once. On other
transports kombu's producer parks it, and a second claim row (`dead_letter.parked`) written after
the publish is the marker: a kill between the two can park one extra copy, carrying the same
`dead_letter_id`, so a reader can drop it.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Protocol

import structlog
from sqlalchemy.engine import Engine

from adapters.broker import redis_envelope
from adapters.db import audit_writer
from adapters.db.engine import insert_ignoring_duplicates
from adapters.db.schema_remediation import follow_up_claims
from pipeline.audit import AuditRecord

log = structlog.get_logger("dead_letters")

MARKER_PREFIX = "sco:dead_letter:parked:"
MARKER_TTL_S = 7 * 24 * 3600  # longer than any redelivery or journal re-publish can come back
AUDITED, PARKED = "dead_letter.audited", "dead_letter.parked"  # kinds of claim row


def dead_letter_id(task: str, kind: str, key: str) -> str:
    """The letter's deterministic id: the same task giving up on the same message (or item) names it again."""
    return hashlib.sha256(f"{task}\x1f{kind}\x1f{key}".encode()).hexdigest()  # 64 characters: the claim's key


def content_digest(item: Any) -> str:
    """A stable digest of a JSON-like item (what names a letter that has no event id of its own)."""
    canonical = json.dumps(item, sort_keys=True, ensure_ascii=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(canonical.encode("ascii", "backslashreplace")).hexdigest()[:32]


class DeadLetterQueue(Protocol):
    """Where letters are parked; `park` puts a letter there once and says whether it did now."""

    def park(self, letter_id: str, letter: dict[str, Any]) -> bool: ...


def claim(conn: Any, letter_id: str, kind: str, now: datetime) -> bool:
    """Claim `kind` for this letter inside the caller's transaction; False when it was claimed before."""
    statement = insert_ignoring_duplicates(conn, follow_up_claims,
                                           {"event_id": letter_id, "kind": kind, "claimed_at": now},
                                           returning=follow_up_claims.c.event_id)
    return conn.execute(statement).first() is not None


def audit_once(engine: Engine, letter_id: str, record: AuditRecord) -> bool:
    """Write the letter's audit row with its claim in one transaction; False when a delivery already did."""
    with engine.begin() as conn:
        if not claim(conn, letter_id, AUDITED, record.occurred_at):
            return False
        audit_writer.append(conn, [record])
        return True


class DeadLetters:
    """Audits, then parks, each letter once."""

    def __init__(self, engine: Engine, queue: DeadLetterQueue) -> None:
        self._engine, self._queue = engine, queue

    def dead_letter(self, letter_id: str, record: AuditRecord, letter: dict[str, Any]) -> tuple[bool, bool]:
        """(audited now, parked now); both False for a letter an earlier delivery already finished."""
        audited = audit_once(self._engine, letter_id, record)
        parked = self._queue.park(letter_id, {**letter, "dead_letter_id": letter_id})
        return audited, parked


def marker_key(letter_id: str) -> str:
    return f"{MARKER_PREFIX}{letter_id}"


class RedisDeadLetterQueue:
    """The letter's LPUSH and its park marker in one MULTI, under WATCH of the marker."""

    def __init__(self, client: Any, queue: str) -> None:
        self._client, self._queue = client, queue

    def park(self, letter_id: str, letter: dict[str, Any]) -> bool:
        import redis

        marker = marker_key(letter_id)
        with self._client.pipeline(transaction=True) as pipe:
            try:
                pipe.watch(marker)
                if pipe.exists(marker):
                    return False
                pipe.multi()
                pipe.lpush(self._queue, self.envelope(letter))
                pipe.set(marker, "1", ex=MARKER_TTL_S)
                pipe.execute()
            except redis.WatchError:  # another delivery parked it between our WATCH and EXEC
                return False
        return True

    def envelope(self, letter: dict[str, Any]) -> bytes:
        """What kombu's Redis transport stores for a JSON message published to the dead-letter exchange."""
        return json.dumps(redis_envelope(json.dumps(letter).encode(), routing_key=self._queue,
                                         exchange=self._queue)).encode()


class KombuDeadLetterQueue:
    """Any other transport: kombu's producer parks it, a `dead_letter.parked` claim row marks it."""

    def __init__(self, broker_url: str, queue: str, engine: Engine) -> None:
        self._broker_url, self._queue, self._engine = broker_url, queue, engine

    def park(self, letter_id: str, letter: dict[str, Any]) -> bool:
        from datetime import timezone

        import sqlalchemy as sa
        from kombu import Connection, Exchange, Producer, Queue

        with self._engine.connect() as conn:
            done = conn.execute(sa.select(follow_up_claims.c.event_id).where(
                follow_up_claims.c.event_id == parked_claim_key(letter_id))).first()
        if done is not None:
            return False
        queue = Queue(self._queue, Exchange(self._queue, type="direct"), routing_key=self._queue)
        with Connection(self._broker_url) as connection:
            Producer(connection.default_channel).publish(letter, exchange=queue.exchange, routing_key=self._queue,
                                                         declare=[queue], serializer="json", retry=True)
        with self._engine.begin() as conn:
            claim(conn, parked_claim_key(letter_id), PARKED, datetime.now(timezone.utc))
        return True


def parked_claim_key(letter_id: str) -> str:
    """The park's claim row: its own key beside the audit's (the claim table's key is the id alone)."""
    return hashlib.sha256(f"{PARKED}\x1f{letter_id}".encode()).hexdigest()


def dead_letters_for(broker_url: str, queue: str, engine: Engine, timeout_s: float = 2.0) -> DeadLetters:
    """The dead letters of one worker process: the MULTI park on Redis, kombu's producer elsewhere."""
    if broker_url.startswith(("redis://", "rediss://")):
        import redis

        client = redis.Redis.from_url(broker_url, socket_connect_timeout=timeout_s, socket_timeout=timeout_s)
        return DeadLetters(engine, RedisDeadLetterQueue(client, queue))
    return DeadLetters(engine, KombuDeadLetterQueue(broker_url, queue, engine))
