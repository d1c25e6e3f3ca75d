"""Alert batches across broker messages: many webhook requests committed in one transaction.

The task `alerts.record_batch` (tasks/alerts.py) handles one broker message at a time: about 15
database round trips and one audit-head lock for ~20 alerts. On Redis + PostgreSQL the worker
runs this consumer on the events queue instead (kombu directly, no Celery task per message):

1. take up to `alert_batch_messages` messages; the channel's prefetch is that number, so no more
   are ever unacknowledged. The batch closes when it is full, when no message came for
   `alert_batch_wait_ms`, or `MAX_LINGER_S` after its first message;
2. record every message's alerts in one transaction (`AlertStore.record_batches`);
3. after the commit: quarantine each message's refused alerts, attach anomaly evidence, relay the
   outbox rows the transaction wrote (the risk assessment of each incident it opened), forget the
   intake-journal entries, and only then acknowledge each message.

A kill at any moment leaves each message either committed (its redelivery finds duplicates and
changes nothing) or unacknowledged (the broker's visibility timeout, or the intake journal for
kombu's take-to-unacked window, hands it out again). Failures fall back to the single-message
task's own body, one message at a time, so the proven per-message rules still hold:

- the store refuses the batch for good: each message alone, where a poison alert is quarantined
  alone; it sinks neither its own batch nor the other messages;
- a transient fault while the database still answers (a lost race, a deadlock): each message alone;
- a transient fault while the database does not answer (an outage): every message goes back on the
  queue with its journal entry touched, and the consumer pauses once (full jitter, capped under
  half the visibility timeout; it resumes as soon as the database answers a ping, polled each second). A message failing for longer than `task_retry_max_age_s` (counted
  in this process) is dead-lettered, as the task would.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import structlog
from celery import Celery
from kombu import Connection, Consumer, Message

from adapters import intake_journal
from adapters.backoff import full_jitter
from adapters.db.engine import ping
from adapters.faults import is_transient
from adapters.routing import task_queues
from config.settings import Settings
from pipeline.errors import InvalidInput
from pipeline.events import AlertBatch, CloudEvent, decode_alert_batch
from tasks.alerts import outbox_relay, record_alert_batch
from tasks.anomaly_evidence import attach_anomaly_evidence
from tasks.base import BACKOFF_BASE_S, retry_backoff_cap_s
from tasks.runtime import runtime

log = structlog.get_logger("tasks.alert_consumer")

TASK = "alerts.record_batch"
MAX_LINGER_S = 0.25  # a batch waits at most this long after its first message before it commits
IDLE_POLL_S = 1.0  # how often an idle consumer looks at its stop flag
DATABASE_POLL_S = 1.0  # during an outage, how often a pausing consumer asks whether the database is back
_FAILURES_REMEMBERED = 100_000


@dataclass(slots=True)
class Delivery:
    """One broker message of the batch, decoded."""

    message: Message
    event: Any  # the CloudEvent dict the webhook published (args[0] of the task message)
    envelope: CloudEvent | None = None
    foreign: str | None = None  # the task a message not meant for this queue names
    batch: AlertBatch | None = None
    rejected: list[tuple[Any, InvalidInput]] | None = None

    @property
    def event_id(self) -> str | None:
        return self.event.get("id") if isinstance(self.event, dict) else None


class AlertBatchConsumer:
    """Takes many alert messages off the events queue and commits them in one transaction."""

    def __init__(self, app: Celery, settings: Settings, *, stop: threading.Event | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._app, self._settings = app, settings
        self._stop = stop or threading.Event()
        self._clock = clock
        self._max = max(1, settings.alert_batch_messages)
        self._wait_s = settings.alert_batch_wait_ms / 1000
        self._queue = next(q for q in task_queues(settings.queues) if q.name == settings.queues.events)
        self._held: list[Message] = []
        self._first_failure: OrderedDict[str, float] = OrderedDict()  # event id -> time.time() of first fault
        self._failures_in_a_row = 0
        self._hostname = f"alert-consumer-{os.getpid()}@{socket.gethostname()}"

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run` (SIGTERM)."""
        self._stop.set()

    def run(self) -> None:
        """Consume until stopped; a lost broker connection is reconnected after a pause."""
        # Celery's current app is per thread: the task proxies and the relay's publisher must see ours.
        self._app.set_current()
        log.info("alert_consumer.started", queue=self._queue.name, batch_messages=self._max,
                 wait_ms=self._settings.alert_batch_wait_ms)
        while not self._stop.is_set():
            try:
                with self._app.connection_for_read() as connection:
                    self._consume(connection)
            except Exception as exc:  # noqa: BLE001 - the consumer must outlive any broker fault
                log.warning("alert_consumer.connection_lost", error=repr(exc)[:500])
                self._held = []  # unacknowledged: the broker hands them out again
                self._stop.wait(self._pause_s())
        log.info("alert_consumer.stopped")

    def _consume(self, connection: Connection) -> None:
        connection.ensure_connection(max_retries=1)
        channel = connection.channel()
        consumer = Consumer(channel, queues=[self._queue], accept=["json"], on_message=self._receive,
                            auto_declare=True)
        consumer.qos(prefetch_count=self._max)  # never more unacknowledged messages than one batch
        with consumer:
            while not self._stop.is_set():
                self._fill(connection)
                if self._held:
                    held, self._held = self._held, []
                    self.handle(held)
        # Leaving closes the channel, which puts back any message taken and not acknowledged.

    def _receive(self, message: Message) -> None:
        self._held.append(message)

    def _fill(self, connection: Connection) -> None:
        first_at = None
        while len(self._held) < self._max and not self._stop.is_set():
            if self._held and first_at is None:
                first_at = self._clock()
            if first_at is not None and self._clock() - first_at >= MAX_LINGER_S:
                return
            try:
                connection.drain_events(timeout=self._wait_s if self._held else IDLE_POLL_S)
            except socket.timeout:
                if self._held:
                    return  # nothing more came in time: commit what we have

    # ------------------------------------------------------------------ one batch

    def handle(self, messages: list[Message]) -> None:
        """Commit these messages' alerts, then acknowledge each; see the module's docstring for failures."""
        started = time.perf_counter()
        deliveries, alone = self._decode(messages)
        put_back, away = 0, False
        now = datetime.now(timezone.utc)
        if deliveries:
            try:
                outcome = runtime().alert_store.record_batches(
                    [(d.batch, d.envelope.traceid) for d in deliveries], now=now)
                self._after_commit(deliveries, outcome, now)
            except Exception as exc:  # noqa: BLE001 - classified just below
                away = is_transient(exc) and not self._database_answers()
                log.warning("alert_consumer.batch_failed", error=repr(exc)[:500], messages=len(deliveries),
                            transient=is_transient(exc), database_away=away)
                if away:  # an outage: every message back on the queue, one pause
                    put_back += sum(self._put_back(d, exc) for d in deliveries)
                else:  # this batch's fault (a refused alert, a lost race): each message alone
                    alone = [*alone, *deliveries]
            else:
                self._finish(deliveries)
                self._observe(deliveries, outcome, time.perf_counter() - started)
        put_back += sum(self._handle_alone(delivery) for delivery in alone)
        if put_back:
            self._failures_in_a_row += 1
            self._pause(until_database_answers=away)

    def _decode(self, messages: list[Message]) -> tuple[list[Delivery], list[Delivery]]:
        """(messages for the batch transaction, messages to handle alone: undecodable or not ours)."""
        batched: list[Delivery] = []
        alone: list[Delivery] = []
        for message in messages:
            delivery = Delivery(message, _event_of(message))
            task = message.headers.get("task")
            if task != TASK:
                delivery.foreign = repr(task)
                alone.append(delivery)
                continue
            try:
                delivery.envelope = CloudEvent.from_dict(delivery.event)
                delivery.batch, delivery.rejected = decode_alert_batch(delivery.envelope.data,
                                                                       self._settings.grouping_labels)
            except Exception:  # noqa: BLE001 - the single-message path decides (dead letter, quarantine)
                alone.append(delivery)
                continue
            batched.append(delivery)
        return batched, alone

    def _after_commit(self, deliveries: list[Delivery], outcome: Any, now: datetime) -> None:
        for delivery in deliveries:  # refused alerts are parked once their batch is committed
            for raw, exc in delivery.rejected or ():
                with _as_task(delivery):
                    record_alert_batch.quarantine(delivery.event, raw, exc)
        merged = AlertBatch(tuple(a for d in deliveries for a in d.batch.alerts), "", "", 0, "")
        trace_id = deliveries[0].envelope.traceid
        attach_anomaly_evidence(merged, trace_id, now)  # before any follow-up reads the incident
        relay = outbox_relay()
        relay.relay(outcome.follow_ups)
        relay.sweep(self._settings.outbox_sweep_after_s)
        log.info("alerts.recorded", messages=len(deliveries), alerts=len(merged.alerts), recorded=outcome.recorded,
                 duplicates=outcome.duplicates, opened=len(outcome.opened), resolved=len(outcome.resolved),
                 audit_rows=outcome.audit_rows,
                 quarantined=sum(len(d.rejected or ()) for d in deliveries),
                 # The batch's line carries every message's ids, as one task's line carries its own.
                 event_ids=[d.envelope.id for d in deliveries],
                 trace_ids=list(dict.fromkeys(d.envelope.traceid for d in deliveries)))

    def _finish(self, deliveries: list[Delivery]) -> None:
        """The work is committed: forget the journal entries, then acknowledge (a crash between: a no-op redelivery)."""
        _forget_intake([d.event_id for d in deliveries if isinstance(d.event_id, str)], self._settings)
        for delivery in deliveries:
            self._first_failure.pop(delivery.event_id or "", None)
            delivery.message.ack()
        self._failures_in_a_row = 0

    def _handle_alone(self, delivery: Delivery) -> bool:
        """The single-message task's body for one message, its outcomes mapped as the task maps them.

        True when the message went back on the queue (a transient fault).
        """
        try:
            if delivery.foreign is not None:
                raise InvalidInput(f"the events queue carries {TASK} messages, not {delivery.foreign}")
            with _as_task(delivery):
                record_alert_batch.run(delivery.event)
        except Exception as exc:  # noqa: BLE001 - classified below
            if is_transient(exc):
                return self._put_back(delivery, exc)
            return self._dead_letter(delivery, exc)
        self._finish([delivery])
        return False

    def _put_back(self, delivery: Delivery, exc: BaseException) -> bool:
        """A transient fault: back on the queue with its journal entry touched, unless it has failed too long."""
        event_id = delivery.event_id or ""
        first = self._first_failure.setdefault(event_id, time.time())
        while len(self._first_failure) > _FAILURES_REMEMBERED:
            self._first_failure.popitem(last=False)
        if time.time() - first >= self._settings.task_retry_max_age_s:
            return self._dead_letter(delivery, exc)
        _touch_intake(event_id, self._settings)
        delivery.message.requeue()
        log.warning("alert_consumer.retry", error=repr(exc)[:500], event_id=event_id)
        return True

    def _dead_letter(self, delivery: Delivery, exc: BaseException) -> bool:
        try:
            with _as_task(delivery):
                record_alert_batch.dead_letter(delivery.event, exc)
        except Exception as parking_error:  # noqa: BLE001 - parking failed: keep the message alive
            _touch_intake(delivery.event_id or "", self._settings)
            delivery.message.requeue()
            log.error("task.dead_letter_failed", error=repr(parking_error), cause=repr(exc))
            return True
        self._finish([delivery])
        return False

    def _observe(self, deliveries: list[Delivery], outcome: Any, seconds: float) -> None:
        """Each message counts as the task's would: its duration (the batch's), its outcome, and its Celery
        events, so Flower lists it as a succeeded `alerts.record_batch`."""
        from adapters.observability import metrics

        duration = metrics.task_duration.labels(TASK)
        for delivery, recorded, duplicates in zip(deliveries, outcome.recorded_each, outcome.duplicates_each):
            duration.observe(seconds)
            kind = "duplicate" if duplicates and not recorded else "processed"
            metrics.events_consumed.labels(delivery.envelope.type, kind).inc()
        if self._app.conf.worker_send_task_events:
            try:
                self._announce(deliveries, seconds)
            except Exception as exc:  # noqa: BLE001 - monitoring must never fail committed work
                log.warning("alert_consumer.events_failed", error=repr(exc)[:300])

    def _announce(self, deliveries: list[Delivery], seconds: float) -> None:
        with self._app.connection_or_acquire() as connection:
            # Buffered: the batch's events go out as one "task.multi" message (Celery's receivers take lists).
            dispatcher = self._app.events.Dispatcher(connection, hostname=self._hostname, enabled=True,
                                                     buffer_group=["task"], buffer_limit=2 * len(deliveries) + 1)
            for delivery in deliveries:
                headers = delivery.message.headers
                task_id = headers.get("id")
                dispatcher.send("task-received", uuid=task_id, name=TASK, args=headers.get("argsrepr", ""),
                                kwargs="{}", retries=headers.get("retries", 0), root_id=headers.get("root_id"),
                                parent_id=headers.get("parent_id"), eta=None, expires=None)
                dispatcher.send("task-succeeded", uuid=task_id, result="", runtime=seconds)
            dispatcher.flush()
            dispatcher.close()

    def _database_answers(self) -> bool:
        try:
            ping(runtime().engine)
        except Exception:  # noqa: BLE001 - any failure means: not now
            return False
        return True

    def _pause(self, *, until_database_answers: bool) -> None:
        """Back off (full jitter); during an outage, end the pause as soon as the database answers again."""
        deadline = self._clock() + self._pause_s()
        while not self._stop.is_set() and self._clock() < deadline:
            self._stop.wait(min(DATABASE_POLL_S, max(0.0, deadline - self._clock())))
            if until_database_answers and self._database_answers():
                return

    def _pause_s(self) -> float:
        return full_jitter(min(self._failures_in_a_row, 32), base_s=BACKOFF_BASE_S,
                           cap_s=retry_backoff_cap_s(self._settings))


