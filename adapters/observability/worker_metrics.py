"""Metrics of a prefork worker: every child writes to a shared directory; the parent serves the sum.

prometheus-client's multiprocess mode: counters and histograms of a child that died stay in
their files (they are history, so nothing is counted twice or lost after a restart); live
gauges of dead children are dropped by `mark_process_dead`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_dir(data_dir: Path) -> Path:
    """A fresh directory for this worker's metric files; must run before prometheus_client is imported."""
    path = data_dir / "metrics" / f"worker-{os.getpid()}"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    return path


def serve_worker_metrics(host: str, port: int) -> None:
    """Serve the sum of every process's metrics on host:port (a daemon thread of the worker's parent)."""
    from prometheus_client import start_http_server

    start_http_server(port, addr=host, registry=worker_registry())


def worker_registry():
    """Every child's metric files, plus what only this parent process computes."""
    from prometheus_client import CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    from adapters.observability import metrics

    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    # The audit-chain monitor runs in this (parent) process only; its status is not a per-child file.
    registry.register(metrics.audit_chain)
    return registry
