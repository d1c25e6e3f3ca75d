"""A real Prometheus remote-writes its own series to SmartCloudOps, and the worker scores them into PostgreSQL."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from tests.conftest import free_port
from tests.processes import Pipeline, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

CONFIG = """
global:
  scrape_interval: 1s
scrape_configs:
  - job_name: prometheus
    static_configs:
      - targets: ["127.0.0.1:{prometheus_port}"]
remote_write:
  - url: http://127.0.0.1:{server_port}/api/v1/write
    authorization:
      credentials: {token}
    queue_config:
      batch_send_deadline: 1s
      max_shards: 1
"""


def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus is not installed (Debian package prometheus)", pytrace=False)
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    return path


@pytest.fixture
def pipeline(redis_url, pg_url, tmp_path):
    pipe = Pipeline(
        env={"SCO_BROKER_URL": redis_url, "SCO_DATABASE_URL": pg_url, "SCO_REDIS_URL": redis_url},
        workdir=tmp_path,
    )
    yield pipe
    pipe.stop_all()


@pytest.fixture
def prometheus(pipeline, tmp_path):
    binary = prometheus_binary()
    port = free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        CONFIG.format(prometheus_port=port, server_port=pipeline.port, token=pipeline.token)
    )
    log = (tmp_path / "prometheus.log").open("w")
    proc = subprocess.Popen(
        [
            binary,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    yield tmp_path / "prometheus.log"
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


def counts(pg_url: str) -> tuple[int, int]:
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            series = conn.execute(
                sa.select(sa.func.count())
                .select_from(anomaly_series)
                .where(anomaly_series.c.job == "prometheus")
            ).scalar_one()
            scores = conn.execute(
                sa.select(sa.func.count()).select_from(anomaly_scores)
            ).scalar_one()
    finally:
        engine.dispose()
    return series, scores


def test_prometheus_remote_write_is_accepted_and_scored(pipeline, prometheus, pg_url):
    pipeline.start_server()
    pipeline.start_worker("--queues", "metrics", "--concurrency", "1")
    wait_for(
        lambda: counts(pg_url)[0] >= 50 and counts(pg_url)[1] >= 500,
        120,
        f"Prometheus' series were not scored: {counts(pg_url)}\n{pipeline.logs()}\n"
        f"{prometheus.read_text()[-3000:]}",
    )
    series, scores = counts(pg_url)
    assert series >= 50 and scores >= 500
    assert "non-recoverable error" not in prometheus.read_text()
