"""Publishing the pipeline's backlog to CloudWatch, where the worker service's target tracking reads it."""

from __future__ import annotations

import threading
from typing import Any, Callable

import structlog

from adapters.periodic import PeriodicJob

log = structlog.get_logger("cloudwatch")

METRIC_NAME = "QueueDepth"


class QueueDepthPublisher:
    """Every `interval_s`, put the sum of ready messages on the pipeline's queues as `<namespace>/QueueDepth`."""

    def __init__(self, depths: Callable[[], dict[str, int]], client: Any, *, namespace: str, deployment: str,
                 queues: list[str], interval_s: float = 60.0) -> None:
        self._depths, self._client = depths, client
        self._namespace, self._deployment = namespace, deployment
        self._queues = queues
        # Scaling data is best effort: a failed put is logged and the worker carries on.
        self._job = PeriodicJob(self.publish_once, interval_s=interval_s, name="queue-depth-publisher",
                                log=log, failure_event="cloudwatch.queue_depth_failed")

    def publish_once(self) -> int:
        """Publish the current backlog and return it."""
        depths = self._depths()
        backlog = sum(depths.get(queue, 0) for queue in self._queues)
        self._client.put_metric_data(Namespace=self._namespace, MetricData=[{
            "MetricName": METRIC_NAME, "Dimensions": [{"Name": "Deployment", "Value": self._deployment}],
            "Value": float(backlog), "Unit": "Count"}])
        return backlog

    def start(self) -> threading.Thread:
        return self._job.start()

    def stop(self) -> None:
        self._job.stop()
