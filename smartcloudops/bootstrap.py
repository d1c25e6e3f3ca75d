"""The composition root: the one place that reads settings and builds adapters. Importing it connects nothing.

Every process starts here: `serve` asks for the HTTP app (`build_http_app`), `worker` for a
configured Celery app (`configure_worker`), the CLI commands for the settings, an engine or
the whole runtime. Tests call the same functions with their own settings, engine or fakes.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import structlog

from config.settings import Settings, load_settings

# Adapters are imported where they are built, so importing this module stays cheap and a
# process loads only what it uses (the worker sets up prometheus_client before its first import).
if TYPE_CHECKING:
    import boto3
    from celery import Celery
    from sqlalchemy.engine import Engine
    from starlette.applications import Starlette

    from adapters.db.outcome_store import LearnedRates
    from consumers.auth import Authenticator
    from consumers.console_sso import SsoLogin
    from consumers.oidc import JwtVerifier
    from pipeline.catalog import Catalog
    from pipeline.policy import Policy
    from pipeline.nlu.authz import RoleBook
    from pipeline.anomaly.detector import StreamingDetector
    from pipeline.correlation import CorrelationPolicy
    from pipeline.learning.classifier import OutcomeClassifier
    from pipeline.nlu import ContextStore
    from pipeline.events import CloudEvent
    from pipeline.remediation import GuardStore
    from services.chat import ChatHandler
    from services.deps import ChatRuntime, RemediationRuntime
    from services.ports import ChatAnswers, ChatReads, IncidentReads, RemediationReads, ReplyRoutes
    from tasks.runtime import Runtime


log = structlog.get_logger("bootstrap")

# `advisor(incident_id, alertname, service, severity)`: the incident's possible actions ranked, JSON-ready.
Advisor = Callable[..., list[dict[str, Any]]]


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
    from adapters.dead_letters import dead_letters_for
    from tasks.runtime import Runtime

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
        dead_letters=dead_letters_for(settings.broker, settings.queues.dead_letter, engine),
    )


def alert_runtime(settings: Settings) -> Runtime:
    """The runtime of the alert consumer (tasks.alert_consumer): what recording alerts needs, nothing more.

    No remediation, chat or anomaly model: the consumer's process stays small.
    """
    from adapters.db.alert_store import AlertStore
    from adapters.db.anomaly_evidence import AnomalyEvidenceRecorder
    from adapters.db.queries import IncidentQueries
    from tasks.runtime import Runtime

    engine = database(settings, pool_size=2)
    return Runtime(
        settings=settings,
        engine=engine,
        alert_store=AlertStore(engine, correlation_policy(settings)),
        incidents=IncidentQueries(engine),
        anomaly_evidence=AnomalyEvidenceRecorder(engine, timedelta(seconds=settings.anomaly_evidence_lookback_s)),
    )


def anomaly_detector_loader(settings: Settings) -> Callable[[], StreamingDetector]:
    """Loads the model on first call and keeps it: once per worker process, never in the HTTP server.

    The process's one copy (`shared_detector`): the one a metrics worker loaded at start, if it did.
    """

    def load() -> StreamingDetector:
        from adapters.detector_files import shared_detector

        return shared_detector(settings.anomaly_model_path)

    return load


def celery_app(settings: Settings) -> Celery:
    """The Celery app with these settings applied (publishing, Flower and the worker share it)."""
    from celeryconfig import celery_settings
    from tasks.app import app

    app.conf.update(celery_settings(settings))
    return app


def configure_worker(settings: Settings) -> Celery:
    """The Celery app, and the factory each worker process builds its runtime with."""
    from adapters import kombu_redis
    from tasks import runtime

    kombu_redis.install()  # a Redis restart must not end the worker (adapters/kombu_redis.py)
    app = celery_app(settings)
    runtime.configure(functools.partial(bootstrap, settings))
    return app


def use_trained_intent_classifier(settings: Settings) -> None:
    """This process understands chat lines with weights from the data dir (numpy): it never imports scikit-learn.

    The weights are trained now, in a child, if this code has none yet, so the first command is not
    seconds late. A worker that takes the chat queue calls it; the others never load numpy for it.
    """
    from adapters.nlu_model import ensure_intent_model, load_intent_classifier
    from pipeline.nlu import classifier

    ensure_intent_model(settings.resolved_data_dir)
    classifier.load_with(functools.partial(load_intent_classifier, settings.resolved_data_dir))


def build_http_app(settings: Settings) -> Starlette:
    """The ASGI app wired to the real broker and the read side of the store."""
    import sqlalchemy as sa
    from prometheus_client import REGISTRY

    from adapters.broker import QueueDepthCollector, publisher_for
    from adapters.db.console_queries import ConsoleQueries
    from adapters.db.console_store import ConsoleUserStore
    from adapters.db.queries import IncidentQueries
    from adapters.db.remediation_queries import RemediationQueries
    from adapters.replay_guard import replay_guard_for
    from config.roles import DEFAULT_ROLES_FILE, load_roles
    from consumers.app import create_app
    from consumers.deps import ApiDeps

    engine = database(settings, pool_size=2)
    app = celery_app(settings)

    def database_ping() -> None:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))

    REGISTRY.register(QueueDepthCollector(app, settings.queues))
    from adapters.observability.metrics import declare_api_series

    declare_api_series(settings.queues.all())
    roles = load_roles(settings.roles_path or DEFAULT_ROLES_FILE)
    api_authenticator = authenticator(settings, roles, engine)
    incidents = IncidentQueries(engine)
    remediation = RemediationQueries(engine, advisor=advisor(settings, engine))
    return create_app(ApiDeps(
        settings=settings,
        publisher=publisher_for(app, settings.queues, settings.broker, settings.broker_publish_timeout_s),
        incidents=incidents,
        database_ping=database_ping,
        remediation=remediation,
        roles=roles,
        authenticator=api_authenticator,
        # Shared guard state only: an in-process store would be the API's alone.
        kill_switch=guard_store(settings) if settings.shared_redis_url else None,
        chat_replay_guard=replay_guard_for(settings),
        console_accounts=ConsoleUserStore(engine),
        console_reads=ConsoleQueries(engine, threshold=anomaly_threshold(settings)),
        console_sso=console_sso(settings),
        chat_answers=chat_answers(settings),
        chat_reads=edge_chat_reads(settings, engine, incidents, remediation),
    ))


def edge_chat_reads(settings: Settings, engine: Engine, incidents: IncidentReads,
                    remediation: RemediationReads) -> ChatReads | None:
    """The server's own answers to chat lines that only read (SCO_CHAT_READS_AT_EDGE), built on the first line.

    It reads the classifier's weights a worker (or `up`) trained into the data dir; until they are
    there, every line goes to the chat queue.
    """
    if not settings.chat_reads_at_edge:
        return None
    from services.chat_reads import EdgeChatReads, ModelNotReady

    def build() -> ChatHandler:
        from adapters.nlu_model import load_intent_classifier, model_file
        from pipeline.nlu import classifier
        from services.chat import ChatHandler

        if not model_file(settings.resolved_data_dir).is_file():
            raise ModelNotReady(f"no chat classifier weights in {settings.resolved_data_dir} yet")
        classifier.load_with(functools.partial(load_intent_classifier, settings.resolved_data_dir))
        return ChatHandler(build_chat(settings, engine), incidents, _reads_never_publish, remediation)

    return EdgeChatReads(build)


def _reads_never_publish(task: str, event: CloudEvent) -> None:
    from pipeline.errors import ConfigurationError

    raise ConfigurationError(f"the server's chat answers only read; it cannot publish {task}")


def console_sso(settings: Settings) -> SsoLogin | None:
    """The console's OIDC sign-in, when SCO_OIDC_CLIENT_ID and the provider's endpoints are set."""
    from consumers.console_sso import SsoLogin

    if not (settings.oidc_client_id and settings.oidc_authorize_url and settings.oidc_token_url):
        return None
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else None
    return SsoLogin(authorize_url=settings.oidc_authorize_url, token_url=settings.oidc_token_url,
                    client_id=settings.oidc_client_id, client_secret=secret, verifier=jwt_verifier(settings))


def anomaly_threshold(settings: Settings) -> float | None:
    """The detection threshold of the configured model, drawn on the console's score plots."""
    import json
    from importlib import resources
    from pathlib import Path

    # The sidecar JSON only: importing adapters.anomaly_model would load scikit-learn into the server.
    path = Path(settings.anomaly_model_path or str(resources.files("pipeline.anomaly") / "default_model"))
    sidecar = path / "model.json" if path.is_dir() else path.with_suffix(".json")
    try:
        return float(json.loads(sidecar.read_text())["threshold"])
    except (OSError, ValueError, KeyError, TypeError):
        return None  # the plot goes without its threshold line; the worker reports a bad model


