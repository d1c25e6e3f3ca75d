"""A real remediation stack for integration tests: moto's server over HTTP, Redis, PostgreSQL, a real
Celery worker process, and the ASGI app in-process publishing to the same broker.

(conftest modules are not importable by name, so the helpers live here.)
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import sqlalchemy as sa
import yaml
from celery import Celery
from sqlalchemy.engine import Engine
from starlette.testclient import TestClient

from adapters.broker import CeleryPublisher
from adapters.db.queries import IncidentQueries
from adapters.db.remediation_queries import RemediationQueries
from adapters.db.schema import alerts, audit_log, incidents
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from config.roles import load_roles
from config.settings import load_settings
from consumers.app import create_app
from consumers.auth import Authenticator, static_credentials
from consumers.deps import ApiDeps
from consumers.oidc import JwksCache, JwtVerifier
from tests.oidc_provider import AUDIENCE, ISSUER, Provider, SigningKey
from tests.processes import Pipeline, Proc, wait_for

REGION = "eu-west-1"
DOCUMENT = "SmartCloudOps-RestartSystemdUnit"
TOKEN = "remediation-itest-token-0123456789"
APPROVER, VIEWER, ADMIN = "U02ALICE002", "U09VIEWER09", "U01ADMIN001"
_OIDC: dict[str, Any] = {}


def oidc() -> tuple[Provider, SigningKey]:
    """The tests' OIDC provider (one per test process, on 127.0.0.1)."""
    if not _OIDC:
        key = SigningKey("ES256", kid="itest-1")
        provider = Provider()
        provider.keys = [key]
        _OIDC.update(provider=provider, key=key)
    return _OIDC["provider"], _OIDC["key"]


def as_user(user: str) -> dict[str, str]:
    """Headers of a request made by `user`, signed in through the OIDC provider."""
    return {"Authorization": f"Bearer {oidc()[1].token(user, expires_in=3600)}"}
# Valid ids that no emulated instance has: an instance that vanished since the catalog was written.
GHOSTS = ("i-0eeeeeeeeeeee0001", "i-0eeeeeeeeeeee0002", "i-0eeeeeeeeeeee0003")
T0 = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)


def aws_session() -> boto3.Session:
    return boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )


@dataclass
class Estate:
    """Instances in moto and the operator files that describe them."""

    search: list[str]  # running, owned by the catalog's `search`
    stopped: str  # stopped, owned by `search`
    foreign: str  # running in the account, but in no service of the catalog
    files: dict[str, Path]


def build_estate(moto_url: str, workdir: Path, *, approval_timeout_s: float = 600) -> Estate:
    ec2 = aws_session().client("ec2", endpoint_url=moto_url)
    ids = [
        i["InstanceId"]
        for i in ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=6, MaxCount=6, InstanceType="t3.micro"
        )["Instances"]
    ]
    search, stopped, foreign = ids[:4], ids[4], ids[5]
    ec2.stop_instances(InstanceIds=[stopped])
    aws_session().client("ssm", endpoint_url=moto_url).create_document(
        Content=json.dumps(_restart_document()), Name=DOCUMENT, DocumentType="Command"
    )
    files = {
        "catalog": workdir / "catalog.yaml",
        "policy": workdir / "policies.yaml",
        "roles": workdir / "roles.yaml",
    }
    files["catalog"].write_text(yaml.safe_dump(_catalog(search + [stopped])))
    files["policy"].write_text(yaml.safe_dump(_policy(approval_timeout_s)))
    files["roles"].write_text(
        yaml.safe_dump({"default_role": "viewer", "users": {APPROVER: "approver", ADMIN: "admin"}})
    )
    return Estate(search, stopped, foreign, files)


def _restart_document() -> dict[str, Any]:
    return {
        "schemaVersion": "2.2",
        "description": "restart one systemd unit",
        "parameters": {"unit": {"type": "String", "allowedPattern": "^[a-zA-Z0-9@._-]{1,64}$"}},
        "mainSteps": [
            {
                "action": "aws:runShellScript",
                "name": "restart",
                "inputs": {"runCommand": ["systemctl restart '{{ unit }}'"]},
            }
        ],
    }


def _catalog(search: list[str]) -> dict[str, Any]:
    return {
        "services": [
            {
                "name": "search",
                "tier": 3,
                "fleet_size": 10,
                "systemd_units": ["opensearch.service"],
                "aws": {"region": REGION, "instance_ids": search},
            },
            {
                "name": "ghost",
                "tier": 3,
                "fleet_size": 10,
                "aws": {"region": REGION, "instance_ids": list(GHOSTS)},
            },
        ],
        "alerts": ["InstanceDown", "InstanceStopped", "DiskFull", "HighErrorRate"],
    }


