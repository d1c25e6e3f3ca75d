"""A chain link lost with a SIGKILLed worker: the stalled-run restart finishes the run, each step once.

The links of a remediation chain are published by Celery itself, outside the intake journal, so a
worker killed inside kombu's BRPOP-to-unacked window loses the next link and nothing re-publishes
it. This test makes that loss certain instead of waiting for it: a two-step run (restart the unit
over SSM, then reboot the instance) has its first step succeeded and its second executed and being
verified; the worker tree is stopped (SIGSTOP), every remediation link is deleted from the queue
and from kombu's `unacked` hash, and the tree is SIGKILLed. The restarted worker, with a short
stall bound, must find the quiet run and start its chain again from the unfinished step.

Real processes (server, Celery worker) on real Redis and PostgreSQL; AWS is moto's server.
"""

from __future__ import annotations

import json
import os
import signal
import time
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
import yaml

from adapters.db.engine import create_engine
from adapters.db.schema import audit_log
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from tests.integration.remediation.remediation_stack import DOCUMENT, REGION, T0, alert, build_estate, webhook
from tests.conftest import moto_server
from tests.processes import Pipeline, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

SETTLE_S = 5  # each verification waits this long first: the window in which the worker is stopped
STALL_AFTER_S = 4  # the restarted worker's bound: a run quiet this long has its chain started again


@pytest.fixture
def moto_url():
    # moto's backends live in this process: reset what earlier suites created (their SSM document).
    with moto_server(reset=True) as url:
        yield url


def two_step_policy(path) -> None:
    """One rule with two actions on the instance, each run without approval."""
    policy = yaml.safe_load(path.read_text())
    policy["risk"]["thresholds"] = {"auto_below": 99, "notify_at": 100}
    policy["rules"] = [{
        "name": "restart-then-reboot",
        "match": {"alertnames": ["InstanceDown"]},
        "actions": [{"action": "ssm_run_command", "document": DOCUMENT, "unit": "opensearch.service"},
                    {"action": "ec2_reboot"}],
    }]
    path.write_text(yaml.safe_dump(policy))


def remediation_links(client: redis.Redis) -> list[tuple[str, bytes]]:
    """Every remediation message waiting in its queue or taken but unacknowledged: (where, raw)."""
    found = [("queue", raw) for raw in client.lrange("remediation", 0, -1)]
    found += [("unacked", tag) for tag, raw in client.hgetall("unacked").items()
              if json.loads(raw)[0]["headers"]["task"].startswith("remediation.")]
    return found


def lose(client: redis.Redis, links: list[tuple[str, bytes]]) -> None:
    """Delete the links as kombu's BRPOP window would: from the queue, and from the unacked hash."""
    for where, key in links:
        if where == "queue":
            client.lrem("remediation", 0, key)
        else:
            client.hdel("unacked", key)
            client.zrem("unacked_index", key)


def test_a_run_whose_next_chain_link_died_with_its_worker_finishes_after_restart(redis_url, pg_url, moto_url,
                                                                                  tmp_path):
    started = time.monotonic()
    estate = build_estate(moto_url, tmp_path)
    two_step_policy(estate.files["policy"])
    pipeline = Pipeline(env={
        "SCO_BROKER_URL": redis_url, "SCO_REDIS_URL": redis_url, "SCO_DATABASE_URL": pg_url,
        "SCO_REMEDIATION_MODE": "execute", "SCO_AWS_ENDPOINT_URL": moto_url, "SCO_AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": REGION,
        "SCO_CATALOG_PATH": str(estate.files["catalog"]), "SCO_POLICY_PATH": str(estate.files["policy"]),
        "SCO_ROLES_PATH": str(estate.files["roles"]),
        "SCO_REMEDIATION_VERIFY_SETTLE_S": str(SETTLE_S), "SCO_REMEDIATION_VERIFY_TIMEOUT_S": "20",
        "SCO_REMEDIATION_VERIFY_POLL_S": "0.2", "SCO_CORRELATION_WINDOW_S": "1",
        "SCO_BROKER_VISIBILITY_TIMEOUT_S": "10", "SCO_WORKER_METRICS_PORT": "0"}, workdir=tmp_path)
    engine = create_engine(pg_url)
    client = redis.Redis.from_url(redis_url)

    def steps() -> list:
        with engine.connect() as conn:
            return conn.execute(sa.select(remediation_steps).order_by(remediation_steps.c.step_index)).all()

    def run():
        with engine.connect() as conn:
            return conn.execute(sa.select(remediation_runs)).one_or_none()

    try:
        pipeline.start_server()
        worker = pipeline.start_worker("--concurrency", "2")
        instance = estate.search[0]
        with pipeline.client() as http:
            answer = http.post("/v1/alerts/alertmanager",
                               json=webhook([alert("InstanceDown", instance, at=T0 + timedelta(minutes=1))]))
        assert answer.status_code == 202, answer.text

        # Step 0 done and step 1 executed: its verify link is taken and sleeping through the settle.
        # (and the links before it acknowledged: under load the record link's ack can trail its commit)
        wait_for(lambda: [s.state for s in steps()] == ["succeeded", "executed"]
                 and len(remediation_links(client)) == 1, 60,
                 f"the run never reached its second step's verification: {[s.state for s in steps()]}\n"
                 f"{pipeline.logs()[-4000:]}", interval=0.1)
        os.killpg(worker.popen.pid, signal.SIGSTOP)
        links = remediation_links(client)
        assert [where for where, _ in links] == ["unacked"], links  # the verify link, nothing else
        lose(client, links)
        worker.kill_hard()
        assert remediation_links(client) == [] and run().state == "running"
        assert [s.state for s in steps()] == ["succeeded", "executed"]  # killed mid-verify: nothing recorded it

        restarted = pipeline.start_worker("--concurrency", "2", extra_env={
            "SCO_REMEDIATION_STALL_AFTER_S": str(STALL_AFTER_S), "SCO_REMEDIATION_STALL_CHECK_INTERVAL_S": "1"})
        wait_for(lambda: run().state != "running", 60,
                 f"the run never finished after the restart: {run().state}\n{restarted.output()[-4000:]}")

        assert run().state == "succeeded", run().reason
        assert [s.state for s in steps()] == ["succeeded", "succeeded"]
        assert "remediation.run_stalled" in restarted.log.read_text()  # restarted by the stall check
        with engine.connect() as conn:
            kinds = [json.loads(body)["kind"] for body in conn.execute(
                sa.select(audit_log.c.body).order_by(audit_log.c.seq)).scalars()]
        for kind in ("remediation.step_executed", "remediation.step_verified"):
            assert kinds.count(kind) == 2, (kind, kinds)  # once per step: nothing acted or was verified twice
        assert kinds.count("remediation.run_succeeded") == 1
        assert "message.dead_lettered" not in kinds
        elapsed = time.monotonic() - started
        print(f"\nchain-link fault: run succeeded {elapsed:.0f} s after the alert, each of 2 steps executed and "
              f"verified once")
    finally:
        for proc in pipeline.procs:  # a stopped tree would not hear SIGTERM
            if proc.popen.poll() is None:
                os.killpg(proc.popen.pid, signal.SIGCONT)
        pipeline.stop_all()
        engine.dispose()
        client.close()