def advisor(settings: Settings, engine: Engine) -> Advisor | None:
    """Ranks a service's possible actions by their recorded outcomes (docs/learning.md), for the
    incident page; None when the operator files cannot be read (the page then has no advice)."""
    from config.policy import load_remediation_config
    from pipeline.errors import ConfigurationError

    try:
        catalog, policy = load_remediation_config(settings.catalog_path, settings.policy_path)
    except ConfigurationError:
        return None
    learner, classifier = remediation_learner(settings)
    return advisor_for(catalog, policy, learned_rates(settings, engine), classifier, engine,
                       rule_order=learner == "rule")


def advisor_for(
    catalog: Catalog, policy: Policy, learning: LearnedRates,
    classifier: OutcomeClassifier | None = None, engine: Engine | None = None, *, rule_order: bool = False,
) -> Advisor:
    """`advisor(incident_id, alertname, service, severity, planned=())`: the actions the policy enables
    and the service can take, ranked by learner (a), or by the classifier when one was chosen and
    loaded (`engine` then reads each incident's features), or with `rule_order` (the training run
    chose the rule) the incident's `planned` actions first and the rest in the policy's order; empty
    for an unknown service or before any executed run was judged."""
    from pipeline.learning.advice import possible_actions
    from pipeline.learning.outcomes import Signature

    contexts = None
    if classifier is not None and engine is not None:
        from adapters.db.incident_context import IncidentContexts

        contexts = IncidentContexts(engine)

    def advise(incident_id: int, alertname: str, service_name: str, severity: str,
               planned: Sequence[str] = ()) -> list[dict[str, Any]]:
        service = catalog.service(service_name)
        if service is None or not learning.has_outcomes():
            return []
        signature = Signature(alertname, service.name, severity, service.tier)
        if rule_order:
            return learning.advice(signature, possible_actions(service, policy), rule_order=planned)
        context = contexts.context(incident_id, signature) if contexts is not None else None
        return learning.advice(signature, possible_actions(service, policy),
                               classifier=classifier, context=context)

    return advise