def _policy(approval_timeout_s: float) -> dict[str, Any]:
    return {
        "risk": {"thresholds": {"auto_below": 90, "notify_at": 100}},
        "approvals": {"roles": ["approver"], "timeout_s": approval_timeout_s},
        "guards": {
            "rate_limit_max": 2,
            "rate_limit_window_s": 3600,
            "cooldown_s": 0,
            "max_targets_per_plan": 2,
            "max_fleet_share": 0.5,
            "breaker_failure_threshold": 3,
            "breaker_cooldown_s": 900,
        },
        "actions": {
            "ec2_reboot": {"enabled": True},
            "ec2_start": {"enabled": True},
            "ssm_run_command": {
                "enabled": True,
                "documents": [{"name": DOCUMENT, "unit_parameter": "unit"}],
            },
        },
        "rules": [
            {
                "name": "reboot-unreachable",
                "match": {"alertnames": ["InstanceDown"]},
                "actions": [{"action": "ec2_reboot"}],
            },
            {
                "name": "start-stopped",
                "match": {"alertnames": ["InstanceStopped"]},
                "actions": [{"action": "ec2_start"}],
            },
            {
                "name": "reboot-full-disk-with-approval",
                "match": {"alertnames": ["DiskFull"]},
                "minimum_decision": "needs_approval",
                "actions": [{"action": "ec2_reboot"}],
            },
            {
                "name": "restart-search-on-errors",
                "match": {"alertnames": ["HighErrorRate"]},
                "actions": [
                    {
                        "action": "ssm_run_command",
                        "document": DOCUMENT,
                        "unit": "opensearch.service",
                    }
                ],
            },
        ],
    }


def alert(
    alertname: str,
    instance_id: str,
    *,
    service: str = "search",
    at: datetime = T0,
    severity: str = "critical",
    fingerprint: str | None = None,
) -> dict[str, Any]:
    """One firing Alertmanager alert naming an instance."""
    labels = {
        "alertname": alertname,
        "service": service,
        "instance_id": instance_id,
        "severity": severity,
    }
    body = {
        "status": "firing",
        "labels": labels,
        "annotations": {},
        "startsAt": at.isoformat(),
        "endsAt": "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus/graph",
    }
    if fingerprint:
        body["fingerprint"] = fingerprint
    return body


def webhook(alerts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "version": "4",
        "groupKey": "{}:{}",
        "status": "firing",
        "receiver": "smartcloudops",
        "groupLabels": {},
        "commonLabels": {},
        "commonAnnotations": {},
        "externalURL": "http://am:9093",
        "alerts": alerts,
    }