@contextlib.contextmanager
def _as_task(delivery: Delivery) -> Iterator[None]:
    """The task's code sees the message as its request (task id, retries), as under a Celery worker.

    Dead letters are named by the task id when a message has no event id.
    """
    headers = delivery.message.headers
    record_alert_batch.push_request(id=headers.get("id"), retries=headers.get("retries") or 0, delivery_info={})
    try:
        yield
    finally:
        record_alert_batch.pop_request()


def _event_of(message: Message) -> Any:
    """args[0] of a Celery protocol-2 task message; None when the body is something else."""
    try:
        body = message.decode()
        return body[0][0] if isinstance(body, (list, tuple)) and body and body[0] else None
    except Exception:  # noqa: BLE001 - undecodable: the single-message path dead-letters it
        return None


def _forget_intake(event_ids: list[str], settings: Settings) -> None:
    journal = intake_journal.journal_for(settings.broker)
    if journal is None or not event_ids:
        return
    try:
        journal.forget_many(event_ids)
    except Exception as exc:  # noqa: BLE001 - Redis gone: the sweeper re-publishes, the store dedupes
        log.warning("intake_journal.forget_failed", error=repr(exc))


def _touch_intake(event_id: str, settings: Settings) -> None:
    journal = intake_journal.journal_for(settings.broker)
    if journal is None or not event_id:
        return
    try:
        journal.touch(event_id)
    except Exception as exc:  # noqa: BLE001 - Redis gone: at worst the sweeper re-publishes a duplicate
        log.warning("intake_journal.touch_failed", error=repr(exc))