def learned_rates(settings: Settings, engine: Engine) -> LearnedRates:
    """Learner (a) over the stored outcomes, with the prior strength the training run of
    SCO_REMEDIATION_MODEL_PATH chose on its later weeks (the learner's default without one)."""
    from adapters.db.outcome_store import LearnedRates

    strength = trained_rates_strength(settings.remediation_model_path)
    return LearnedRates(engine) if strength is None else LearnedRates(engine, strength=strength)


def trained_rates_strength(folder: Path | None) -> float | None:
    """The `strength` a training run wrote into the model's sidecar; None when there is none."""
    if folder is None:
        return None
    import json

    from adapters.remediation_model import METADATA_FILE

    try:
        value = json.loads((Path(folder) / METADATA_FILE).read_text(encoding="utf-8")).get("strength")
    except (OSError, ValueError, AttributeError):
        return None  # remediation_learner logs why the model folder is not usable
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1e6:
        return None
    return float(value)


def remediation_classifier(settings: Settings) -> OutcomeClassifier | None:
    """The classifier of SCO_REMEDIATION_MODEL_PATH when its training run chose it (see
    `remediation_learner`); otherwise None."""
    return remediation_learner(settings)[1]


def remediation_learner(settings: Settings) -> tuple[str, OutcomeClassifier | None]:
    """Which ranking the advice uses, as the training run of SCO_REMEDIATION_MODEL_PATH chose it:
    ("classifier", the classifier) when it chose the classifier and the graph's SHA-256 matches;
    ("rule", None) when no learner beat the playbook's order there (learning then reorders nothing);
    otherwise ("rates", None), as without the setting. Each case is logged with why."""
    folder = settings.remediation_model_path
    if folder is None:
        return "rates", None
    from adapters.remediation_model import load_model
    from pipeline.errors import ConfigurationError, NotFound

    try:
        classifier, about = load_model(folder)
    except (NotFound, ConfigurationError) as error:
        log.warning("learning.classifier_not_used", path=str(folder), reason=str(error))
        return "rates", None
    chosen = about.get("learner")
    if chosen != "classifier":
        log.warning("learning.classifier_not_used", path=str(folder), chosen=chosen,
                    reason=f"the training run chose the {'rule' if chosen == 'rule' else 'rates'}: "
                           f"{about.get('reason', 'no reason given')}",
                    validation_brier=about.get("validation_brier"), validation=about.get("validation"))
        return ("rule" if chosen == "rule" else "rates"), None
    log.info("learning.classifier_used", path=str(folder), sha256=about.get("onnx_sha256"),
             reason=about.get("reason"), validation_brier=about.get("validation_brier"),
             validation=about.get("validation"))
    return "classifier", classifier


