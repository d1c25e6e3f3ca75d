"""Story (e): a healthy system watched by a real Prometheus (Debian's 2.42) with the shipped rules
loaded, scraping the API and both workers of `smartcloudops up` and remote-writing its own samples
into the metric intake, while the demo's alert story is posted again and again.

What the operator must see: no SmartCloudOps self-alert pending or firing (no false page), every
metric docs/observability.md lists has samples, and no remote-write batch was retried (the server
does not drop idle keep-alive connections under Prometheus).
"""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from smartcloudops.demo_payloads import demo_story
from tests.conftest import free_port, server_missing
from tests.processes import Pipeline, wait_for
from tests.stories.recipe import start_recipe

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(300)]

ROOT = Path(__file__).parents[2]
RULES = ROOT / "deploy" / "prometheus" / "smartcloudops-rules.yml"
DOCS = ROOT / "docs" / "observability.md"
LOAD_S = 120  # two minutes of the demo load, as the story asks: every rule is evaluated over a hundred times


def documented_metrics() -> list[str]:
    table = DOCS.read_text().split("## Metrics", 1)[1].split("\n## ", 1)[0]
    return sorted(set(re.findall(r"^\| `(smartcloudops_[a-z_]+)`", table, re.MULTILINE)))


@pytest.fixture
def prometheus_binary() -> str:
    binary = shutil.which("prometheus")
    if binary is None:
        server_missing("Prometheus", "prometheus is not installed (apt-get install prometheus)")
    return binary


def prometheus_config(pipe: Pipeline, worker_port: int) -> dict:
    api = f"127.0.0.1:{pipe.port}"
    return {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [
            {"job_name": "smartcloudops-api", "static_configs": [{"targets": [api]}]},
            # `up` serves the pipeline worker on the port and the metrics worker on the next one.
            {"job_name": "smartcloudops-worker",
             "static_configs": [{"targets": [f"127.0.0.1:{worker_port}", f"127.0.0.1:{worker_port + 1}"]}]},
        ],
        "remote_write": [{
            "url": f"http://{api}/api/v1/write",
            # Every scraped series, at Prometheus' default queue settings: the metric intake's load.
            "authorization": {"credentials": f"{pipe.token}-webhook"},  # the ingest-only webhook token
        }],
    }


@pytest.fixture
def prometheus(prometheus_binary, tmp_path) -> Iterator[callable]:
    started: list[subprocess.Popen] = []

    def start(config: dict) -> str:
        path = tmp_path / "prometheus.yml"
        path.write_text(yaml.safe_dump(config))
        port = free_port()
        with (tmp_path / "prometheus.log").open("w") as log:  # the child keeps its own descriptor
            process = subprocess.Popen(
                [prometheus_binary, f"--config.file={path}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                 f"--web.listen-address=127.0.0.1:{port}"],
                stdout=subprocess.DEVNULL, stderr=log)
        started.append(process)
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: _ok(f"{url}/-/ready"), 30, "Prometheus did not start")
        return url

    yield start
    for process in started:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:  # it drains remote write to a server already stopped
            process.kill()
            process.wait(timeout=10)


def _ok(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def own_total(exposition: str, name: str) -> float:
    """The sum of a counter's series in Prometheus' text exposition."""
    return sum(float(line.rsplit(" ", 1)[1]) for line in exposition.splitlines()
               if line.startswith((name + " ", name + "{")))


def query(prometheus: str, expr: str) -> list[dict]:
    answer = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=5).json()
    assert answer["status"] == "success", answer
    return answer["data"]["result"]


def test_story_e_a_healthy_system_raises_no_self_alert_and_every_documented_metric_has_samples(
    private_redis, pg_url, prometheus, tmp_path, request
) -> None:
    worker_port = free_port()
    pipe = Pipeline(env={"SCO_BROKER_URL": private_redis, "SCO_DATABASE_URL": pg_url,
                         "SCO_WORKER_METRICS_PORT": str(worker_port), "SCO_LOG_LEVEL": "WARNING"},
                    workdir=tmp_path)
    up = start_recipe(pipe)  # the README's recipe: db upgrade, then up
    try:
        wait_for(lambda: _ok(f"{pipe.base_url}/readyz"), 90, f"`smartcloudops up` did not serve\n{up.output()}")
        server = prometheus(prometheus_config(pipe, worker_port))
        ingest = {"Authorization": f"Bearer {pipe.token}-webhook"}
        deadline, round_ = time.monotonic() + LOAD_S, 0
        with httpx.Client(base_url=pipe.base_url, timeout=10) as client:
            while time.monotonic() < deadline:
                for _, payload in demo_story(run=f"story-e-{round_}"):
                    assert client.post("/v1/alerts/alertmanager", json=payload, headers=ingest).status_code == 202
                round_ += 1
                time.sleep(5)

        alerts = httpx.get(f"{server}/api/v1/alerts", timeout=5).json()["data"]["alerts"]
        ours = [(a["labels"]["alertname"], a["state"]) for a in alerts
                if a["labels"]["alertname"].startswith("SmartCloudOps")]
        assert ours == [], f"false self-alerts on a healthy system: {ours}"
        targets = httpx.get(f"{server}/api/v1/targets", timeout=5).json()["data"]["activeTargets"]
        assert sorted(t["health"] for t in targets) == ["up", "up", "up"], targets

        missing = [name for name in documented_metrics()
                   if not query(server, f'{{__name__=~"{name}(_count)?"}}')]
        assert missing == [], f"documented metrics without samples: {missing}"
        assert query(server, "min(smartcloudops_audit_chain_ok)")[0]["value"][1] == "1"

        own = httpx.get(f"{server}/metrics", timeout=5).text  # Prometheus' own counters (it does not scrape itself)
        assert own_total(own, "prometheus_remote_storage_samples_total") > 0, "Prometheus remote-wrote nothing"
        assert own_total(own, "prometheus_remote_storage_samples_retried_total") == 0, "remote-write batches retried"
        assert own_total(own, "prometheus_remote_storage_samples_failed_total") == 0, "remote-write batches failed"
    finally:
        request.node.add_report_section("call", "processes", pipe.logs()[-20000:])
        pipe.stop_all()
