"""Worker process hooks (the one place for cross-cutting concerns): runtime per child, logging, metrics."""

from __future__ import annotations

import os
import time
from typing import Any

from celery import signals

from tasks import runtime as runtime_module

_started: dict[str, float] = {}


@signals.worker_process_init.connect
def _fresh_runtime_in_child(**_: object) -> None:
    # An engine inherited across fork shares sockets with the parent; drop it unclosed.
    runtime_module._runtime = None  # noqa: SLF001 - the module owns this global


@signals.worker_process_shutdown.connect
def _forget_dead_child(pid: int | None = None, **_: object) -> None:
    # Live gauges of a child that is gone must not be summed any more (counters stay: they are history).
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid or os.getpid())


@signals.setup_logging.connect
def _keep_our_logging(**_: object) -> None:
    # Connecting this signal stops Celery from replacing the handlers `smartcloudops worker` set up.
    return None


@signals.task_prerun.connect
def _task_started(task_id: str | None = None, **_: object) -> None:
    if task_id:
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect
def _task_finished(task_id: str | None = None, task: Any = None, retval: Any = None, state: str | None = None,
                   args: Any = None, **_: object) -> None:
    from adapters.observability import metrics

    started = _started.pop(task_id or "", None)
    if task is None:
        return
    if started is not None:
        metrics.task_duration.labels(task.name).observe(time.perf_counter() - started)
    if state == "RETRY":
        metrics.task_failures.labels(task.name, "transient").inc()
        return
    outcome = "processed"
    if isinstance(retval, dict) and retval.get("dead_lettered"):
        outcome = "dead_lettered"
        metrics.task_failures.labels(task.name, "permanent").inc()
    elif isinstance(retval, dict) and retval.get("duplicates") and not retval.get("recorded"):
        outcome = "duplicate"
    event_type = args[0].get("type", "unknown") if args and isinstance(args[0], dict) else "unknown"
    metrics.events_consumed.labels(event_type, outcome).inc()


@signals.task_failure.connect
def _task_failed(sender: Any = None, **_: object) -> None:
    from adapters.observability import metrics

    if sender is not None:
        metrics.task_failures.labels(sender.name, "permanent").inc()
