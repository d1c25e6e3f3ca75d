"""End to end on real processes: the server and Celery workers on Redis and PostgreSQL, over real HTTP."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta, timezone

import pytest
import redis
import sqlalchemy as sa
from celery import Celery

from adapters.db.engine import create_engine
from adapters.db.schema import alerts, audit_log, incidents
from smartcloudops.demo_payloads import alert, demo_story, webhook
from tests.processes import Pipeline, RedisServer, wait_for

pytestmark = pytest.mark.e2e

ALERT_PATH_KINDS = ("incident.opened", "alert.firing", "alert.resolved", "incident.resolved")


@pytest.fixture
def pipeline(redis_url, pg_url, tmp_path):
    pipe = Pipeline(env={"SCO_BROKER_URL": redis_url, "SCO_DATABASE_URL": pg_url,
                         "SCO_BROKER_VISIBILITY_TIMEOUT_S": "5"}, workdir=tmp_path)
    yield pipe
    pipe.stop_all()


@pytest.fixture
def store(pg_url):
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


def count(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_alert_story_becomes_incidents_and_a_verified_audit_trail(pipeline, store, request):
    pipeline.start_server()
    pipeline.start_worker()
    request.node.add_report_section("call", "processes", pipeline.logs())
    with pipeline.client() as client:
        for _, payload in demo_story():
            assert client.post("/v1/alerts/alertmanager", json=payload).status_code == 202
        wait_for(lambda: count(store, incidents, incidents.c.status == "resolved") == 1, 60,
                 f"checkout incident did not resolve\n{pipeline.logs()}")
        page = client.get("/v1/incidents").json()["items"]
    by_service = {i["service"]: i for i in page}
    assert by_service["checkout"]["status"] == "resolved" and by_service["checkout"]["alert_count"] == 2
    assert by_service["payments"]["status"] == "open" and by_service["payments"]["alert_count"] == 1
    assert count(store, alerts) == 3  # the repeated notification added nothing
    # 2 incident.opened + 3 alert.firing + 2 alert.resolved + 1 incident.resolved (follow-ups add their own)
    assert count(store, audit_log, audit_log.c.kind.in_(ALERT_PATH_KINDS)) == 8
    verified = pipeline.run("audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_trace_id_follows_the_alert_from_webhook_to_audit_row(pipeline, store):
    pipeline.start_server()
    pipeline.start_worker()
    trace = "0af7651916cd43dd8448eb211c80319c"
    payload = demo_story()[2][1]
    with pipeline.client() as client:
        answer = client.post("/v1/alerts/alertmanager", json=payload,
                             headers={"traceparent": f"00-{trace}-b7ad6b7169203331-01"})
        assert answer.json()["trace_id"] == trace
        wait_for(lambda: count(store, audit_log, audit_log.c.kind.in_(ALERT_PATH_KINDS)) == 2, 60,
                 "alert not recorded")
        incident = client.get("/v1/incidents").json()["items"][0]
        timeline = client.get(f"/v1/incidents/{incident['id']}").json()["timeline"]
    assert {row["trace_id"] for row in timeline} == {trace}
    worker_log = pipeline.procs[1].output()
    assert trace in worker_log and answer.json()["event_id"] in worker_log


def test_broker_outage_answers_503_then_recovers_with_nothing_lost(pg_url, store, tmp_path):
    broker = RedisServer(tmp_path)
    broker.start()
    pipe = Pipeline(env={"SCO_BROKER_URL": broker.url, "SCO_DATABASE_URL": pg_url,
                         "SCO_BROKER_PUBLISH_TIMEOUT_S": "1"}, workdir=tmp_path)
    try:
        pipe.start_server()
        payload = demo_story()[0][1]
        with pipe.client() as client:
            broker.stop()
            down = client.post("/v1/alerts/alertmanager", json=payload)
            assert down.status_code == 503, down.text
            assert client.get("/readyz").status_code == 503
            broker.start()
            wait_for(lambda: client.get("/readyz").status_code == 200, 30, "server did not see the broker return")
            assert client.post("/v1/alerts/alertmanager", json=payload).status_code == 202
        pipe.start_worker()
        wait_for(lambda: count(store, alerts) == 2, 60, f"alerts not recorded after recovery\n{pipe.logs()}")
        assert count(store, incidents) == 1
    finally:
        pipe.stop_all()
        broker.stop()


def test_sigkill_of_a_busy_worker_loses_nothing_and_duplicates_nothing(pipeline, store):
    pipeline.start_server()
    start = datetime.now(timezone.utc) - timedelta(minutes=30)
    batches, per_batch = 400, 20  # many: a worker commits up to 50 requests in one transaction
    with pipeline.client() as client:
        for n in range(batches):
            payload = webhook([alert("HighCPU", f"svc-{n:03d}", f"i-{n:08x}{i:09x}", status="firing",
                                     starts_at=start + timedelta(seconds=i)) for i in range(per_batch)])
            assert client.post("/v1/alerts/alertmanager", json=payload).status_code == 202
    total = batches * per_batch
    worker = pipeline.start_worker("--concurrency", "2")
    wait_for(lambda: count(store, alerts) >= per_batch, 60, "worker never started processing")
    worker.kill_hard()
    recorded_at_kill = count(store, alerts)
    assert recorded_at_kill < total, "the worker finished before it could be killed; raise the batch count"
    pipeline.start_worker("--concurrency", "2")
    wait_for(lambda: count(store, alerts) == total, 120,
             f"only {count(store, alerts)}/{total} alerts after restart\n{pipeline.logs()}")
    assert count(store, incidents) == batches
    # one incident.opened per batch, one alert.firing row per alert
    assert count(store, audit_log, audit_log.c.kind.in_(ALERT_PATH_KINDS)) == batches + total
    verified = pipeline.run("audit", "verify")
    assert verified.returncode == 0, verified.stdout


def test_poison_message_goes_to_the_dead_letter_queue_with_an_audit_row(pipeline, store, redis_url):
    pipeline.start_worker()
    sender = Celery(broker=redis_url)
    sender.conf.broker_connection_retry_on_startup = True
    sender.send_task("alerts.record_batch", args=[{"specversion": "1.0", "id": "poison-1", "data": "not a batch"}],
                     queue="events")
    wait_for(lambda: count(store, audit_log, audit_log.c.kind == "message.dead_lettered") == 1, 60,
             f"poison message was not dead-lettered\n{pipeline.logs()}")
    # The audit row commits first, then the letter is parked.
    wait_for(lambda: redis.Redis.from_url(redis_url).llen("dead_letter") > 0, 10, "audited but never parked")
    parked = redis.Redis.from_url(redis_url).lrange("dead_letter", 0, -1)
    assert len(parked) == 1
    body = json.loads(base64.b64decode(json.loads(parked[0])["body"]))
    assert body["task"] == "alerts.record_batch" and body["event"]["id"] == "poison-1"
    assert "InvalidInput" in body["error"]
    assert pipeline.procs[0].popen.poll() is None, "the worker must survive a poison message"
    sender.close()
