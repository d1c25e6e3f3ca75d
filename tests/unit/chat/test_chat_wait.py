"""`POST /v1/chat/command` with `"wait"`: the caller reads the worker's answer in the response."""

from __future__ import annotations

import threading

import pytest
from starlette.testclient import TestClient

from adapters.chat_answers import SqliteChatAnswers
from config.settings import load_settings
from consumers.app import create_app
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from services.ports import InMemoryChatAnswers

TOKEN = "api-token-for-chat-wait-tests"
HEADERS = {"authorization": f"Bearer {TOKEN}"}


class AnsweringPublisher(InMemoryPublisher):
    """Stands in for the broker and a worker: every published line is answered from another thread."""

    def __init__(self, answers, reply: dict | None) -> None:
        super().__init__()
        self.answers, self.reply = answers, reply

    def publish(self, task, event) -> None:
        super().publish(task, event)
        if self.reply is not None and event.data.get("wait"):
            threading.Timer(0.05, self.answers.put, (event.id, {**self.reply, "for": event.id}, 60)).start()


def client_for(tmp_path, answers, reply):
    settings = load_settings(data_dir=tmp_path, api_token=TOKEN, api_token_role="operator")
    publisher = AnsweringPublisher(answers, reply)
    return TestClient(create_app(ApiDeps(settings=settings, publisher=publisher, chat_answers=answers))), publisher


@pytest.mark.parametrize("box", ["memory", "sqlite"])
def test_wait_returns_the_workers_answer(tmp_path, box):
    answers = InMemoryChatAnswers() if box == "memory" else SqliteChatAnswers(tmp_path / "answers.sqlite")
    client, publisher = client_for(tmp_path, answers, {"text": "3 incidents open"})
    with client:
        response = client.post("/v1/chat/command", headers=HEADERS,
                               json={"channel": "C0OPS", "text": "what's on fire", "wait": True})
    assert response.status_code == 200, response.text
    [(_, event)] = publisher.sent
    assert response.json()["answer"] == {"text": "3 incidents open", "for": event.id}
    assert event.data["wait"] is True


def test_wait_gives_up_with_202_when_no_answer_comes(tmp_path):
    client, _ = client_for(tmp_path, InMemoryChatAnswers(), None)
    with client:
        response = client.post("/v1/chat/command", headers=HEADERS,
                               json={"channel": "C0OPS", "text": "status", "wait": 0.2})
    assert response.status_code == 202 and "answer" not in response.json()


def test_without_wait_the_line_is_only_published(tmp_path):
    client, publisher = client_for(tmp_path, InMemoryChatAnswers(), {"text": "never read"})
    with client:
        response = client.post("/v1/chat/command", headers=HEADERS, json={"channel": "C0OPS", "text": "status"})
    assert response.status_code == 202 and publisher.sent[0][1].data["wait"] is False


@pytest.mark.parametrize("wait", ["yes", -1, 31, [1]])
def test_a_bad_wait_is_a_422_naming_the_field(tmp_path, wait):
    client, publisher = client_for(tmp_path, InMemoryChatAnswers(), None)
    with client:
        response = client.post("/v1/chat/command", headers=HEADERS,
                               json={"channel": "C0OPS", "text": "status", "wait": wait})
    assert response.status_code == 422 and "wait" in response.text and not publisher.sent


def test_the_handler_leaves_its_answer_for_a_waiting_caller(bench):
    answers = InMemoryChatAnswers()
    bench.handler.chat.answers = answers
    command = bench.command("help")
    from dataclasses import replace

    bench.handler.handle(replace(command, wait=True), bench_now())
    assert "text" in (answers.wait(command.event_id, 1.0) or {})
    bench.handler.handle(bench.command("help"), bench_now())
    assert answers.wait("chat-2", 0.05) is None  # not asked to wait: nothing is left behind


def bench_now():
    from chat_bench import NOW

    return NOW


def test_sqlite_answers_are_taken_once_and_expire(tmp_path):
    box = SqliteChatAnswers(tmp_path / "a.sqlite", poll_s=0.01)
    box.put("e1", {"text": "hi"}, 60)
    assert box.wait("e1", 0.1) == {"text": "hi"}
    assert box.wait("e1", 0.05) is None


def test_the_edge_passes_the_role_the_callers_key_grants(tmp_path):
    """roles.yaml cannot know an API key: the worker needs the key's role to authorize the line."""
    client, publisher = client_for(tmp_path, InMemoryChatAnswers(), None)
    with client:
        client.post("/v1/chat/command", headers=HEADERS, json={"channel": "C0OPS", "text": "ack 3"})
    assert publisher.sent[0][1].data["granted_roles"] == ["operator"]


def test_a_line_from_an_operator_key_may_ack_though_roles_yaml_does_not_name_it(bench):
    from dataclasses import replace

    from pipeline.nlu.authz import Role

    key_user = "api-token"
    refused = bench.handler.handle(bench.command("help", user=key_user), bench_now())
    assert refused.allowed  # reading is open to viewers: the user exists and is a viewer by default
    plain = bench.handler.handle(bench.command("ack 1", user=key_user), bench_now())
    granted = bench.handler.handle(replace(bench.command("ack 1", user=key_user), granted=(Role.OPERATOR,)),
                                   bench_now())
    assert not plain.allowed and granted.allowed
