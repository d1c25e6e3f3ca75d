"""Prometheus metrics of SmartCloudOps, named by Prometheus conventions (see docs/observability.md)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from prometheus_client import REGISTRY, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
SCORE_BUCKETS = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0)
RISK_BUCKETS = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100)
BATCH_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384)

http_requests = Counter("smartcloudops_http_requests", "HTTP requests answered, by route, method and status",
                        ["route", "method", "status"])
http_duration = Histogram("smartcloudops_http_request_duration_seconds", "HTTP request latency by route",
                          ["route"], buckets=LATENCY_BUCKETS)
events_published = Counter("smartcloudops_events_published", "Events published to the broker",
                           ["type", "queue"])
publish_failures = Counter("smartcloudops_publish_failures", "Publishes the broker did not take", ["queue"])
chat_edge_answers = Counter("smartcloudops_chat_edge_answers",
                            "Chat lines that only read, answered by the server itself (not queued)")
events_consumed = Counter("smartcloudops_events_consumed", "Events consumed by workers, by outcome",
                          ["type", "outcome"])
# smartcloudops_queue_depth{queue} is collected from the broker at scrape time: adapters.broker.QueueDepthCollector
queue_consumers = Gauge("smartcloudops_queue_consumers", "Workers consuming each queue", ["queue"],
                        multiprocess_mode="livesum")
task_duration = Histogram("smartcloudops_task_duration_seconds", "Task run time", ["task"],
                          buckets=LATENCY_BUCKETS)
task_failures = Counter("smartcloudops_task_failures", "Task failures by kind", ["task", "kind"])
inference_batch_size = Histogram("smartcloudops_inference_batch_size", "Points scored per ONNX call",
                                 buckets=BATCH_BUCKETS)
inference_duration = Histogram("smartcloudops_inference_duration_seconds", "Time of one ONNX call",
                               buckets=LATENCY_BUCKETS)
anomaly_score = Histogram("smartcloudops_anomaly_score", "Anomaly scores", buckets=SCORE_BUCKETS)
risk_score = Histogram("smartcloudops_risk_score", "Risk scores of incidents", buckets=RISK_BUCKETS)
remediation_steps = Counter("smartcloudops_remediation_steps", "Remediation steps by action and outcome",
                            ["action", "outcome"])
guard_refusals = Counter("smartcloudops_guard_refusals", "Remediation steps refused by a guard", ["reason"])
audit_rows = Counter("smartcloudops_audit_rows_written", "Audit rows appended", ["kind"])
class AuditChainStatus:
    """smartcloudops_audit_chain_ok and its timestamp, exported only by a process that verified the chain.

    A plain Gauge starts at 0 in every process that imports this module: the API (which never
    verifies) and each prefork child (its own multiprocess file) would export a 0 nobody
    computed, and `min(smartcloudops_audit_chain_ok) == 0` pages "security incident" on a
    healthy system. A collector that yields nothing until `record` is called has no such 0.
    """

    def __init__(self) -> None:
        self._last: tuple[bool, float] | None = None

    def record(self, ok: bool, at: float) -> None:
        self._last = (ok, at)

    @property
    def ok(self) -> bool | None:
        return None if self._last is None else self._last[0]

    def describe(self) -> list:
        return []  # families appear only once computed; nothing to reserve at registration

    def collect(self) -> list:
        from prometheus_client.core import GaugeMetricFamily

        if self._last is None:
            return []
        ok, at = self._last
        return [
            GaugeMetricFamily("smartcloudops_audit_chain_ok", "1 when the last audit verification passed",
                              value=1.0 if ok else 0.0),
            GaugeMetricFamily("smartcloudops_audit_chain_last_verified_timestamp_seconds",
                              "When the audit chain was last verified", value=at),
        ]


audit_chain = AuditChainStatus()
REGISTRY.register(audit_chain)  # the worker parent's multiprocess registry adds it too (worker_metrics)


# Outcomes a step is counted under (adapters.observability.audit_metrics) and task failure kinds.
STEP_OUTCOMES = ("succeeded", "dry_run", "failed", "refused", "skipped_duplicate")
FAILURE_KINDS = ("transient", "permanent")


def declare_api_series(queues: Iterable[str]) -> None:
    """Export the API's failure counters at 0 from the start: a labelled counter has no series
    until its first increment, so `rate(...) > 0` alerts and dashboards see nothing, not a 0."""
    for queue in queues:
        publish_failures.labels(queue)


def declare_worker_series(tasks: Iterable[str], actions: Iterable[str], guard_reasons: Iterable[str]) -> None:
    """Export the worker's failure, step and refusal counters at 0 for every known label value."""
    for task in tasks:
        for kind in FAILURE_KINDS:
            task_failures.labels(task, kind)
    for action in actions:
        for outcome in STEP_OUTCOMES:
            remediation_steps.labels(action, outcome)
    for reason in guard_reasons:
        guard_refusals.labels(reason)


def observe_many(histogram: Histogram, values: Sequence[float]) -> None:
    """`histogram.observe(v)` for every value, with one increment per bucket instead of one per value.

    A metric message scores thousands of points; observing each one took a sixth of the metrics
    worker's time (every increment of a multiprocess value checks its pid and writes its mmap).
    The buckets are counted here as `observe` counts them (the first upper bound >= the value);
    a prometheus_client without the fields relied on gets the one-by-one calls.
    """
    import bisect

    bounds, buckets, total = (getattr(histogram, name, None) for name in ("_upper_bounds", "_buckets", "_sum"))
    if bounds is None or buckets is None or total is None:
        for value in values:
            histogram.observe(value)
        return
    counts: dict[int, int] = {}
    for value in values:
        if value != value:  # NaN: `observe` counts it in no bucket (but in the sum)
            continue
        index = bisect.bisect_left(bounds, value)  # bounds end with +Inf: every value has a bucket
        counts[index] = counts.get(index, 0) + 1
    for index, count in counts.items():
        buckets[index].inc(count)
    total.inc(float(sum(values)))
