"""The real peers of SmartCloudOps, configured for a test: Prometheus, Alertmanager, Redis, and
SmartCloudOps itself, each on a free 127.0.0.1 port with its own temporary directory."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import redis
import yaml

from peer_processes import PeerGroup, PeerProcess, free_port, require_binary, wait_until

REPO = Path(__file__).resolve().parents[3]
SHIPPED_RULES = REPO / "deploy" / "prometheus" / "smartcloudops-rules.yml"
# `smartcloudops up` imports the whole pipeline (models included): slow on a busy machine.
START_TIMEOUT_S = 120.0
# 1s everywhere: the loop target -> rule -> Alertmanager -> webhook takes seconds, not minutes.
FAST = "1s"


class ControlledTarget:
    """A scrape target serving one gauge, `checkout_healthy`, whose value the test sets."""

    def __init__(self) -> None:
        self.healthy = True
        target = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                value = int(target.healthy)
                body = f"# TYPE checkout_healthy gauge\ncheckout_healthy {value}\n".encode()
                self.send_response(200 if self.path == "/metrics" else 404)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(
                self, *_: object
            ) -> None:  # scrapes every second would flood the output
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


def alert_rules(service: str) -> dict:
    """The rule under test: page as soon as the target reports unhealthy."""
    rule = {
        "alert": "CheckoutUnhealthy",
        "expr": "checkout_healthy == 0",
        "for": "0s",
        "labels": {"severity": "critical", "service": service},
        "annotations": {"summary": "checkout reports itself unhealthy"},
    }
    return {"groups": [{"name": "e2e", "interval": FAST, "rules": [rule]}]}


def prometheus_config(jobs: dict[str, str], alertmanager_url: str | None = None) -> dict:
    """Scrape `jobs` (job name -> base URL), load the test's and the shipped rules."""
    config = {
        "global": {"scrape_interval": FAST, "scrape_timeout": FAST, "evaluation_interval": FAST},
        # The shipped rules load beside the test's, as in a real deployment.
        "rule_files": ["rules.yml", str(SHIPPED_RULES)],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": [url.removeprefix("http://")]}]}
            for job, url in jobs.items()
        ],
    }
    if alertmanager_url is not None:
        target = alertmanager_url.removeprefix("http://")
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": [target]}]}]}
    return config


def alertmanager_config(webhook_url: str, token: str) -> dict:
    """One route to SmartCloudOps with bearer auth, sending resolved notifications too."""
    receiver = {
        "name": "smartcloudops",
        "webhook_configs": [
            {
                "url": webhook_url,
                "send_resolved": True,
                "http_config": {"authorization": {"type": "Bearer", "credentials": token}},
            }
        ],
    }
    route = {
        "receiver": "smartcloudops",
        "group_by": ["alertname", "service"],
        "group_wait": FAST,
        "group_interval": FAST,
        "repeat_interval": "1m",
        # SmartCloudOps' own alerts go to people (here: nobody), never back into it.
        "routes": [{"matchers": ['component="smartcloudops"'], "receiver": "sre"}],
    }
    return {"route": route, "receivers": [receiver, {"name": "sre"}]}


def write_yaml(path: Path, document: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def http_ok(url: str, **kwargs: object) -> bool:
    return httpx.get(url, timeout=2.0, **kwargs).status_code == 200


def start_prometheus(peers: PeerGroup, home: Path, config: dict, rules: dict | None = None) -> str:
    """Start Prometheus with `config` and the test's `rules`; return its base URL once ready."""
    binary = require_binary("prometheus", "prometheus")
    write_yaml(home / "rules.yml", rules or {"groups": []})
    config_file = write_yaml(home / "prometheus.yml", config)
    port = free_port()
    process = peers.start(
        "prometheus",
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--storage.tsdb.retention.time=1h",
        ],
        cwd=home,
    )
    return _ready(process, f"http://127.0.0.1:{port}", "/-/ready")


def start_alertmanager(peers: PeerGroup, home: Path, config: dict) -> str:
    """Start a single (non-clustered) Alertmanager with `config`; return its base URL once ready."""
    binary = require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    config_file = write_yaml(home / "alertmanager.yml", config)
    port = free_port()
    process = peers.start(
        "alertmanager",
        [
            binary,
            f"--config.file={config_file}",
            f"--storage.path={home / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
            "--log.level=debug",
        ],
        cwd=home,
    )
    return _ready(process, f"http://127.0.0.1:{port}", "/-/ready")


@dataclass
class RedisServer:
    """A throwaway Redis the test can stop and start again on the same port."""

    peers: PeerGroup
    home: Path
    port: int
    process: PeerProcess | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = require_binary("redis-server", "redis-server")
        self.home.mkdir(parents=True, exist_ok=True)
        self.process = self.peers.start(
            "redis",
            [
                binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.home),
            ],
        )
        wait_until(self._pong, timeout_s=START_TIMEOUT_S, what=f"redis on port {self.port}")
        return self

    def stop(self) -> None:
        assert self.process is not None
        self.process.stop()

    def _pong(self) -> bool:
        self.process.assert_running()
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=1)
        try:
            return client.ping()
        finally:
            client.close()


