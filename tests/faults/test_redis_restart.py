"""Redis (append-only file, as an operator runs it) restarted twice under a steady load of unique alerts:
every alert answered 202 is stored once and assessed once; while Redis is down the webhook says 503.

Real processes (server and Celery worker) on a private redis-server this test starts and stops, and
a PostgreSQL database of its own.
"""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.outbox import outbox
from adapters.db.schema import incidents
from adapters.db.schema_remediation import risk_assessments
from tests.faults.steady_load import SteadyAlerts, stored_alertnames
from tests.processes import Pipeline, RedisServer, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

RESTARTS, UP_S, DOWN_S = 2, 8.0, 10.0


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def test_redis_restarted_twice_under_load_loses_and_duplicates_nothing(pg_url, tmp_path):
    redis = RedisServer(tmp_path / "redis", aof=True)
    (tmp_path / "redis").mkdir()
    redis.start()
    pipeline = Pipeline(env={"SCO_BROKER_URL": redis.url, "SCO_DATABASE_URL": pg_url,
                             "SCO_BROKER_PUBLISH_TIMEOUT_S": "1", "SCO_BROKER_VISIBILITY_TIMEOUT_S": "30",
                             "SCO_INTAKE_JOURNAL_REPUBLISH_AFTER_S": "20",
                             "SCO_INTAKE_JOURNAL_SWEEP_INTERVAL_S": "2",
                             "SCO_OUTBOX_SWEEP_AFTER_S": "5", "SCO_OUTBOX_SWEEP_INTERVAL_S": "2"},
                        workdir=tmp_path)
    engine = create_engine(pg_url)
    try:
        pipeline.start_server()
        worker = pipeline.start_worker("--concurrency", "2")
        with SteadyAlerts(pipeline, "RedisRestart") as load:
            for _ in range(RESTARTS):
                time.sleep(UP_S)
                redis.stop()
                time.sleep(DOWN_S)
                redis.start()
            time.sleep(UP_S)
        accepted = set(load.accepted)
        assert accepted and set(load.answers) <= {202, 503}, f"answers: {dict(load.answers)}"
        assert load.answers[503] > 0, "the outage was never seen: the load did not overlap it"

        def stored() -> int:
            return len(set(stored_alertnames(engine, "RedisRestart")) & accepted)

        wait_for(lambda: stored() == len(accepted), 120,
                 f"only {stored()}/{len(accepted)} acknowledged alerts stored\n{pipeline.logs()[-5000:]}")
        names = stored_alertnames(engine, "RedisRestart")
        assert set(names) >= accepted and max(names.values()) == 1  # nothing lost, nothing stored twice
        wait_for(lambda: count(engine, risk_assessments) >= count(engine, incidents), 120,
                 f"only {count(engine, risk_assessments)}/{count(engine, incidents)} incidents assessed")
        assert count(engine, risk_assessments) == count(engine, incidents) == len(names)
        wait_for(lambda: count(engine, outbox) == 0, 30, "the outbox did not drain")
        assert worker.popen.poll() is None, f"the worker died on a Redis restart:\n{worker.output()}"
        print(f"\nredis restart fault: {RESTARTS} restarts of {DOWN_S:.0f} s, answers {dict(load.answers)}, "
              f"{len(accepted)} acknowledged, {len(names)} stored, {count(engine, risk_assessments)} assessed")
    finally:
        pipeline.stop_all()
        redis.stop()
        engine.dispose()
