"""Operators can watch the pipeline: Flower lists every task, the worker and server export metrics."""

from __future__ import annotations

import httpx
import pytest

from smartcloudops.demo_payloads import demo_story
from tests.conftest import free_port
from tests.processes import Pipeline, wait_for

pytestmark = pytest.mark.e2e


@pytest.fixture
def pipeline(redis_url, pg_url, tmp_path):
    pipe = Pipeline(env={"SCO_BROKER_URL": redis_url, "SCO_DATABASE_URL": pg_url,
                         "SCO_WORKER_METRICS_PORT": str(free_port()), "SCO_FLOWER_PORT": str(free_port()),
                         "SCO_FLOWER_PASSWORD": "flower-pw-for-the-e2e-test"}, workdir=tmp_path)
    yield pipe
    pipe.stop_all()


def _flower_tasks(pipe: Pipeline) -> dict:
    try:
        answer = httpx.get(f"http://127.0.0.1:{pipe.env['SCO_FLOWER_PORT']}/api/tasks", auth=("admin", "flower-pw-for-the-e2e-test"),
                           timeout=5)
    except httpx.TransportError:
        return {}
    return answer.json() if answer.status_code == 200 else {}


def test_flower_lists_every_task_with_its_state(pipeline):
    pipeline.start_server()
    pipeline.start("flower", "flower")
    flower_url = f"http://127.0.0.1:{pipeline.env['SCO_FLOWER_PORT']}"
    wait_for(lambda: _answers(flower_url), 60, f"flower did not start\n{pipeline.logs()}")
    assert httpx.get(f"{flower_url}/api/tasks", timeout=5).status_code == 401  # basic auth required
    pipeline.start_worker()
    with pipeline.client() as client:
        for _, payload in demo_story()[:3]:
            assert client.post("/v1/alerts/alertmanager", json=payload).status_code == 202
    def recorded() -> list[dict]:
        return [t for t in _flower_tasks(pipeline).values()
                if t["name"] == "alerts.record_batch" and t["state"] == "SUCCESS"]

    wait_for(lambda: len(recorded()) == 3, 60, f"flower did not list three succeeded batches\n{pipeline.logs()}")
    assert all(t["runtime"] is not None and t["runtime"] >= 0 for t in recorded())
    # The follow-up tasks the batches caused (the risk assessment of the new incidents: one task for an
    # incident alone, one for several a transaction opened) are listed too.
    wait_for(lambda: any(t["name"] in ("risk.assess_incident", "risk.assess_incidents")
                         for t in _flower_tasks(pipeline).values()), 60,
             "flower did not list the follow-up tasks")
    assert all(t["state"] in {"RECEIVED", "STARTED", "SUCCESS", "RETRY", "FAILURE"}
               for t in _flower_tasks(pipeline).values())


def test_worker_and_server_export_pipeline_metrics(pipeline):
    pipeline.start_server()
    pipeline.start_worker()
    with pipeline.client() as client:
        for _, payload in demo_story():
            assert client.post("/v1/alerts/alertmanager", json=payload).status_code == 202
        worker_metrics = f"http://127.0.0.1:{pipeline.env['SCO_WORKER_METRICS_PORT']}/metrics"
        wait_for(lambda: _sample(worker_metrics, "smartcloudops_events_consumed_total", outcome="processed") >= 4,
                 60, f"worker metrics did not count the batches\n{pipeline.logs()}")
        server_text = client.get("/metrics").text
    assert _sample(worker_metrics, "smartcloudops_events_consumed_total", outcome="duplicate") == 1
    assert _sample(worker_metrics, "smartcloudops_task_duration_seconds_count", task="alerts.record_batch") == 5
    assert 'smartcloudops_queue_depth{queue="events"}' in server_text
    assert 'smartcloudops_queue_depth{queue="dead_letter"} 0.0' in server_text


def _answers(url: str) -> bool:
    try:
        httpx.get(url, timeout=2)
        return True
    except httpx.TransportError:
        return False


def _sample(url: str, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    from prometheus_client.parser import text_string_to_metric_families

    try:
        text = httpx.get(url, timeout=5).text
    except httpx.TransportError:
        return -1
    return sum(sample.value for family in text_string_to_metric_families(text) for sample in family.samples
               if sample.name == name and labels.items() <= sample.labels.items())