@dataclass(frozen=True)
class SmartCloudOps:
    """A running `smartcloudops up` (HTTP server + Celery worker) and how to talk to it."""

    url: str
    worker_metrics_url: str
    token: str
    process: PeerProcess

    def incidents(self, service: str, status: str | None = None) -> list[dict]:
        params = {"service": service, **({"status": status} if status else {})}
        response = httpx.get(
            f"{self.url}/v1/incidents",
            params=params,
            timeout=5.0,
            headers={"Authorization": f"Bearer {reader_token(self.token)}"},
        )
        response.raise_for_status()
        return response.json()["items"]

    def webhook_url(self) -> str:
        return f"{self.url}/v1/alerts/alertmanager"


def reader_token(webhook_token: str) -> str:
    """The API token the tests read with (the webhook token may only ingest)."""
    return f"{webhook_token}-reader"


def smartcloudops_command() -> list[str]:
    """The installed console script of the interpreter running the tests."""
    script = Path(sys.executable).with_name("smartcloudops")
    assert script.exists(), f"{script} missing: install the project (pip install -e .)"
    return [str(script)]


def smartcloudops_env(
    home: Path, broker_url: str, database_url: str, token: str, *, http_port: int, metrics_port: int
) -> dict[str, str]:
    # Only our SCO_* values: a developer's own settings must not leak into the test.
    env = {key: value for key, value in os.environ.items() if not key.startswith("SCO_")}
    env.update(
        {
            "SCO_HTTP_HOST": "127.0.0.1",
            "SCO_HTTP_PORT": str(http_port),
            # The worker's /metrics: its own port, not the shared default another worker holds.
            "SCO_WORKER_METRICS_HOST": "127.0.0.1",
            "SCO_WORKER_METRICS_PORT": str(metrics_port),
            "SCO_BROKER_URL": broker_url,
            "SCO_DATABASE_URL": database_url,
            "SCO_WEBHOOK_TOKEN": token,  # Alertmanager's: ingest only
            "SCO_API_TOKEN": reader_token(token),  # the tests' reads
            "SCO_API_TOKEN_ROLE": "viewer",
            "SCO_DATA_DIR": str(home),
            "SCO_LOG_LEVEL": "INFO",
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def start_smartcloudops(
    peers: PeerGroup, home: Path, broker_url: str, database_url: str, token: str
) -> SmartCloudOps:
    """Migrate, then run `smartcloudops up`; return once /readyz says broker and database are up."""
    home.mkdir(parents=True, exist_ok=True)
    http_port, metrics_port = free_port(), free_port()
    env = smartcloudops_env(
        home, broker_url, database_url, token, http_port=http_port, metrics_port=metrics_port
    )
    migration = subprocess.run(
        [*smartcloudops_command(), "db", "upgrade"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert migration.returncode == 0, f"db upgrade failed:\n{migration.stdout}{migration.stderr}"
    process = peers.start("smartcloudops", [*smartcloudops_command(), "up"], env=env, cwd=home)
    url = _ready(process, f"http://127.0.0.1:{http_port}", "/readyz")
    # The worker's parent serves its metrics before it starts consuming: it is at least up.
    worker_metrics_url = _ready(process, f"http://127.0.0.1:{metrics_port}", "/metrics")
    return SmartCloudOps(
        url=url, worker_metrics_url=worker_metrics_url, token=token, process=process
    )


def _ready(process: PeerProcess, base_url: str, path: str) -> str:
    def ready() -> bool:
        process.assert_running()
        return http_ok(base_url + path)

    wait_until(ready, timeout_s=START_TIMEOUT_S, what=f"{process.name} at {base_url}{path}")
    return base_url


@dataclass(frozen=True)
class PrometheusApi:
    """The few Prometheus HTTP API calls the tests need."""

    url: str

    def query(self, promql: str) -> list[dict]:
        response = httpx.get(f"{self.url}/api/v1/query", params={"query": promql}, timeout=5.0)
        response.raise_for_status()
        return response.json()["data"]["result"]

    def value(self, promql: str) -> float | None:
        """The value of a query that yields at most one series."""
        result = self.query(promql)
        assert len(result) <= 1, f"{promql} gave {len(result)} series"
        return float(result[0]["value"][1]) if result else None

    def rules(self, file: Path) -> list[dict]:
        """Every rule loaded from `file`, with its health and last error."""
        response = httpx.get(f"{self.url}/api/v1/rules", timeout=5.0)
        response.raise_for_status()
        groups = response.json()["data"]["groups"]
        return [rule for group in groups if group["file"] == str(file) for rule in group["rules"]]
