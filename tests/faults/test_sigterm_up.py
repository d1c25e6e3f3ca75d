"""SIGTERM to `smartcloudops up` under a steady alert load: it stops its workers, exits 0, and loses nothing.

`docker stop` and systemd send SIGTERM to the main process only. `up` must forward it to its workers,
wait for their warm shutdown (running tasks finish, reserved messages go back to the broker) and exit
0 itself; an alert the webhook acknowledged is then either stored or still on the broker, and a
restarted `up` stores it, once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.schema import alerts, incidents
from smartcloudops.demo_payloads import alert, webhook
from tests.processes import Pipeline, _healthy, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(420)]


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


def start_up(pipeline: Pipeline):
    proc = pipeline.start("up", "up")
    wait_for(lambda: _healthy(pipeline.base_url) or proc.popen.poll() is not None, 120,
             f"up did not come up:\n{proc.output()}")
    assert proc.popen.poll() is None, f"up exited:\n{proc.output()}"
    return proc


def test_sigterm_stops_up_and_its_workers_cleanly_and_loses_no_acknowledged_alert(redis_url, pg_url, tmp_path):
    pipeline = Pipeline(env={"SCO_BROKER_URL": redis_url, "SCO_REDIS_URL": redis_url, "SCO_DATABASE_URL": pg_url,
                             "SCO_WORKER_METRICS_PORT": "0", "SCO_SHUTDOWN_TIMEOUT_S": "60"},
                        workdir=tmp_path)
    engine = create_engine(pg_url)
    accepted: list[int] = []
    stop = threading.Event()
    start = datetime.now(timezone.utc) - timedelta(minutes=5)

    def load() -> None:  # unique alerts, five per request, each alert its own incident
        with pipeline.client() as client:
            n = 0
            while not stop.is_set():
                batch = [alert(f"Term{n + i:05d}", f"svc-{n + i:05d}", f"i-{n + i:012x}", status="firing",
                               starts_at=start + timedelta(milliseconds=n + i)) for i in range(5)]
                try:
                    answer = client.post("/v1/alerts/alertmanager", json=webhook(batch))
                except httpx.TransportError:
                    time.sleep(0.05)  # the server is gone: what it did not acknowledge is not counted
                    continue
                if answer.status_code == 202:
                    accepted.extend(range(n, n + 5))
                n += 5
                time.sleep(0.02)

    try:
        up = start_up(pipeline)
        sender = threading.Thread(target=load, daemon=True)
        sender.start()
        wait_for(lambda: count(engine, alerts) >= 50, 120, f"nothing stored under load\n{pipeline.logs()[-3000:]}")

        os.kill(up.popen.pid, signal.SIGTERM)  # the main process only, as docker stop does
        try:
            code = up.popen.wait(timeout=90)
        except subprocess.TimeoutExpired:
            pytest.fail(f"up did not exit within 90 s of SIGTERM\n{up.output()}")
        stop.set()
        sender.join(timeout=30)
        assert code == 0, f"up exited {code}\n{up.output()}"
        # Its workers finished before it did: nothing of the process group outlives `up`.
        assert not group_alive(up.popen.pid), "a worker outlived `up`"
        stored_at_stop = count(engine, alerts)

        total = len(accepted)
        assert total > 0
        start_up(pipeline)  # the same broker and database: what was left on the broker is stored now
        wait_for(lambda: count(engine, alerts) >= total, 180,
                 f"only {count(engine, alerts)}/{total} acknowledged alerts stored\n{pipeline.logs()[-4000:]}")
        time.sleep(2)  # a duplicate, had there been one, would show up now
        assert count(engine, alerts) == total  # nothing lost, nothing stored twice
        assert count(engine, incidents) == total
        verified = pipeline.run("audit", "verify")
        assert verified.returncode == 0, verified.stdout
        print(f"\nsigterm fault: {total} alerts acknowledged, {stored_at_stop} stored before exit, all stored after")
    finally:
        stop.set()
        pipeline.stop_all()
        engine.dispose()
