"""Lines that only read are answered where they arrive; every other line still goes to the chat queue.

`ChatHandler.answer_read` answers a read exactly as a worker would and remembers what it showed; it
answers nothing that acts, is refused or asks back. The endpoints give that answer in the response
(Slack; an API caller waiting with no response_url) and publish nothing for it; when it cannot answer,
the line is queued as before.
"""

from __future__ import annotations

import time

import pytest
from chat_bench import NOW, OPERATOR, RESPONSE_URL, VIEWER
from starlette.testclient import TestClient
from test_chat_endpoint import SECRET, TOKEN, signed_post, slash_form
from test_chat_flow import audit, open_incident, waiting_run

from adapters.observability import metrics
from config.settings import load_settings
from consumers.app import create_app
from consumers.chat import HANDLE_CHAT_COMMAND
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from pipeline.events import envelope
from services.chat import INTENT_HANDLERS, READ_INTENTS
from services.chat_reads import EdgeChatReads, ModelNotReady
from services.ports import InMemoryChatAnswers, InMemoryReplayGuard

READ_LINES = ("status", "status of checkout", "list incidents", "what's on fire", "help", "history checkout",
              "show incident {incident}", "why {incident}")
WRITE_LINES = ("restart checkout", "ack {incident}", "silence HighCPU on checkout for 2h", "approve {incident}",
               "escalate {incident}")


def test_the_read_intents_are_intents_the_handler_serves():
    assert READ_INTENTS < set(INTENT_HANDLERS)
    assert not READ_INTENTS & {"ack", "escalate", "silence", "unsilence", "remediate", "approve", "deny"}


@pytest.mark.parametrize("line", READ_LINES)
def test_a_read_is_answered_as_the_worker_would_answer_it(bench, line):
    text = line.format(incident=open_incident(bench))
    here = bench.handler.answer_read(bench.command(text), NOW)
    assert here is not None and here.allowed and here.intent in READ_INTENTS
    bench.handler.handle(bench.command(text), NOW)
    assert here.message == bench.responder.posted[-1][1]
    assert bench.published == [] and audit(bench, "chat.refused") == []


@pytest.mark.parametrize("line", WRITE_LINES)
def test_a_line_that_acts_is_left_to_the_queue_untouched(bench, line):
    incident = open_incident(bench)
    waiting_run(bench, incident)
    before = (bench.contexts.get(OPERATOR, "C0OPS"), len(audit(bench)))
    assert bench.handler.answer_read(bench.command(line.format(incident=incident)), NOW) is None
    assert (bench.contexts.get(OPERATOR, "C0OPS"), len(audit(bench))) == before
    assert bench.published == [] and bench.responder.posted == []


def test_a_refused_line_is_left_to_the_worker_which_audits_the_refusal(bench):
    assert bench.handler.answer_read(bench.command("restart checkout", user=VIEWER), NOW) is None
    assert audit(bench, "chat.refused") == []
    bench.handler.handle(bench.command("restart checkout", user=VIEWER), NOW)
    assert len(audit(bench, "chat.refused")) == 1


def test_what_a_read_showed_is_what_the_next_line_means_by_it(bench):
    incident = open_incident(bench)
    waiting_run(bench, incident)
    shown = bench.handler.answer_read(bench.command(f"show incident {incident}"), NOW)
    assert shown is not None and "waits for approval" in str(shown.message)
    context = bench.contexts.get(OPERATOR, "C0OPS")
    assert context.last_incident == incident and context.pending_approval == incident
    bench.handler.handle(bench.command("ack it"), NOW)  # the worker's next line reads that context
    [acked] = audit(bench, "incident.acknowledged")
    assert acked["incident_id"] == incident


# -- the endpoints ----------------------------------------------------------------------------------


@pytest.fixture
def served(bench, tmp_path):
    settings = load_settings(data_dir=tmp_path, api_token=TOKEN, api_token_role="operator",
                             slack_signing_secret=SECRET, chat_response_url_hosts="hooks.slack.com,127.0.0.1")
    publisher = InMemoryPublisher()
    reads = EdgeChatReads(lambda: bench.handler, clock=lambda: NOW)
    deps = ApiDeps(settings=settings, publisher=publisher, chat_replay_guard=InMemoryReplayGuard(time.time),
                   chat_answers=InMemoryChatAnswers(), chat_reads=reads)
    with TestClient(create_app(deps)) as client:
        yield client, publisher, deps


def _slack(client, text):
    return signed_post(client, slash_form(text=text, trigger_id=f"edge.{time.time_ns()}"))


def test_slack_gets_a_read_in_the_response_and_nothing_is_queued(bench, served):
    client, publisher, _ = served
    open_incident(bench)
    before = metrics.chat_edge_answers._value.get()
    response = _slack(client, "status of checkout")
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["response_type"] == "in_channel"
    assert answer["blocks"][0]["text"]["text"] == "Status of checkout"
    assert publisher.sent == [] and bench.responder.posted == []
    assert metrics.chat_edge_answers._value.get() == before + 1