def authenticator(settings: Settings, roles: RoleBook, engine: Engine) -> Authenticator:
    """Who may call the API: OIDC tokens (when configured), API keys in the store, the static tokens."""
    from adapters.db.api_key_store import ApiKeyStore
    from consumers.auth import Authenticator, static_credentials

    verifier = jwt_verifier(settings) if settings.oidc_enabled else None
    return Authenticator(static=static_credentials(settings), api_keys=ApiKeyStore(engine), jwt=verifier,
                         roles=roles)


def jwt_verifier(settings: Settings) -> JwtVerifier:
    """Checks the OIDC provider's access tokens (issuer, audience, signature from its JWKS)."""
    from consumers.oidc import JwksCache, JwtVerifier

    assert settings.oidc_jwks_url and settings.oidc_issuer and settings.oidc_audience
    return JwtVerifier(
        JwksCache(settings.oidc_jwks_url, cache_s=settings.oidc_jwks_cache_s),
        issuer=settings.oidc_issuer, audience=settings.oidc_audience,
        algorithms=tuple(settings.oidc_algorithms.split(",")), leeway_s=settings.oidc_leeway_s,
        groups_claim=settings.oidc_groups_claim, name_claim=settings.oidc_name_claim,
    )


def start_worker_services(settings: Settings, app: Celery) -> None:
    """The worker parent's side jobs: its /metrics, the queue-depth metric, the audit-chain check."""
    _declare_worker_series(app)
    _serve_worker_metrics(settings)
    _publish_queue_depth(settings, app)
    _monitor_audit_chain(settings)
    _sweep_outbox(settings, app)
    _sweep_intake_journal(settings, app)
    _restart_stalled_runs(settings, app)
    _judge_outcomes(settings)
    _forecast(settings, app)


def _declare_worker_series(app: Celery) -> None:
    from adapters.observability.metrics import declare_worker_series
    from pipeline.policy import ActionName
    from pipeline.remediation.guards import Reason

    app.loader.import_default_modules()  # the tasks of `include=`, so each has its failure series
    declare_worker_series(
        tasks=sorted(name for name in app.tasks if not name.startswith("celery.")),
        actions=[action.value for action in ActionName],
        guard_reasons=[reason.value for reason in Reason if reason is not Reason.ALLOWED],
    )


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


def _restart_stalled_runs(settings: Settings, app: Celery) -> None:
    from datetime import datetime, timezone

    import structlog

    from adapters.broker import publisher_for
    from adapters.db.run_store import RunStore
    from adapters.periodic import PeriodicJob
    from pipeline.events import START_RUN
    from services.remediation import stalled_run_restarts

    runs = RunStore(database(settings, pool_size=1))
    publisher = publisher_for(app, settings.queues, settings.broker, settings.broker_publish_timeout_s)

    def restart() -> None:
        for event in stalled_run_restarts(runs, quiet_s=settings.remediation_stall_after_s,
                                          now=datetime.now(timezone.utc)):
            publisher.publish(START_RUN, event)

    PeriodicJob(restart, interval_s=settings.remediation_stall_check_interval_s, name="stalled-run-restarter",
                log=structlog.get_logger("remediation"), failure_event="remediation.stall_check_failed").start()


