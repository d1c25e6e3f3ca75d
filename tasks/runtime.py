"""The worker process's runtime, built lazily once per (forked) process by the composition root.

`smartcloudops.bootstrap` calls `configure` with a factory before the worker starts; each
prefork child then builds its own runtime (its own engine and connections) on first use.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from adapters.dead_letters import DeadLetters
    from adapters.db.alert_store import AlertStore
    from adapters.db.anomaly_evidence import AnomalyEvidenceRecorder
    from adapters.db.anomaly_store import AnomalyScoreStore
    from adapters.db.queries import IncidentQueries
    from config.settings import Settings
    from pipeline.anomaly.detector import StreamingDetector
    from services.deps import ChatRuntime, RemediationRuntime
    from services.ports import SeriesStateStore


@dataclass
class Runtime:
    """Everything a worker process needs, built once."""

    settings: Settings
    engine: Engine
    alert_store: AlertStore
    incidents: IncidentQueries
    remediation: RemediationRuntime | None = None  # risk scoring and remediation (tasks.remediation)
    # Streaming anomaly scoring (tasks.metrics) and alert enrichment (tasks.anomaly_evidence).
    series_states: SeriesStateStore | None = None
    anomaly_scores: AnomalyScoreStore | None = None
    anomaly_detector: Callable[[], StreamingDetector] | None = None
    anomaly_evidence: AnomalyEvidenceRecorder | None = None
    chat: ChatRuntime | None = None  # chat commands (tasks.chat)
    dead_letters: DeadLetters | None = None  # built beside the broker on first use (tasks.base)

    def close(self) -> None:
        self.engine.dispose()


_lock = threading.Lock()
_factory: Callable[[], Runtime] | None = None
_runtime: Runtime | None = None


def configure(factory: Callable[[], Runtime]) -> None:
    """Tell this process how to build its runtime (the worker command does, before it starts)."""
    global _factory
    with _lock:
        _factory = factory


def runtime() -> Runtime:
    """This process's runtime; built on first use, so a prefork child builds its own engine."""
    global _runtime
    if _runtime is None:
        with _lock:
            if _runtime is None:
                if _factory is None:
                    raise RuntimeError("tasks.runtime is not configured: start workers with `smartcloudops worker`")
                _runtime = _factory()
    return _runtime


def install(value: Runtime | None) -> None:
    """Replace the runtime (tests, or after fork to drop an inherited engine)."""
    global _runtime
    with _lock:
        if _runtime is not None and value is not _runtime:
            _runtime.close()
        _runtime = value
