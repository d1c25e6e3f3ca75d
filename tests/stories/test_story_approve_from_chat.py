"""Story (a): an alert becomes an incident whose plan needs approval; the approver looks at it in chat,
says "approve it", and sees the dry run finish, in chat and on the incident.

Real processes: `smartcloudops up` (migrate, server, workers) on a private Redis and a fresh
PostgreSQL database, AWS emulated by moto's server, Slack's response_url by a local sink.
"""

from __future__ import annotations

import json
import time

import pytest
import sqlalchemy as sa
from remediation_stack import APPROVER, REGION, T0, alert, build_estate, webhook

from adapters.db.engine import create_engine
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_remediation import remediation_runs, remediation_steps
from tests.integration.chat.chat_harness import SIGNING_SECRET, answered_here, slack_command
from tests.processes import Pipeline, wait_for
from tests.stories.recipe import start_recipe

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(240)]


def story_env(redis_url: str, pg_url: str, moto_url: str, files: dict) -> dict[str, str]:
    return {
        "SCO_BROKER_URL": redis_url,
        "SCO_REDIS_URL": redis_url,
        "SCO_DATABASE_URL": pg_url,
        "SCO_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SCO_CHAT_RESPONSE_URL_HOSTS": "hooks.slack.com,127.0.0.1",
        "SCO_CATALOG_PATH": str(files["catalog"]),
        "SCO_POLICY_PATH": str(files["policy"]),
        "SCO_ROLES_PATH": str(files["roles"]),
        "SCO_AWS_ENDPOINT_URL": moto_url,
        "SCO_AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SCO_WORKER_CONCURRENCY": "2",
        "SCO_WORKER_METRICS_PORT": "0",
        "SCO_CORRELATION_WINDOW_S": "1",
        "SCO_LOG_LEVEL": "INFO",
    }


def say(pipe: Pipeline, sink, text: str, tag: str) -> dict:
    with pipe.client() as client:
        response = slack_command(client, text, user=APPROVER, response_url=sink.url(f"/story/{tag}"))
    assert response.status_code == 200, response.text
    if (here := answered_here(response)) is not None:
        return here  # a read: the server answered it in the response
    path, answer = sink.next_answer(timeout=45)
    assert path == f"/story/{tag}", (path, answer)
    return answer


def test_story_a_alert_to_an_approved_dry_run_that_finishes_and_is_told_in_chat(
    private_redis, pg_url, moto_url, sink, tmp_path, request
) -> None:
    estate = build_estate(moto_url, tmp_path)
    pipe = Pipeline(env=story_env(private_redis, pg_url, moto_url, estate.files), workdir=tmp_path)
    up = start_recipe(pipe)  # the README's recipe: db upgrade, then up
    engine = create_engine(pg_url)
    started = time.monotonic()
    try:
        wait_for(lambda: _healthy(pipe), 90, f"`smartcloudops up` did not serve\n{up.output()}")
        instance = estate.search[0]
        with pipe.client() as client:
            answer = client.post("/v1/alerts/alertmanager", json=webhook([alert("DiskFull", instance, at=T0)]))
        assert answer.status_code == 202, answer.text

        def waiting_run():
            with engine.connect() as conn:
                return conn.execute(sa.select(remediation_runs).where(
                    remediation_runs.c.state == "awaiting_approval")).first()

        wait_for(lambda: waiting_run() is not None, 90, f"no run awaits approval\n{pipe.logs()}")
        run = waiting_run()
        incident_id = run.incident_id

        shown = say(pipe, sink, f"show incident {incident_id}", "show")
        assert "waits for approval" in json.dumps(shown), shown

        submitted = say(pipe, sink, "approve it", "approve")
        assert f"incident #{incident_id}'s remediation submitted" in submitted["text"]
        _, decided = sink.next_answer(timeout=60)
        assert decided["text"].startswith(f"Approved: run #{run.id} of incident #{incident_id}"), decided
        _, finished = sink.next_answer(timeout=90)
        assert f"Remediation run #{run.id} of incident #{incident_id} succeeded (dry_run)" in finished["text"]

        with engine.connect() as conn:
            state = conn.execute(sa.select(remediation_runs.c.state).where(
                remediation_runs.c.id == run.id)).scalar_one()
            [step] = conn.execute(sa.select(remediation_steps).where(remediation_steps.c.run_id == run.id)).all()
            kinds = [json.loads(b)["kind"] for b in conn.execute(
                sa.select(audit_log.c.body).order_by(audit_log.c.seq)).scalars()]
            assert conn.execute(sa.select(incidents.c.status).where(
                incidents.c.id == incident_id)).scalar_one() == "open"
        assert state == "succeeded" and step.state == "succeeded"
        assert step.observed["alert"] == "still firing at verification: DiskFull (a dry run changed nothing)"
        for kind in ("remediation.approved", "remediation.step_dry_run", "remediation.step_verified",
                     "remediation.run_succeeded"):
            assert kind in kinds, (kind, kinds)
        assert "message.dead_lettered" not in kinds
        assert time.monotonic() - started < 200
    finally:
        request.node.add_report_section("call", "processes", pipe.logs())
        pipe.stop_all()
        engine.dispose()


def _healthy(pipe: Pipeline) -> bool:
    import httpx

    try:
        return httpx.get(f"{pipe.base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