def _forecast(settings: Settings, app: Celery) -> None:
    """Predictive remediation (policies.yaml `predictions:`): forecast, raise predicted alerts."""
    from datetime import UTC, datetime

    from config.policy import load_remediation_config

    _, policy = load_remediation_config(settings.catalog_path, settings.policy_path)
    if not policy.predictions.rules:
        return
    import structlog

    from adapters.broker import publisher_for
    from adapters.db.series_history import SeriesHistory
    from adapters.periodic import PeriodicJob
    from services.predictions import Predictor

    publisher = publisher_for(app, settings.queues, settings.broker, settings.broker_publish_timeout_s)
    predictor = Predictor(SeriesHistory(database(settings, pool_size=1)), publisher.publish, policy.predictions)
    PeriodicJob(lambda: predictor.run_once(datetime.now(UTC)), interval_s=policy.predictions.interval_s,
                name="forecaster", log=structlog.get_logger("predictions"),
                failure_event="predictions.failed", immediately=True).start()


def _judge_outcomes(settings: Settings) -> None:
    if not settings.outcome_sweep_interval_s:
        return
    from adapters.db.outcome_store import OutcomeRecorder, OutcomeSweeper
    from config.policy import load_remediation_config

    catalog, _ = load_remediation_config(settings.catalog_path, settings.policy_path)

    def tier_of(service: str) -> int:
        known = catalog.service(service)
        return known.tier if known is not None else 2

    recorder = OutcomeRecorder(database(settings, pool_size=1), horizon_s=settings.outcome_horizon_s,
                               tier_of=tier_of)
    OutcomeSweeper(recorder, interval_s=settings.outcome_sweep_interval_s).start()


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


def build_remediation(
    settings: Settings, engine: Engine, *, guards: GuardStore | None = None,
    session: boto3.Session | None = None,
) -> RemediationRuntime:
    """Load and check the operator's files and build the real adapters (no connection is opened)."""
    import boto3

    from adapters.aws import AwsClients, build_actions
    from adapters.db.approval_store import ApprovalStore
    from adapters.db.assessment_store import AssessmentStore
    from adapters.db.incident_facts import IncidentFacts
    from adapters.db.kill_switch_store import KillSwitchStore
    from adapters.db.remediation_queries import RemediationQueries
    from adapters.db.run_store import RunStore
    from config.policy import load_remediation_config
    from config.roles import DEFAULT_ROLES_FILE, load_roles
    from services.deps import RemediationRuntime

    catalog, policy = load_remediation_config(settings.catalog_path, settings.policy_path)
    learning = learned_rates(settings, engine)
    learner, classifier = remediation_learner(settings)
    if not settings.aws_instance_metadata:
        # botocore's last resort for credentials is the EC2 metadata service at 169.254.169.254;
        # on Fargate, with environment credentials or a laptop it is never the right place to ask.
        os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    return RemediationRuntime(
        catalog=catalog,
        policy=policy,
        roles=load_roles(settings.roles_path or DEFAULT_ROLES_FILE),
        incident_facts=IncidentFacts(engine),
        assessments=AssessmentStore(engine),
        runs=RunStore(engine),
        approvals=ApprovalStore(engine),
        kill_switch=KillSwitchStore(engine),
        # With the advice: the chat's "why?" quotes it (tasks/chat.py reads through these queries).
        queries=RemediationQueries(
            engine, advisor=advisor_for(catalog, policy, learning, classifier, engine, rule_order=learner == "rule")),
        guards=guards or guard_store(settings),
        actions=build_actions(
            AwsClients(
                session or boto3.Session(region_name=settings.aws_region),
                endpoint_url=settings.aws_endpoint_url,
            )
        ),
        mode=settings.remediation_mode,
        verify_timeout_s=settings.remediation_verify_timeout_s,
        verify_poll_s=settings.remediation_verify_poll_s,
        verify_settle_s=settings.remediation_verify_settle_s,
        learning=learning,
    )