@dataclass
class Stack:
    """The worker process, the in-process API, and read access to what they wrote."""

    pipeline: Pipeline
    engine: Engine
    api: TestClient
    estate: Estate
    worker: Proc
    publisher: CeleryPublisher
    extra: dict[str, Any] = field(default_factory=dict)

    def post_alerts(self, *alerts: dict[str, Any]) -> None:
        answer = self.api.post("/v1/alerts/alertmanager", json=webhook(list(alerts)))
        assert answer.status_code == 202, answer.text

    def incident_ids(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(conn.execute(sa.select(incidents.c.id).order_by(incidents.c.id)).scalars())

    def wait_incidents(self, count: int, timeout: float = 60) -> list[int]:
        wait_for(
            lambda: len(self.incident_ids()) >= count,
            timeout,
            f"{count} incidents not recorded\n{self.pipeline.logs()}",
        )
        return self.incident_ids()

    def incidents_naming(self, instance_id: str, alertname: str) -> list[int]:
        """Incidents (oldest first) with an alert of this name on this instance."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(alerts.c.incident_id, alerts.c.labels)
                .where(alerts.c.alertname == alertname)
                .order_by(alerts.c.incident_id)
            ).all()
        return sorted(
            {row.incident_id for row in rows if row.labels.get("instance_id") == instance_id}
        )

    def wait_incident(
        self, instance_id: str, alertname: str, count: int = 1, timeout: float = 60
    ) -> list[int]:
        wait_for(
            lambda: len(self.incidents_naming(instance_id, alertname)) >= count,
            timeout,
            f"no {alertname} incident on {instance_id}\n{self.pipeline.logs()}",
        )
        return self.incidents_naming(instance_id, alertname)

    def runs(self, incident_id: int | None = None) -> list[Any]:
        query = sa.select(remediation_runs).order_by(remediation_runs.c.id)
        if incident_id is not None:
            query = query.where(remediation_runs.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return conn.execute(query).all()

    def wait_run(self, incident_id: int, states: tuple[str, ...], timeout: float = 60) -> Any:
        def settled() -> bool:
            runs = self.runs(incident_id)
            return bool(runs) and runs[-1].state in states

        wait_for(
            settled,
            timeout,
            f"incident {incident_id} has no run in {states}: "
            f"{[r.state for r in self.runs(incident_id)]}\n{self.pipeline.logs()}",
        )
        return self.runs(incident_id)[-1]

    def steps(self, run_id: int) -> list[Any]:
        with self.engine.connect() as conn:
            return conn.execute(
                sa.select(remediation_steps)
                .where(remediation_steps.c.run_id == run_id)
                .order_by(remediation_steps.c.step_index)
            ).all()

    def audit(self, incident_id: int | None = None) -> list[dict[str, Any]]:
        query = sa.select(audit_log.c.body).order_by(audit_log.c.seq)
        if incident_id is not None:
            query = query.where(audit_log.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return [json.loads(body) for body in conn.execute(query).scalars()]

    def kinds(self, incident_id: int | None = None) -> list[str]:
        return [row["kind"] for row in self.audit(incident_id)]

    def wait_audit(self, kind: str, count: int = 1, timeout: float = 60) -> None:
        wait_for(
            lambda: self.kinds().count(kind) >= count,
            timeout,
            f"fewer than {count} {kind} audit rows: {self.kinds()}\n{self.pipeline.logs()}",
        )

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        answer = self.api.get(f"/v1/incidents/{incident_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()


def stack_env(
    *, pg_url: str, redis_url: str, moto_url: str, estate: Estate, mode: str
) -> dict[str, str]:
    return {
        "SCO_BROKER_URL": redis_url,
        "SCO_DATABASE_URL": pg_url,
        "SCO_REDIS_URL": redis_url,
        "SCO_REMEDIATION_MODE": mode,
        "SCO_AWS_ENDPOINT_URL": moto_url,
        "SCO_AWS_REGION": REGION,
        "SCO_CATALOG_PATH": str(estate.files["catalog"]),
        "SCO_POLICY_PATH": str(estate.files["policy"]),
        "SCO_ROLES_PATH": str(estate.files["roles"]),
        "SCO_REMEDIATION_VERIFY_TIMEOUT_S": "5",
        "SCO_REMEDIATION_VERIFY_POLL_S": "0.2",
        "SCO_REMEDIATION_VERIFY_SETTLE_S": "0",  # moto reboots at once
        # Each alert in these tests starts its own incident: correlation joins only within a second.
        "SCO_CORRELATION_WINDOW_S": "1",
        "SCO_BROKER_VISIBILITY_TIMEOUT_S": "10",
        "SCO_TASK_MAX_RETRIES": "3",
        "SCO_LOG_LEVEL": "INFO",
        "SCO_WORKER_PREFETCH": "1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
    }


def in_process_api(
    env: dict[str, str], engine: Engine, workdir: Path
) -> tuple[TestClient, CeleryPublisher]:
    settings = load_settings(
        data_dir=workdir,
        webhook_token=TOKEN,
        broker_url=env["SCO_BROKER_URL"],
        roles_path=Path(env["SCO_ROLES_PATH"]),
    )
    publisher_app = Celery("remediation-itest", broker=settings.broker)
    publisher = CeleryPublisher(publisher_app, settings.queues)
    roles = load_roles(settings.roles_path)
    provider, _ = oidc()
    verifier = JwtVerifier(JwksCache(provider.url), issuer=ISSUER, audience=AUDIENCE)
    deps = ApiDeps(
        settings=settings,
        publisher=publisher,
        incidents=IncidentQueries(engine),
        remediation=RemediationQueries(engine),
        roles=roles,
        authenticator=Authenticator(static=static_credentials(settings), jwt=verifier, roles=roles),
    )
    # By default the tests act as the admin (who may also ingest); as_user() names someone else.
    client = TestClient(create_app(deps), headers=as_user(ADMIN))
    return client, publisher


def settle(seconds: float) -> None:
    """Give in-flight tasks time to (not) happen before asserting that something did not happen."""
    time.sleep(seconds)
