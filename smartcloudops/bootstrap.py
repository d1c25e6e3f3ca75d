"""The composition root: the one place that reads settings and builds adapters. Importing it connects nothing.

Every process starts here: `serve` asks for the HTTP app (`build_http_app`), `worker` for a
configured Celery app (`configure_worker`), the CLI commands for the settings, an engine or
the whole runtime. Tests call the same functions with their own settings, engine or fakes.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Callable

from config.settings import Settings, load_settings

# Adapters are imported where they are built, so importing this module stays cheap and a
# process loads only what it uses (the worker sets up prometheus_client before its first import).
if TYPE_CHECKING:
    from celery import Celery
    from sqlalchemy.engine import Engine
    from starlette.applications import Starlette

    from adapters.db.alert_store import AlertStore
    from adapters.db.anomaly_evidence import AnomalyEvidenceRecorder
    from adapters.db.anomaly_store import AnomalyScoreStore
    from adapters.db.queries import IncidentQueries
    from adapters.series_state import SeriesStateStore
    from pipeline.anomaly.detector import StreamingDetector
    from pipeline.correlation import CorrelationPolicy
    from smartcloudops.chat_runtime import ChatRuntime
    from smartcloudops.remediation_runtime import RemediationRuntime


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

    def close(self) -> None:
        self.engine.dispose()


def settings_from_environment() -> Settings:
    """The settings (`SCO_*` variables): read here and nowhere else; a bad value stops start."""
    return load_settings()


def database(settings: Settings, pool_size: int = 5) -> Engine:
    """An engine on the configured store (no connection is opened until first use)."""
    from adapters.db.engine import create_engine

    return create_engine(settings.database, pool_size=pool_size)


def correlation_policy(settings: Settings) -> CorrelationPolicy:
    from pipeline.correlation import CorrelationPolicy

    return CorrelationPolicy(labels=settings.grouping_labels, window=timedelta(seconds=settings.correlation_window_s))


def bootstrap(settings: Settings | None = None, *, engine: Engine | None = None) -> Runtime:
    """Build the worker runtime from settings (the environment by default); tests pass their own."""
    from adapters.db.alert_store import AlertStore
    from adapters.db.anomaly_evidence import AnomalyEvidenceRecorder
    from adapters.db.anomaly_store import AnomalyScoreStore
    from adapters.db.queries import IncidentQueries
    from adapters.series_state import series_state_store
    from smartcloudops.chat_runtime import build_chat
    from smartcloudops.remediation_runtime import build_remediation

    settings = settings or settings_from_environment()
    engine = engine or database(settings, pool_size=max(2, settings.worker_concurrency))
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


def celery_app(settings: Settings) -> Celery:
    """The Celery app with these settings applied (publishing, Flower and the worker share it)."""
    from celeryconfig import celery_settings
    from tasks.app import app

    app.conf.update(celery_settings(settings))
    return app


def configure_worker(settings: Settings) -> Celery:
    """The Celery app, and the factory each worker process builds its runtime with."""
    from tasks import runtime

    app = celery_app(settings)
    runtime.configure(functools.partial(bootstrap, settings))
    return app


def build_http_app(settings: Settings) -> Starlette:
    """The ASGI app wired to the real broker and the read side of the store."""
    import sqlalchemy as sa
    from prometheus_client import REGISTRY

    from adapters.broker import QueueDepthCollector, publisher_for
    from adapters.db.queries import IncidentQueries
    from adapters.db.remediation_queries import RemediationQueries
    from adapters.replay_guard import replay_guard_for
    from config.roles import DEFAULT_ROLES_FILE, load_roles
    from consumers.app import create_app
    from consumers.deps import ApiDeps
    from smartcloudops.remediation_runtime import guard_store

    engine = database(settings, pool_size=2)
    app = celery_app(settings)

    def database_ping() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    REGISTRY.register(QueueDepthCollector(app, settings.queues))
    return create_app(ApiDeps(
        settings=settings,
        publisher=publisher_for(app, settings.queues, settings.broker, settings.broker_publish_timeout_s),
        incidents=IncidentQueries(engine),
        database_ping=database_ping,
        remediation=RemediationQueries(engine),
        roles=load_roles(settings.roles_path or DEFAULT_ROLES_FILE),
        # Shared guard state only: an in-process store would be the API's alone.
        kill_switch=guard_store(settings) if settings.redis_url else None,
        chat_replay_guard=replay_guard_for(settings),
    ))


def start_worker_services(settings: Settings, app: Celery) -> None:
    """The worker parent's side jobs: its /metrics, the queue-depth metric, the audit-chain check."""
    _serve_worker_metrics(settings)
    _publish_queue_depth(settings, app)
    _monitor_audit_chain(settings)
    _sweep_outbox(settings, app)
    _sweep_intake_journal(settings, app)


def _serve_worker_metrics(settings: Settings) -> None:
    import structlog

    from adapters.observability.worker_metrics import serve_worker_metrics

    if not settings.worker_metrics_port:
        return
    try:
        serve_worker_metrics(settings.worker_metrics_host, settings.worker_metrics_port)
    except OSError as exc:  # another worker on this machine has the port: run without, say so
        structlog.get_logger("worker").warning("worker.metrics_unavailable", port=settings.worker_metrics_port,
                                                error=str(exc))


def _monitor_audit_chain(settings: Settings) -> None:
    if not settings.audit_verify_interval_s:
        return
    from adapters.db.audit_monitor import AuditChainMonitor

    AuditChainMonitor(database(settings, pool_size=1), interval_s=settings.audit_verify_interval_s).start()


def _sweep_outbox(settings: Settings, app: Celery) -> None:
    from adapters.broker import publisher_for
    from adapters.db.outbox_relay import OutboxRelay, OutboxSweeper

    publisher = publisher_for(app, settings.queues, settings.broker, settings.broker_publish_timeout_s)
    relay = OutboxRelay(database(settings, pool_size=1), publisher.publish)
    OutboxSweeper(relay, interval_s=settings.outbox_sweep_interval_s,
                  older_than_s=settings.outbox_sweep_after_s).start()


def _sweep_intake_journal(settings: Settings, app: Celery) -> None:
    from adapters.broker import RedisDirectPublisher
    from adapters.intake_journal import JournalSweeper, journal_for

    journal = journal_for(settings.broker)
    if journal is None:
        return
    publisher = RedisDirectPublisher.from_url(app, settings.queues, settings.broker, settings.broker_publish_timeout_s)
    JournalSweeper(journal, publisher.publish, interval_s=settings.intake_journal_sweep_interval_s,
                   older_than_s=settings.intake_journal_republish_after_s).start()


def _publish_queue_depth(settings: Settings, app: Celery) -> None:
    if not settings.cloudwatch_deployment:
        return
    import boto3

    from adapters.broker import QueueDepthCollector
    from adapters.cloudwatch import QueueDepthPublisher

    client = boto3.client("cloudwatch", region_name=settings.aws_region, endpoint_url=settings.aws_endpoint_url)
    QueueDepthPublisher(QueueDepthCollector(app, settings.queues).depths, client,
                        namespace=settings.cloudwatch_namespace, deployment=settings.cloudwatch_deployment,
                        queues=settings.queues.all(), interval_s=settings.cloudwatch_interval_s).start()
