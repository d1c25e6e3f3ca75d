"""The one place that wires settings, engine and adapters together. Importing it connects nothing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.engine import Engine

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.queries import IncidentQueries
from config.settings import Settings, load_settings
from pipeline.correlation import CorrelationPolicy


@dataclass
class Runtime:
    """Everything a process needs, built once."""

    settings: Settings
    engine: Engine
    alert_store: AlertStore
    incidents: IncidentQueries

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
    )
