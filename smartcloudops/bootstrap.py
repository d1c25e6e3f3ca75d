"""The one place that wires settings, engine and adapters together. Importing it connects nothing."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Callable

from sqlalchemy.engine import Engine

from adapters.db.alert_store import AlertStore
from adapters.db.anomaly_evidence import AnomalyEvidenceRecorder
from adapters.db.anomaly_store import AnomalyScoreStore
from adapters.db.engine import create_engine
from adapters.db.queries import IncidentQueries
from adapters.series_state import SeriesStateStore, series_state_store
from config.settings import Settings, load_settings
from pipeline.correlation import CorrelationPolicy
from smartcloudops.chat_runtime import ChatRuntime, build_chat
from smartcloudops.remediation_runtime import RemediationRuntime, build_remediation

if TYPE_CHECKING:
    from pipeline.anomaly.detector import StreamingDetector


@dataclass
class Runtime:
    """Everything a process needs, built once."""

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

    def close(self) -> None:
        self.engine.dispose()


def correlation_policy(settings: Settings) -> CorrelationPolicy:
    return CorrelationPolicy(labels=settings.grouping_labels, window=timedelta(seconds=settings.correlation_window_s))


def bootstrap(settings: Settings | None = None, *, engine: Engine | None = None) -> Runtime:
    """Build the runtime from settings (the environment by default); tests pass their own."""
    settings = settings or load_settings()
    engine = engine or create_engine(settings.database, pool_size=max(2, settings.worker_concurrency))
    return Runtime(
        settings=settings,
        engine=engine,
        alert_store=AlertStore(engine, correlation_policy(settings)),
        incidents=IncidentQueries(engine),
        remediation=build_remediation(settings, engine),
        series_states=series_state_store(settings),
        anomaly_scores=AnomalyScoreStore(engine),
        anomaly_detector=anomaly_detector_loader(settings),
        anomaly_evidence=AnomalyEvidenceRecorder(engine, timedelta(seconds=settings.anomaly_evidence_lookback_s)),
        chat=build_chat(settings, engine),
    )


def anomaly_detector_loader(settings: Settings) -> Callable[[], StreamingDetector]:
    """Loads the model on first call and keeps it: once per worker process, never in the HTTP server."""

    @functools.cache
    def load() -> StreamingDetector:
        from pipeline.anomaly.store import load_detector

        return load_detector(settings.anomaly_model_path)

    return load