def guard_store(settings: Settings) -> GuardStore:
    """Redis when configured; acting for real without it would let each process keep its own limits."""
    from pipeline.errors import ConfigurationError
    from pipeline.remediation import InMemoryGuardStore

    if settings.shared_redis_url:
        import redis

        from adapters.guard_store import RedisGuardStore

        return RedisGuardStore(
            redis.Redis.from_url(settings.shared_redis_url, socket_timeout=5, socket_connect_timeout=5)
        )
    if settings.remediation_mode == "execute":
        raise ConfigurationError(
            "SCO_REDIS_URL (or a redis:// SCO_BROKER_URL): required when SCO_REMEDIATION_MODE=execute "
            "(rate limits, cooldowns and the breaker must be shared by every worker)"
        )
    log.warning(
        "remediation.guards_in_memory",
        reason="no Redis (SCO_REDIS_URL unset, broker not Redis); dry run keeps guard state per process",
    )
    return InMemoryGuardStore()


def build_chat(settings: Settings, engine: Engine) -> ChatRuntime:
    """Read the catalog and roles files and build the chat adapters (no connection is opened)."""
    import httpx

    from adapters.alertmanager_silences import AlertmanagerSilences
    from adapters.db.chat_queries import ChatQueries
    from adapters.db.chat_store import CommandStore
    from adapters.db.silence_store import SilenceStore
    from adapters.slack_responder import SlackResponder
    from config.catalog import DEFAULT_CATALOG_PATH
    from config.roles import DEFAULT_ROLES_FILE, load_roles
    from config.vocabulary import load_vocabulary
    from services.deps import ChatRuntime

    http = httpx.Client(timeout=httpx.Timeout(5.0, connect=2.0), follow_redirects=False)
    return ChatRuntime(
        vocabulary=load_vocabulary(settings.catalog_path or DEFAULT_CATALOG_PATH),
        roles=load_roles(settings.roles_path or DEFAULT_ROLES_FILE),
        commands=CommandStore(engine),
        silences=SilenceStore(engine),
        chat_queries=ChatQueries(engine),
        contexts=context_store(settings),
        responder=SlackResponder(http, settings.response_url_hosts),
        alertmanager=AlertmanagerSilences(http, settings.alertmanager_url)
        if settings.alertmanager_url
        else None,
        context_ttl_s=settings.chat_context_ttl_s,
        answers=chat_answers(settings),
        reply_routes=reply_routes(settings),
    )


def reply_routes(settings: Settings) -> ReplyRoutes:
    """Which chat asked for a run: Redis, else a SQLite file in the data dir."""
    from adapters.chat_answers import RedisReplyRoutes, SqliteReplyRoutes

    url = settings.shared_redis_url
    if url is None:
        return SqliteReplyRoutes(settings.resolved_data_dir / "reply_routes.sqlite")
    import redis

    return RedisReplyRoutes(redis.Redis.from_url(url, socket_timeout=5.0, socket_connect_timeout=2.0))


def chat_answers(settings: Settings) -> ChatAnswers:
    """Where a waiting API request reads the worker's answer: Redis, else a SQLite file in the data dir."""
    from adapters.chat_answers import RedisChatAnswers, SqliteChatAnswers

    url = settings.shared_redis_url
    if url is None:
        return SqliteChatAnswers(settings.resolved_data_dir / "chat_answers.sqlite")
    import redis

    # The API blocks in BLPOP for up to MAX_WAIT_S: the socket timeout must outlast it.
    return RedisChatAnswers(redis.Redis.from_url(url, socket_timeout=40.0, socket_connect_timeout=2.0))


def context_store(settings: Settings) -> ContextStore:
    """Redis when there is one, else a SQLite file in the data dir (shared by the worker's children)."""
    url = settings.shared_redis_url
    if url is None:
        from adapters.chat_context import SqliteContextStore

        return SqliteContextStore(settings.resolved_data_dir / "chat_contexts.sqlite")
    import redis

    from adapters.chat_context import RedisContextStore

    return RedisContextStore(
        redis.Redis.from_url(url, socket_timeout=2.0, socket_connect_timeout=2.0)
    )
