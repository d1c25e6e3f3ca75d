"""SIGKILL the worker tree again and again under a steady load: nothing acknowledged is lost or duplicated.

Real processes (server and Celery worker) on real Redis and PostgreSQL. SCO_FAULT_KILLS sets the
number of kills (20 by default, as the issue asks). The intake journal is swept often and after a
short bound here, so the test need not wait the production 15 minutes.
"""

from __future__ import annotations

import os
import random
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.outbox import outbox
from adapters.db.schema import alerts, incidents
from adapters.db.schema_remediation import risk_assessments
from smartcloudops.demo_payloads import alert, webhook
from tests.processes import Pipeline, wait_for

pytestmark = pytest.mark.e2e

KILLS = int(os.environ.get("SCO_FAULT_KILLS", "20"))


def count(engine, table, *where) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(*where)).scalar_one()


def test_sigkill_of_the_worker_tree_under_load_loses_nothing_and_assesses_every_incident(redis_url, pg_url,
                                                                                         tmp_path):
    pipeline = Pipeline(env={"SCO_BROKER_URL": redis_url, "SCO_DATABASE_URL": pg_url,
                             "SCO_BROKER_VISIBILITY_TIMEOUT_S": "10",
                             "SCO_INTAKE_JOURNAL_REPUBLISH_AFTER_S": "15",
                             "SCO_INTAKE_JOURNAL_SWEEP_INTERVAL_S": "2",
                             "SCO_OUTBOX_SWEEP_AFTER_S": "5", "SCO_OUTBOX_SWEEP_INTERVAL_S": "2"},
                        workdir=tmp_path)
    engine = create_engine(pg_url)
    accepted: list[int] = []
    refused: list[int] = []
    stop = threading.Event()
    start = datetime.now(timezone.utc) - timedelta(minutes=5)

    def load() -> None:  # unique alerts at ~10/s, each its own incident
        with pipeline.client() as client:
            n = 0
            while not stop.is_set():
                body = webhook([alert(f"Fault{n:05d}", f"svc-{n:05d}", f"i-{n:012x}", status="firing",
                                      starts_at=start + timedelta(milliseconds=n))])
                answer = client.post("/v1/alerts/alertmanager", json=body)
                (accepted if answer.status_code == 202 else refused).append(n)
                n += 1
                time.sleep(0.1)

    try:
        pipeline.start_server()
        worker = pipeline.start_worker("--concurrency", "2")
        sender = threading.Thread(target=load, daemon=True)
        sender.start()
        rng = random.Random(7)
        for _ in range(KILLS):
            time.sleep(rng.uniform(0.5, 2.5))
            worker.kill_hard()
            worker = pipeline.start_worker("--concurrency", "2")
        stop.set()
        sender.join(timeout=30)
        total = len(accepted)
        assert total > 0 and not refused, f"{len(refused)} requests refused"
        wait_for(lambda: count(engine, alerts) >= total, 180,
                 f"only {count(engine, alerts)}/{total} acknowledged alerts stored\n{pipeline.logs()[-4000:]}")
        assert count(engine, alerts) == total  # nothing lost, nothing duplicated (one row per unique alert)
        assert count(engine, incidents) == total
        wait_for(lambda: count(engine, risk_assessments) >= total, 120,
                 f"only {count(engine, risk_assessments)}/{total} incidents assessed")
        assert count(engine, risk_assessments) == total  # each assessed once
        assert count(engine, outbox) == 0
        verified = pipeline.run("audit", "verify")
        assert verified.returncode == 0, verified.stdout
        print(f"\nsigkill fault: {KILLS} kills, {total} alerts acknowledged, {count(engine, alerts)} stored, "
              f"{count(engine, risk_assessments)} assessed")
    finally:
        stop.set()
        pipeline.stop_all()
        engine.dispose()
