"""Typed settings from `SCO_*` environment variables, validated at start.

Every value has a default that works on a laptop with no servers: a SQLite database and
kombu's SQLAlchemy transport on SQLite as the broker, both under `SCO_DATA_DIR`. A missing
or malformed value stops start with a message that names the variable.
"""

from __future__ import annotations

import json
import os
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from pipeline.errors import ConfigurationError

ENV_PREFIX = "SCO_"


class QueueNames(BaseSettings):
    """Broker queue names, one per stage of the pipeline."""

    model_config = SettingsConfigDict(env_prefix=f"{ENV_PREFIX}QUEUE_", frozen=True)

    events: str = "events"
    metrics: str = "metrics"
    risk: str = "risk"
    remediation: str = "remediation"
    chat: str = "chat"
    dead_letter: str = "dead_letter"

    def all(self) -> list[str]:
        """Every queue a worker may consume (the dead-letter queue is parked, not consumed)."""
        return [self.events, self.metrics, self.risk, self.remediation, self.chat]


class Settings(BaseSettings):
    """Everything SmartCloudOps reads from its environment."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    data_dir: Path = Field(default=Path(".smartcloudops"), description="local state for the embedded default")
    broker_url: str | None = None
    database_url: str | None = None
    redis_url: str | None = None

    http_host: str = "127.0.0.1"
    http_port: int = Field(default=8080, ge=1, le=65535)
    # Longer than the idle time of Prometheus' remote-write connections (5 min): a server that
    # closes first races the client's next batch on that connection ("connection reset", "EOF").
    http_keep_alive_s: int = Field(default=330, ge=1, le=3600, description="idle keep-alive of the HTTP server")
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024)

    # Metric intake and streaming anomaly scoring.
    metrics_max_body_bytes: int = Field(default=8 * 1024 * 1024, ge=1024,
                                        description="remote-write and JSON sample bodies (compressed size)")
    metrics_max_decoded_bytes: int = Field(default=64 * 1024 * 1024, ge=1024,
                                           description="a remote-write body once snappy-decompressed")
    metrics_max_samples_per_message: int = Field(default=100_000, ge=1, le=10_000_000)
    series_state_ttl_s: int = Field(default=3600, ge=60, description="a silent series' window expires after this")
    anomaly_model_path: Path | None = Field(default=None, description="model folder or .onnx; None: shipped model")
    anomaly_resolve_after_points: int = Field(default=10, ge=1, le=10_000)
    anomaly_evidence_lookback_s: int = Field(default=900, gt=0)

    webhook_token: SecretStr | None = None
    webhook_username: str | None = None
    webhook_password: SecretStr | None = None
    # Deprecated static bearer token of the API: a principal "api-token" holding SCO_API_TOKEN_ROLE.
    # Per-client API keys (`smartcloudops apikey create`) and OIDC tokens replace it.
    api_token: SecretStr | None = None
    api_token_role: Literal["ingest", "viewer", "operator", "approver", "admin"] = "viewer"

    # OIDC single sign-on: JWTs (RS256/ES256) verified against the provider's JWKS.
    oidc_issuer: str | None = None
    oidc_audience: str | None = None
    oidc_jwks_url: str | None = Field(default=None, pattern=r"^https?://")
    oidc_groups_claim: str = "groups"
    oidc_name_claim: str = "preferred_username"
    oidc_algorithms: str = Field(default="RS256,ES256", pattern=r"^(RS256|ES256)(,(RS256|ES256))*$")
    oidc_leeway_s: int = Field(default=30, ge=0, le=300, description="clock skew allowed on exp/nbf/iat")
    oidc_jwks_cache_s: int = Field(default=300, ge=10, description="how long fetched signing keys are kept")
    # The console's single sign-on (authorization code + PKCE) with the same provider; all three or none.
    oidc_client_id: str | None = None
    oidc_authorize_url: str | None = Field(default=None, pattern=r"^https?://")
    oidc_token_url: str | None = Field(default=None, pattern=r"^https?://")
    oidc_client_secret: SecretStr | None = None  # unset for a public client (PKCE alone)

    correlation_window_s: int = Field(default=900, gt=0)
    correlation_labels: str = "alertname,service"

    worker_concurrency: int = Field(default=2, ge=1, le=64)
    worker_prefetch: int = Field(default=4, ge=1, le=1024)
    # A chat worker is one process of threads, so one core at most (its GIL): on a machine with cores to
    # spare, a second process serves more commands a second (benchmarks/bench_chat_capacity.py).
    chat_workers: int = Field(default=1, ge=1, le=8, description="chat worker processes `up` runs")
    worker_max_memory_mb: int = Field(default=400, ge=0, description=(
        "a prefork child is replaced after a task leaves it above this resident size; 0 = never"))
    shutdown_timeout_s: float = Field(default=30.0, gt=0, description=(
        "`up` waits this long for its workers' warm shutdown after SIGTERM, then kills them"))
    alert_batch_messages: int = Field(default=50, ge=0, le=1000, description=(
        "alert batches (broker messages) a worker commits in one transaction on Redis + PostgreSQL; "
        "0 or 1 = one Celery task per message"))
    alert_batch_wait_ms: int = Field(default=20, ge=0, le=5000, description=(
        "how long the alert consumer waits for one more message before it commits what it holds"))
    broker_visibility_timeout_s: int = Field(default=300, ge=5)
    broker_publish_timeout_s: float = Field(default=2.0, gt=0)
    task_max_retries: int = Field(default=10, ge=0, description="unused: transient faults are retried by age")
    task_retry_max_age_s: float = Field(default=3600.0, gt=0, description=(
        "a transient fault (database or broker down) is retried until this long after its first failure"))
    task_retry_backoff_cap_s: float = Field(default=30.0, gt=0, description=(
        "longest wait between retries; also held under half the broker visibility timeout"))
    outbox_sweep_after_s: float = Field(default=30.0, gt=0,
                                        description="outbox rows older than this are relayed by the sweep")
    intake_journal_republish_after_s: float = Field(default=900.0, gt=0, description=(
        "an acknowledged message whose work is not committed after this long is published again"))
    intake_journal_sweep_interval_s: float = Field(default=30.0, gt=0)
    outbox_sweep_interval_s: float = Field(default=15.0, gt=0, description="how often a worker sweeps the outbox")
    audit_verify_interval_s: float = Field(default=300.0, ge=0, description="worker re-verifies the audit chain; 0 = off")
    outcome_horizon_s: float = Field(default=900.0, gt=0, description=(
        "a finished run is judged this long after its last step: did its incident resolve by then"))
    outcome_sweep_interval_s: float = Field(default=60.0, ge=0, description=(
        "how often a worker judges finished runs whose horizon passed; 0 = off"))
    remediation_model_path: Path | None = Field(default=None, description=(
        "folder written by `model train-remediation`; its classifier ranks the advice when its "
        "remediation.json says it was chosen. None: the rates rank it"))
    worker_metrics_host: str = "127.0.0.1"
    worker_metrics_port: int = Field(default=9809, ge=0, le=65535, description="0 disables the worker's /metrics")

    # When set, the worker publishes <namespace>/QueueDepth{Deployment=...} for autoscaling on AWS.
    cloudwatch_deployment: str | None = None
    cloudwatch_namespace: str = "SmartCloudOps"
    cloudwatch_interval_s: float = Field(default=60.0, ge=1.0)

    flower_host: str = "127.0.0.1"
    flower_port: int = Field(default=5555, ge=1, le=65535)
    flower_username: str = "admin"
    flower_password: SecretStr | None = None

    remediation_mode: Literal["dry_run", "execute"] = "dry_run"
    # Remediation's operator files; the defaults are the ones shipped in config/.
    catalog_path: Path | None = None
    policy_path: Path | None = None
    roles_path: Path | None = None
    # Escalation policies (config/escalation.yaml when unset: no policy, nobody is paged).
    escalation_path: Path | None = None
    # boto3: region of calls that name none, and an emulator's endpoint (moto, LocalStack) when set.
    aws_region: str = Field(default="eu-west-1", pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")
    aws_endpoint_url: str | None = Field(default=None, pattern=r"^https?://")
    # Let boto3 take credentials from the EC2 instance metadata service (workers on EC2 hosts).
    aws_instance_metadata: bool = False
    # Verification polls inside a task: keep it under the broker's visibility timeout.
    remediation_verify_timeout_s: float = Field(default=240.0, gt=0)
    remediation_verify_poll_s: float = Field(default=10.0, gt=0)
    # A running run quiet this long lost a message of its chain (a kill inside Redis's BRPOP
    # window): the worker parent starts the chain again from its next step.
    remediation_stall_after_s: float = Field(default=1800.0, gt=0, description=(
        "a running remediation run with no change for this long has its chain started again"))
    remediation_stall_check_interval_s: float = Field(default=60.0, gt=0)
    # Wait before the first look after acting: right after a reboot the old "ok" can still show.
    # Unset: each action's own (EC2 reboot waits 30 s); a number applies to every action.
    remediation_verify_settle_s: float | None = Field(default=None, ge=0)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "console"] = "json"

    # Chat (Slack slash command and the generic chat endpoint).
    slack_signing_secret: SecretStr | None = None
    # Signs the incident console's session cookies (all servers of a deployment need the same one).
    console_secret: SecretStr | None = None
    # Bot token (xoxb-…, scope chat:write) of escalation targets of type slack_api.
    slack_bot_token: SecretStr | None = None
    chat_context_ttl_s: int = Field(default=3600, gt=0, le=7 * 24 * 3600)
    chat_reads_at_edge: bool = Field(default=True, description=(
        "the server answers chat lines that only read (status, lists, incidents, history) in its own "
        "response; false: every line goes through the chat queue and a worker"))
    chat_response_url_hosts: str = Field(default="hooks.slack.com",
                                         description="hosts a chat answer may be POSTed to")
    alertmanager_url: str | None = Field(default=None, description="silences are also created here")

    @field_validator("correlation_labels")
    @classmethod
    def _labels_are_names(cls, value: str) -> str:
        names = [part.strip() for part in value.split(",") if part.strip()]
        if not names or not all(name.replace("_", "a").isalnum() for name in names):
            raise ValueError("must be a comma-separated list of label names, e.g. 'alertname,service'")
        return ",".join(names)

    @field_validator("broker_url")
    @classmethod
    def _known_broker(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "sqla+", "amqp://", "memory://")):
            raise ValueError("must start with redis://, rediss://, amqp:// or sqla+ (kombu transport URL)")
        return value

    @field_validator("alertmanager_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL, e.g. http://alertmanager:9093")
        return value.rstrip("/") if value else value

    @field_validator("chat_response_url_hosts")
    @classmethod
    def _host_names(cls, value: str) -> str:
        hosts = [part.strip().lower() for part in value.split(",") if part.strip()]
        if not hosts or not all(host.replace("-", "a").replace(".", "a").isalnum() for host in hosts):
            raise ValueError("must be a comma-separated list of host names, e.g. 'hooks.slack.com'")
        return ",".join(hosts)

    @field_validator("database_url")
    @classmethod
    def _known_database(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("postgresql", "sqlite")):
            raise ValueError("must be a postgresql+psycopg:// or sqlite:/// SQLAlchemy URL")
        return value

    @field_validator("webhook_token", "webhook_password", "api_token", "flower_password", "slack_signing_secret",
                     "console_secret", "oidc_client_secret", "slack_bot_token")
    @classmethod
    def _strong_secret(cls, value: SecretStr | None) -> SecretStr | None:
        # A secret that is set must be one: empty, short or well-known values would accept anyone.
        if value is not None:
            check_secret(value.get_secret_value())
        return value

    @model_validator(mode="after")
    def _basic_auth_complete(self) -> Settings:
        if (self.webhook_username is None) != (self.webhook_password is None):
            raise ValueError("SCO_WEBHOOK_USERNAME and SCO_WEBHOOK_PASSWORD must be set together")
        return self

    @model_validator(mode="after")
    def _api_token_is_not_the_webhook_token(self) -> Settings:
        # The hole this closes: every Alertmanager config held the key to the control API.
        if self.api_token is not None and self.webhook_token is not None and (
                self.api_token.get_secret_value() == self.webhook_token.get_secret_value()):
            raise ValueError("SCO_API_TOKEN must differ from SCO_WEBHOOK_TOKEN (which may only ingest)")
        return self

    @model_validator(mode="after")
    def _oidc_complete(self) -> Settings:
        oidc = (self.oidc_issuer, self.oidc_audience, self.oidc_jwks_url)
        if any(oidc) and not all(oidc):
            raise ValueError("SCO_OIDC_ISSUER, SCO_OIDC_AUDIENCE and SCO_OIDC_JWKS_URL must be set together")
        sso = (self.oidc_client_id, self.oidc_authorize_url, self.oidc_token_url)
        if any(sso) and not (all(sso) and all(oidc)):
            raise ValueError("SCO_OIDC_CLIENT_ID, SCO_OIDC_AUTHORIZE_URL and SCO_OIDC_TOKEN_URL must be set "
                             "together, with SCO_OIDC_ISSUER, SCO_OIDC_AUDIENCE and SCO_OIDC_JWKS_URL")
        return self

    @property
    def oidc_enabled(self) -> bool:
        return self.oidc_jwks_url is not None

    @cached_property
    def queues(self) -> QueueNames:
        return QueueNames()

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    @property
    def broker(self) -> str:
        """The broker URL; the embedded default is kombu's SQLAlchemy transport on SQLite."""
        return self.broker_url or f"sqla+sqlite:///{self.resolved_data_dir / 'broker.sqlite'}"

    @property
    def shared_redis_url(self) -> str | None:
        """The Redis every process shares state in: SCO_REDIS_URL, else the broker when it is Redis."""
        if self.redis_url:
            return self.redis_url
        if self.broker.startswith(("redis://", "rediss://")):
            return self.broker
        return None

    @property
    def database(self) -> str:
        """The store's SQLAlchemy URL; the embedded default is SQLite."""
        return self.database_url or f"sqlite:///{self.resolved_data_dir / 'smartcloudops.sqlite'}"

    @property
    def grouping_labels(self) -> tuple[str, ...]:
        return tuple(self.correlation_labels.split(","))

    @property
    def response_url_hosts(self) -> frozenset[str]:
        return frozenset(self.chat_response_url_hosts.split(","))

    @property
    def is_embedded(self) -> bool:
        return self.broker.startswith("sqla+")

    @property
    def batches_alerts(self) -> bool:
        """Alert messages are committed many at a time: asked for, on Redis and PostgreSQL.

        The embedded default (SQLite, kombu's SQLAlchemy transport) keeps one task per message.
        """
        return (self.alert_batch_messages > 1 and self.broker.startswith(("redis://", "rediss://"))
                and self.database.startswith("postgresql"))

    def webhook_secret(self) -> str:
        """The bearer token Alertmanager must send; generated once and kept in the data dir if unset."""
        if self.webhook_token is not None:
            return self.webhook_token.get_secret_value()
        return _generated_secret(self.resolved_data_dir, "webhook_token")

    def flower_secret(self) -> str:
        """Flower's basic-auth password; generated once and kept in the data dir if unset."""
        if self.flower_password is not None:
            return self.flower_password.get_secret_value()
        return _generated_secret(self.resolved_data_dir, "flower_password")

    def console_session_key(self) -> str:
        """The key that signs console session cookies; generated once and kept in the data dir if unset."""
        if self.console_secret is not None:
            return self.console_secret.get_secret_value()
        return _generated_secret(self.resolved_data_dir, "console_secret")

    def api_secret(self) -> str | None:
        """The deprecated static API token, when set; it never defaults to the webhook token."""
        return self.api_token.get_secret_value() if self.api_token is not None else None


