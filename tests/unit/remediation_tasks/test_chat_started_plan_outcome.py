"""A plan started from chat and approved through the API: the chat that asked still hears its fate."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from remediation_tasks_support import APPROVER, INSTANCE, NOW, OPERATOR

from adapters.slack_responder import InMemoryResponder
from pipeline.events import envelope
from services.ports import InMemoryReplyRoutes
from tasks import remediation as tasks
from tasks import runtime as runtime_module

CHAT_URL = "https://hooks.slack.com/commands/T1/1/chat-that-asked"


@pytest.fixture
def worker(make_runtime, monkeypatch):
    chat = SimpleNamespace(responder=InMemoryResponder(), reply_routes=InMemoryReplyRoutes())
    rt = make_runtime("dry_run")
    runtime_module.install(SimpleNamespace(remediation=rt, chat=chat, close=lambda: None))
    chains: list[tuple] = []
    monkeypatch.setattr(tasks, "start_chain", lambda *args: chains.append(args))
    monkeypatch.setattr(tasks, "_now", lambda: NOW)
    yield SimpleNamespace(rt=rt, chat=chat, chains=chains)
    runtime_module.install(None)


def event(kind: str, data: dict, event_id: str):
    return envelope(kind, "urn:test", data, event_id=event_id, trace_id="trace-1", now=NOW).to_dict()


def test_an_api_approval_of_a_chat_started_plan_tells_the_chat_and_carries_it_to_the_run_end(worker):
    asked = {"request_id": "r-chat-1", "service": "search", "action": "reboot", "instance": INSTANCE,
             "capacity": None, "incident_id": None, "requested_by": OPERATOR, "source": "chat",
             "reply_to": CHAT_URL}
    started = tasks.request_remediation.run(event("remediation.requested", asked, "e-req"))
    assert started["state"] == "awaiting_approval"
    run = worker.rt.runs.run(started["run_id"])
    [(url, waiting)] = worker.chat.responder.posted
    assert url == CHAT_URL and f"Run #{run.id} of incident #{run.incident_id} waits for an approval" in waiting["text"]

    api = {"incident_id": run.incident_id, "approve": True, "approver": APPROVER, "reason": "ok",
           "groups": []}  # the API sends no reply_to
    assert tasks.decide.run(event("remediation.decided", api, "e-dec"))["status"] == "approved"

    [chain] = worker.chains
    assert chain[0] == run.id and chain[-1] == CHAT_URL  # the run's end goes to the chat that asked
    url, told = worker.chat.responder.posted[-1]
    assert url == CHAT_URL and told["text"].startswith(f"Approved: run #{run.id}") and APPROVER in told["text"]