def test_slack_gets_an_acknowledgement_for_a_line_that_acts_and_it_is_queued(served):
    client, publisher, _ = served
    response = _slack(client, "restart checkout")
    assert response.status_code == 200 and "Working on: restart checkout" in response.json()["text"]
    [(task, event)] = publisher.sent
    assert task == HANDLE_CHAT_COMMAND and event.data["text"] == "restart checkout"


def test_a_waiting_api_caller_without_response_url_gets_the_read_at_once(served):
    client, publisher, _ = served
    response = client.post("/v1/chat/command", headers={"authorization": f"Bearer {TOKEN}"},
                           json={"channel": "C0OPS", "text": "list incidents", "wait": True})
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"event_id", "trace_id", "answer"} and "text" in response.json()["answer"]
    assert publisher.sent == []


@pytest.mark.parametrize("extra", [{"wait": 0.1, "response_url": RESPONSE_URL}, {}],
                         ids=["waiting-with-a-response-url", "not-waiting"])
def test_an_api_caller_that_did_not_ask_to_wait_here_is_answered_by_the_worker(served, extra):
    client, publisher, _ = served
    response = client.post("/v1/chat/command", headers={"authorization": f"Bearer {TOKEN}"},
                           json={"channel": "C0OPS", "text": "list incidents", **extra})
    assert response.status_code == 202, response.text
    assert [task for task, _ in publisher.sent] == [HANDLE_CHAT_COMMAND]


def test_when_the_read_fails_the_line_is_queued_instead_of_failing(served, bench):
    client, publisher, _ = served

    def store_down(*_args, **_kwargs):
        raise ConnectionError("database unreachable")

    bench.handler.incidents = replace_list(bench.handler.incidents, store_down)
    response = _slack(client, "list incidents")
    assert response.status_code == 200 and "Working on: list incidents" in response.json()["text"]
    assert [task for task, _ in publisher.sent] == [HANDLE_CHAT_COMMAND]


def replace_list(incidents, list_):
    class Broken:
        def __getattr__(self, name):
            return getattr(incidents, name)

        list = staticmethod(list_)

    return Broken()


def test_until_the_model_is_trained_every_line_goes_to_the_queue(bench):
    ready = []

    def build():
        if not ready:
            raise ModelNotReady("no weights yet")
        return bench.handler

    reads = EdgeChatReads(build, clock=lambda: NOW)
    line = envelope("dev.smartcloudops.chat.command.received", "urn:test",
                    {"user": OPERATOR, "channel": "C0OPS", "text": "help", "response_url": None, "source": "slack"},
                    event_id="e1", trace_id="t", now=NOW)
    assert reads.answer(line) is None
    ready.append(True)
    assert "text" in (reads.answer(line) or {})


def test_a_read_slower_than_slacks_budget_is_queued_and_answered_by_the_worker(bench, tmp_path, monkeypatch):
    monkeypatch.setattr("consumers.chat.EDGE_READ_BUDGET_S", 0.2)
    reads = EdgeChatReads(lambda: bench.handler, clock=lambda: NOW)

    class SlowStore:
        def answer(self, event):
            time.sleep(1.0)  # a store that answers, but too late for Slack
            return reads.answer(event)

    settings = load_settings(data_dir=tmp_path, slack_signing_secret=SECRET, chat_response_url_hosts="hooks.slack.com")
    publisher = InMemoryPublisher()
    deps = ApiDeps(settings=settings, publisher=publisher, chat_replay_guard=InMemoryReplayGuard(time.time),
                   chat_reads=SlowStore())
    with TestClient(create_app(deps)) as client:
        started = time.monotonic()
        response = _slack(client, "list incidents")
        assert time.monotonic() - started < 0.9
    assert response.status_code == 200 and "Working on: list incidents" in response.json()["text"]
    assert [task for task, _ in publisher.sent] == [HANDLE_CHAT_COMMAND]


def test_the_server_answers_reads_one_at_a_time(bench, tmp_path):
    """Reads share one thread (EDGE_READ_THREADS): threads fighting for the GIL cost more than they gave."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    reads = EdgeChatReads(lambda: bench.handler, clock=lambda: NOW)
    running, peak, lock = [0], [0], threading.Lock()

    class Counted:
        def answer(self, event):
            with lock:
                running[0] += 1
                peak[0] = max(peak[0], running[0])
            try:
                time.sleep(0.05)
                return reads.answer(event)
            finally:
                with lock:
                    running[0] -= 1

    settings = load_settings(data_dir=tmp_path, slack_signing_secret=SECRET, chat_response_url_hosts="hooks.slack.com")
    publisher = InMemoryPublisher()
    deps = ApiDeps(settings=settings, publisher=publisher, chat_replay_guard=InMemoryReplayGuard(time.time),
                   chat_reads=Counted())
    with TestClient(create_app(deps)) as client, ThreadPoolExecutor(6) as pool:
        answers = list(pool.map(lambda _: _slack(client, "help"), range(6)))
    assert [a.status_code for a in answers] == [200] * 6
    assert all("Working on" not in a.json()["text"] for a in answers) and publisher.sent == []
    assert peak[0] == 1