SECRET_FIELDS = frozenset({"webhook_token", "webhook_password", "api_token", "flower_password",
                           "slack_signing_secret", "console_secret",
                           "oidc_client_secret", "slack_bot_token"})
MIN_SECRET_BYTES = 16
# Values seen in examples and tutorials; a deployment that kept one accepts anyone who read them.
WELL_KNOWN_SECRETS = frozenset({
    "changeme", "change-me", "change_me", "changemechangeme", "secret", "password", "admin", "token",
    "default", "test", "example", "smartcloudops", "0123456789abcdef", "1234567890123456",
    "aaaaaaaaaaaaaaaa", "secretsecretsecret", "passwordpassword", "changethissecret",
})


def check_secret(value: str) -> None:
    """Refuse an empty, short (< 16 bytes) or well-known secret (ValueError says which)."""
    if not value.strip():
        raise ValueError("is empty; unset it or give a random value of 16 bytes or more")
    if len(value.encode()) < MIN_SECRET_BYTES:
        raise ValueError(f"is shorter than {MIN_SECRET_BYTES} bytes; use e.g. `openssl rand -hex 32`")
    if value.strip().lower() in WELL_KNOWN_SECRETS or len(set(value)) < 4:
        raise ValueError("is a default or guessable value; use e.g. `openssl rand -hex 32`")


def _generated_secret(data_dir: Path, name: str) -> str:
    """Read or create a random secret in `data_dir/secrets.json` (mode 0600)."""
    path = data_dir / "secrets.json"
    data_dir.mkdir(parents=True, exist_ok=True)
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = secrets.token_urlsafe(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle)
    return stored[name]


def load_settings(**overrides: object) -> Settings:
    """Build settings from the environment; a bad value raises ConfigurationError naming the variable."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigurationError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    problems = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        variable = f"{ENV_PREFIX}{field.upper()}" if field else "settings"
        given = error.get("input")
        secret = field in SECRET_FIELDS  # never echo a secret into a log or a terminal
        shown = "" if secret or isinstance(given, dict) or given is None else f" (got {given!r})"
        problems.append(f"{variable}: {error['msg']}{shown}")
    return "invalid configuration: " + "; ".join(problems)
