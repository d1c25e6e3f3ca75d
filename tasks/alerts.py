"""Alert batches from the webhook: correlate into incidents and record them with their audit rows."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import structlog

from celery import current_app, shared_task

from adapters.faults import is_transient
from adapters.broker import CeleryPublisher, RedisDirectPublisher, publisher_for
from adapters.db.outbox_relay import OutboxRelay
from pipeline.events import AlertBatch, AlertReceived, CloudEvent, decode_alert_batch
from services.alerts import AlertRecorder, BatchOutcome
from tasks.anomaly_evidence import attach_anomaly_evidence
from tasks.base import PipelineTask
from tasks.runtime import runtime

log = structlog.get_logger("tasks.alerts")

Quarantine = Callable[[Any, BaseException], None]


@shared_task(name="alerts.record_batch", base=PipelineTask, bind=True, max_retries=None)
def record_alert_batch(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Record every alert of one webhook request; a redelivered batch is a no-op; a bad alert is quarantined alone."""
    envelope = CloudEvent.from_dict(event)
    settings = runtime().settings
    batch, rejected = decode_alert_batch(envelope.data, settings.grouping_labels)

    def quarantine(item: Any, exc: BaseException) -> None:
        raw = item.to_dict() if isinstance(item, AlertReceived) else item
        event_id = item.event_id if isinstance(item, AlertReceived) else None
        self.quarantine(event, raw, exc, event_id=event_id)

    for raw, exc in rejected:
        quarantine(raw, exc)
    now = datetime.now(timezone.utc)
    outcome = record_isolating(runtime().alert_store, batch, trace_id=envelope.traceid, now=now,
                               quarantine=quarantine)
    attach_anomaly_evidence(batch, envelope.traceid, now)  # before any follow-up reads the incident
    log.info("alerts.recorded", alerts=len(batch.alerts), recorded=outcome.recorded, duplicates=outcome.duplicates,
             opened=list(outcome.opened), resolved=list(outcome.resolved), audit_rows=outcome.audit_rows,
             quarantined=len(rejected))
    # After the commit: relay the outbox rows this batch wrote (risk assessment of each incident it
    # opened); a crash before this line leaves them to the sweep, which this also runs.
    relay = outbox_relay()
    relay.relay(outcome.follow_ups)
    relay.sweep(settings.outbox_sweep_after_s)
    return {"recorded": outcome.recorded, "duplicates": outcome.duplicates,
            "opened": list(outcome.opened), "resolved": list(outcome.resolved), "quarantined": len(rejected)}


def outbox_relay() -> OutboxRelay:
    """The relay of this worker process; on Redis it publishes through the intake journal too."""
    publisher = event_publisher()
    return OutboxRelay(runtime().engine, publisher.publish, publish_many=getattr(publisher, "publish_many", None))


@functools.lru_cache(maxsize=1)
def event_publisher() -> CeleryPublisher | RedisDirectPublisher:
    settings = runtime().settings
    return publisher_for(current_app, settings.queues, settings.broker, settings.broker_publish_timeout_s)


def record_isolating(recorder: AlertRecorder, batch: AlertBatch, *, trace_id: str, now: datetime,
                     quarantine: Quarantine) -> BatchOutcome:
    """Record the batch in one transaction; if the store refuses it for good, record alert by alert.

    A transient fault (database down) propagates, so the whole message is retried. A permanent one
    means some alert cannot be stored: each alert is then recorded alone and only the ones the
    store refuses are quarantined, so one bad alert never sinks the rest of its batch.
    """
    if not batch.alerts:
        return BatchOutcome()
    try:
        return recorder.record_batch(batch, trace_id=trace_id, now=now)
    except Exception as exc:  # noqa: BLE001 - classified: transient re-raised, permanent isolated
        if is_transient(exc):
            raise
        if len(batch.alerts) == 1:
            quarantine(batch.alerts[0], exc)
            return BatchOutcome()
        log.warning("alerts.batch_refused_isolating", error=repr(exc)[:500], alerts=len(batch.alerts))
    outcomes = [record_isolating(recorder, _alone(batch, alert), trace_id=trace_id, now=now, quarantine=quarantine)
                for alert in batch.alerts]
    return _merge(outcomes)


def _alone(batch: AlertBatch, alert: AlertReceived) -> AlertBatch:
    return AlertBatch((alert,), batch.group_key, batch.receiver, batch.truncated_alerts, batch.external_url,
                      batch.group_labels)


def _merge(outcomes: list[BatchOutcome]) -> BatchOutcome:
    return BatchOutcome(
        recorded=sum(o.recorded for o in outcomes), duplicates=sum(o.duplicates for o in outcomes),
        opened=tuple(i for o in outcomes for i in o.opened), resolved=tuple(i for o in outcomes for i in o.resolved),
        audit_rows=sum(o.audit_rows for o in outcomes),
        touched=tuple(dict.fromkeys(i for o in outcomes for i in o.touched)),
        follow_ups=tuple(i for o in outcomes for i in o.follow_ups))
