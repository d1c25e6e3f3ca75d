"""The base task: trace context in logs, retry with backoff and jitter, dead-letter on permanent failure."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import structlog
from celery import Task

from adapters import dead_letters, intake_journal
from adapters.backoff import full_jitter
from pipeline.audit import AuditRecord
from adapters.faults import is_transient
from config.settings import Settings
from tasks.runtime import runtime

log = structlog.get_logger("tasks")

BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0  # a failed dead letter (audit or park) waits this long before it tries again


# A CloudEvents extension attribute carried by a retried message: when its first transient failure was.
FIRST_FAILURE = "scofirstfailure"


def retry_backoff_cap_s(settings: Settings) -> float:
    """The longest wait between retries: the setting, held under half the visibility timeout.

    A retry waits in the worker as an unacked message with an ETA; a wait past the broker's
    visibility timeout makes Redis hand the same message to another worker.
    """
    return min(settings.task_retry_backoff_cap_s, settings.broker_visibility_timeout_s / 2)


def retry_plan(event: Any, retries: int, settings: Settings, now: datetime) -> tuple[float, Any] | None:
    """(delay, event to retry with) while the first failure is younger than the retry age; else None.

    Retrying by age, not by count, means an outage of any length under the age dead-letters nothing,
    however short the backoff cap makes each wait.
    """
    first = _first_failure(event) or now
    if (now - first).total_seconds() >= settings.task_retry_max_age_s:
        return None
    delay = full_jitter(min(retries, 32), base_s=BACKOFF_BASE_S, cap_s=retry_backoff_cap_s(settings))
    retried = {**event, FIRST_FAILURE: first.isoformat()} if isinstance(event, dict) else event
    return delay, retried


def _first_failure(event: Any) -> datetime | None:
    raw = event.get(FIRST_FAILURE) if isinstance(event, dict) else None
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


class PipelineTask(Task):
    """Every pipeline task: one CloudEvent dict in, errors mapped to retry (by age) or dead letter."""

    abstract = True
    acks_late = True
    reject_on_worker_lost = True
    max_retries = None  # retries end by age (retry_plan), never by Celery's count

    def __call__(self, event: dict[str, Any], *args: Any, **kwargs: Any) -> Any:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            task=self.name, task_id=self.request.id, event_id=_get(event, "id"), trace_id=_get(event, "traceid"))
        try:
            result = self.run(event, *args, **kwargs)
            _forget_intake(event)
            return result
        except Exception as exc:  # noqa: BLE001 - every failure is classified below
            retries = self.request.retries
            plan = retry_plan(event, retries, runtime().settings, datetime.now(timezone.utc)) if is_transient(exc) \
                else None
            if plan is not None:
                delay, retried_event = plan
                _touch_intake(event)
                log.warning("task.retry", error=repr(exc), retries=retries, countdown=round(delay, 3),
                            first_failure=retried_event.get(FIRST_FAILURE))
                raise self.retry(args=[retried_event, *args], kwargs=kwargs, exc=exc, countdown=delay) from exc
            return self._dead_letter_or_retry(event, exc)
        finally:
            structlog.contextvars.clear_contextvars()

    def _dead_letter_or_retry(self, event: Any, exc: BaseException) -> dict[str, Any]:
        try:
            self.dead_letter(event, exc)
        except Exception as parking_error:  # noqa: BLE001 - parking failed: keep the message alive
            log.error("task.dead_letter_failed", error=repr(parking_error), cause=repr(exc))
            raise self.retry(exc=parking_error, countdown=BACKOFF_CAP_S) from parking_error
        _forget_intake(event)
        return {"dead_lettered": True, "error": repr(exc)}

    def quarantine(self, event: Any, item: Any, exc: BaseException, *, event_id: str | None = None) -> None:
        """Park one bad item of a batch alone (dead letter + audit row); the rest of its batch goes on."""
        alone = {**event, "data": {**event.get("data", {}), "alerts": [item]}} if isinstance(event, dict) else event
        # An alert too broken to have an event id is named by its content within its batch: two of them
        # in one batch are two letters, and a redelivery of the batch names each of them again.
        key = event_id or f"{_get(event, 'id') or self.request.id}/{dead_letters.content_digest(item)}"
        self.dead_letter(alone, exc, kind="alert.quarantined", event_id=event_id, key=key)

    def dead_letter(self, event: Any, exc: BaseException, *, kind: str = "message.dead_lettered",
                    event_id: str | None = None, key: str | None = None) -> None:
        """Audit the letter, then park it on the dead-letter queue, each once; the original is then acked.

        The letter's id comes from the task, the kind and the event id (the task id only when the
        message has no event id), so a redelivery after a kill between the two steps finishes the
        letter without a second audit row or a second parked copy (adapters/dead_letters.py).
        """
        failed_at = datetime.now(timezone.utc)
        key = key or event_id or _get(event, "id") or self.request.id
        letter_id = dead_letters.dead_letter_id(self.name, kind, str(key))
        letter = {"task": self.name, "task_id": self.request.id, "event": event, "error": repr(exc),
                  "retries": self.request.retries, "failed_at": failed_at.isoformat()}
        record = AuditRecord(kind=kind, occurred_at=failed_at, actor=f"worker:{self.name}",
                             event_id=event_id or _get(event, "id"), trace_id=_get(event, "traceid"),
                             data={"task": self.name, "error": repr(exc)[:2000], "retries": self.request.retries,
                                   "dead_letter_id": letter_id, "task_id": self.request.id})
        audited, parked = _dead_letters().dead_letter(letter_id, record, letter)
        log.error("task.dead_lettered", kind=kind, error=repr(exc), retries=self.request.retries,
                  dead_letter_id=letter_id, audited=audited, parked=parked)


def _dead_letters() -> dead_letters.DeadLetters:
    """This process's dead letters: the runtime's, else built once beside its broker and database."""
    rt = runtime()
    if rt.dead_letters is None:
        rt.dead_letters = dead_letters.dead_letters_for(rt.settings.broker, rt.settings.queues.dead_letter, rt.engine)
    return rt.dead_letters


def _forget_intake(event: Any) -> None:
    """The work is committed (or parked): the intake journal need not re-publish this event."""
    event_id = _get(event, "id")
    journal = intake_journal.journal_for(runtime().settings.broker)
    if journal is None or not isinstance(event_id, str):
        return
    try:
        journal.forget(event_id)
    except Exception as exc:  # noqa: BLE001 - Redis gone: the sweeper re-publishes, the task dedupes
        log.warning("intake_journal.forget_failed", error=repr(exc))


def _touch_intake(event: Any) -> None:
    """The message is being retried, not lost: keep its journal entry from being re-published."""
    event_id = _get(event, "id")
    journal = intake_journal.journal_for(runtime().settings.broker)
    if journal is None or not isinstance(event_id, str):
        return
    try:
        journal.touch(event_id)
    except Exception as exc:  # noqa: BLE001 - Redis gone: at worst the sweeper re-publishes a duplicate
        log.warning("intake_journal.touch_failed", error=repr(exc))


def _get(event: Any, key: str) -> Any:
    return event.get(key) if isinstance(event, dict) else None
