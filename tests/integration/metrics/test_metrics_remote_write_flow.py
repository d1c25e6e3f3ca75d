"""Remote write from real protobuf bytes through Redis and a real worker to scores and incidents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import cramjam
import numpy as np
import pytest
import redis
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.schema import alerts, audit_log, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series, incident_anomaly
from adapters.series_state import KEY_PREFIX
from consumers.remote_write_pb import WriteRequest
from pipeline.metric_events import series_key
from smartcloudops.demo_payloads import alert, webhook
from tests.processes import Pipeline, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(240)]

LABELS = {
    "__name__": "checkout_latency_ms",
    "job": "checkout",
    "service": "checkout",
    "instance": "web-1:9100",
}
POINTS, JUMP_AT, JUMP_LEN, STEP_S = 400, 300, 10, 15


@pytest.fixture
def pipeline(redis_url, pg_url, tmp_path):
    pipe = Pipeline(
        env={
            "SCO_BROKER_URL": redis_url,
            "SCO_DATABASE_URL": pg_url,
            "SCO_REDIS_URL": redis_url,
            "SCO_ANOMALY_RESOLVE_AFTER_POINTS": "5",
            "SCO_BROKER_VISIBILITY_TIMEOUT_S": "10",
        },
        workdir=tmp_path,
    )
    yield pipe
    pipe.stop_all()


@pytest.fixture
def store(pg_url):
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def start_workers(pipeline: Pipeline) -> None:
    """The documented deployment: the metrics queue on one process keeps each series in order."""
    pipeline.start_worker("--queues", "metrics", "--concurrency", "1")
    pipeline.start_worker("--queues", "events", "--concurrency", "1")


def count(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(*where)
        ).scalar_one()


def flat_then_jump(end: datetime) -> tuple[list[int], list[float]]:
    """Four hundred calm points ending now, with a tenfold jump for ten points at 300."""
    start_ms = int(end.timestamp() * 1000) - POINTS * STEP_S * 1000
    values = 10 + 0.5 * np.sin(np.arange(POINTS) / 5.0)
    values[JUMP_AT : JUMP_AT + JUMP_LEN] = 100.0
    return [start_ms + i * STEP_S * 1000 for i in range(POINTS)], values.tolist()


def remote_write_body(labels, timestamps, values) -> bytes:
    request = WriteRequest()
    series = request.timeseries.add()
    for name, value in labels.items():
        series.labels.add(name=name, value=value)
    for timestamp, value in zip(timestamps, values):
        series.samples.add(timestamp=timestamp, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def send_like_prometheus(client, timestamps, values, per_request=100) -> None:
    headers = {
        "Content-Encoding": "snappy",
        "Content-Type": "application/x-protobuf",
        "X-Prometheus-Remote-Write-Version": "0.1.0",
    }
    for start in range(0, len(timestamps), per_request):
        body = remote_write_body(
            LABELS, timestamps[start : start + per_request], values[start : start + per_request]
        )
        answer = client.post("/api/v1/write", content=body, headers=headers)
        assert answer.status_code == 204, answer.text


def test_remote_write_is_scored_into_postgres_and_the_jump_becomes_an_incident(
    pipeline, store, redis_url
):
    pipeline.start_server()
    start_workers(pipeline)
    now = datetime.now(UTC).replace(microsecond=0)
    timestamps, values = flat_then_jump(now)
    with pipeline.client() as client:
        send_like_prometheus(client, timestamps, values)
    wait_for(
        lambda: count(store, anomaly_scores) == POINTS,
        90,
        f"{count(store, anomaly_scores)} of {POINTS} scores stored\n{pipeline.logs()}",
    )
    wait_for(
        lambda: count(store, incidents, incidents.c.alertname == "AnomalyDetected") == 1,
        30,
        f"no anomaly incident\n{pipeline.logs()}",
    )
    # The evidence is written in its own transaction just after the incident's: wait for it too.
    wait_for(
        lambda: count(store, audit_log, audit_log.c.kind == "incident.anomaly_evidence") == 1,
        30,
        f"no anomaly evidence\n{pipeline.logs()}",
    )
    jump_start = datetime.fromtimestamp(timestamps[JUMP_AT] / 1000, tz=UTC)
    with store.connect() as conn:
        flagged = (
            conn.execute(sa.select(anomaly_scores.c.ts).where(anomaly_scores.c.is_anomaly))
            .scalars()
            .all()
        )
        incident = conn.execute(
            sa.select(incidents).where(incidents.c.alertname == "AnomalyDetected")
        ).one()
        anomaly = conn.execute(sa.select(alerts).where(alerts.c.incident_id == incident.id)).one()
        kinds = (
            conn.execute(
                sa.select(audit_log.c.kind)
                .where(audit_log.c.incident_id == incident.id)
                .order_by(audit_log.c.seq)
            )
            .scalars()
            .all()
        )
        labels = conn.execute(sa.select(anomaly_series.c.labels)).scalar_one()
    assert flagged and min(flagged) == jump_start
    assert max(flagged) < jump_start + timedelta(seconds=STEP_S * JUMP_LEN)
    assert incident.service == "checkout" and anomaly.starts_at == jump_start
    assert kinds[:2] == ["incident.opened", "alert.firing"] and "incident.anomaly_evidence" in kinds
    assert labels == LABELS
    client = redis.Redis.from_url(redis_url)
    assert 0 < client.ttl(KEY_PREFIX + series_key(LABELS)) <= 3600


def test_an_alert_on_the_instance_gets_its_recent_anomaly_scores_attached(pipeline, store):
    pipeline.start_server()
    start_workers(pipeline)
    now = datetime.now(UTC).replace(microsecond=0)
    timestamps, values = flat_then_jump(now)
    with pipeline.client() as client:
        send_like_prometheus(client, timestamps, values, per_request=400)
        wait_for(
            lambda: count(store, anomaly_scores) == POINTS,
            90,
            f"scores not stored\n{pipeline.logs()}",
        )
        # The alert fires two minutes into the anomaly: evidence covers the 15 minutes before it on.
        starts_at = datetime.fromtimestamp(timestamps[JUMP_AT + 8] / 1000, tz=UTC)
        firing = alert(
            "HighLatency", "checkout", "web-1:9100", status="firing", starts_at=starts_at
        )
        assert client.post("/v1/alerts/alertmanager", json=webhook([firing])).status_code == 202
        wait_for(
            lambda: count(store, incident_anomaly) == 2,
            60,
            f"no evidence attached\n{pipeline.logs()}",
        )
        with store.connect() as conn:
            incident_id = conn.execute(
                sa.select(incidents.c.id).where(incidents.c.alertname == "HighLatency")
            ).scalar_one()
            evidence = conn.execute(
                sa.select(incident_anomaly).where(incident_anomaly.c.incident_id == incident_id)
            ).one()
        timeline = client.get(f"/v1/incidents/{incident_id}").json()["timeline"]
    lookback_points = 15 * 60 // STEP_S
    assert evidence.points == POINTS - (JUMP_AT + 8 - lookback_points)
    assert evidence.anomalous_points >= 1 and evidence.max_score >= 0.5
    assert evidence.top_series[0]["series_key"] == series_key(LABELS)
    # Recorded before any follow-up (risk assessment) is published for the incident.
    assert [row["kind"] for row in timeline][:3] == [
        "incident.opened",
        "alert.firing",
        "incident.anomaly_evidence",
    ]
