"""The metrics task: decode an intake message, score it (services.metrics), log what it did."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from celery import shared_task

from pipeline.events import CloudEvent
from pipeline.metric_events import SampleBatch
from services.metrics import MetricScorer
from tasks.anomaly_evidence import attach_anomaly_evidence
from tasks.base import PipelineTask
from tasks.runtime import runtime

log = structlog.get_logger("tasks.metrics")


def metric_scorer() -> MetricScorer:
    """This process's scorer, from its runtime (the detector is loaded once per process)."""
    rt = runtime()
    return MetricScorer(
        rt.anomaly_detector(),
        rt.series_states,
        rt.anomaly_scores,
        rt.alert_store,
        rt.settings.anomaly_resolve_after_points,
        on_recorded=attach_anomaly_evidence,
    )


@shared_task(name="metrics.score_batch", base=PipelineTask, bind=True, max_retries=None)
def score_metric_batch(self: PipelineTask, event: dict[str, Any]) -> dict[str, Any]:
    """Score every sample of one intake message; a redelivered message changes nothing."""
    envelope = CloudEvent.from_dict(event)
    batch = SampleBatch.from_data(envelope.data)
    outcome = metric_scorer().score(batch, trace_id=envelope.traceid, now=datetime.now(UTC))
    _observe_inference(outcome)
    log.info(
        "metrics.scored",
        series=outcome.series,
        scored=outcome.scored,
        dropped_stale=outcome.dropped_stale,
        dropped_non_finite=batch.dropped.non_finite,
        dropped_duplicate=batch.dropped.duplicate,
        anomalous=outcome.anomalous,
        alerts=len(outcome.alerts),
        opened=list(outcome.opened),
    )
    return {
        "series": outcome.series,
        "scored": outcome.scored,
        "dropped_stale": outcome.dropped_stale,
        "anomalous": outcome.anomalous,
        "alerts": len(outcome.alerts),
        "opened": list(outcome.opened),
    }


def _observe_inference(outcome) -> None:  # type: ignore[no-untyped-def]
    """The detector call's size, time and scores, once the message's scores are stored."""
    from adapters.observability import metrics

    if outcome.inference_points:
        metrics.inference_batch_size.observe(outcome.inference_points)
        metrics.inference_duration.observe(outcome.inference_s)
    metrics.observe_many(metrics.anomaly_score, outcome.scores)
