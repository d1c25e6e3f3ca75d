"""The approve/deny/kill-switch endpoints: role-checked, validated, and 202 only once the command is on the broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from consumers.app import create_app
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from pipeline.nlu.authz import Role, RoleBook
from pipeline.remediation import InMemoryGuardStore

TOKEN = "api-token-for-remediation-tests"


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def guards() -> InMemoryGuardStore:
    return InMemoryGuardStore()


@pytest.fixture
def client(tmp_path: Path, publisher: InMemoryPublisher, guards: InMemoryGuardStore):
    roles = RoleBook(
        users={"U02ALICE002": Role.APPROVER, "U01ADMIN001": Role.ADMIN}, default=Role.VIEWER
    )
    settings = load_settings(data_dir=tmp_path, api_token=TOKEN, webhook_token=TOKEN)
    deps = ApiDeps(
        settings=settings,
        publisher=publisher,
        roles=roles,
        kill_switch=guards,
    )
    with TestClient(create_app(deps), headers={"Authorization": f"Bearer {TOKEN}"}) as test_client:
        yield test_client


def test_an_approval_from_an_approver_is_published_as_a_decide_command(client, publisher) -> None:
    answer = client.post(
        "/v1/incidents/7/approve", json={"approver": "U02ALICE002", "reason": "safe"}
    )

    assert answer.status_code == 202
    [(task, event)] = publisher.sent
    assert task == "remediation.decide"
    assert event.data == {
        "incident_id": 7,
        "approve": True,
        "approver": "U02ALICE002",
        "groups": [],
        "reason": "safe",
    }
    assert answer.json()["event_id"] == event.id


def test_a_denial_from_an_admin_is_published_with_approve_false(client, publisher) -> None:
    assert client.post("/v1/incidents/7/deny", json={"approver": "U01ADMIN001"}).status_code == 202
    assert publisher.sent[0][1].data["approve"] is False


def test_someone_without_the_approver_role_gets_403_and_nothing_is_published(
    client, publisher
) -> None:
    answer = client.post(
        "/v1/incidents/7/approve", json={"approver": "U03BOB00003", "reason": "me"}
    )

    assert answer.status_code == 403
    assert (
        answer.json()["error"]
        == "U03BOB00003 may not approve: approve needs approver; you hold viewer"
    )
    assert publisher.sent == []


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        (
            "/v1/incidents/x/approve",
            {"approver": "U02ALICE002"},
            400,
            "incident id must be a positive integer, got 'x'",
        ),
        ("/v1/incidents/7/approve", {"reason": "no approver"}, 422, "approver is required"),
        ("/v1/incidents/7/approve", ["U02ALICE002"], 422, "body must be a JSON object"),
        (
            "/v1/incidents/7/deny",
            {"approver": "U02ALICE002", "reason": 5},
            422,
            "reason must be a string",
        ),
    ],
)
def test_malformed_decisions_are_refused_with_a_clear_message(
    client, publisher, path, body, status, error
) -> None:
    answer = client.post(path, json=body)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert publisher.sent == []


def test_decisions_need_the_api_token(client) -> None:
    answer = client.post(
        "/v1/incidents/7/approve",
        json={"approver": "U02ALICE002"},
        headers={"Authorization": "Bearer wrong"},
    )
    assert answer.status_code == 401


def test_the_kill_switch_takes_effect_at_once_and_is_published_for_the_audit(
    client, publisher, guards
) -> None:
    answer = client.post(
        "/v1/killswitch", json={"engaged": True, "actor": "U01ADMIN001", "reason": "bad deploy"}
    )

    assert answer.status_code == 202
    assert guards.kill_switch_engaged() is True
    [(task, event)] = publisher.sent
    assert (task, event.data) == (
        "remediation.kill_switch",
        {"engaged": True, "actor": "U01ADMIN001", "reason": "bad deploy"},
    )


def test_a_broker_outage_answers_503_and_leaves_the_switch_alone(client, publisher, guards) -> None:
    publisher.down = True
    answer = client.post("/v1/killswitch", json={"engaged": True, "actor": "U01ADMIN001"})
    assert answer.status_code == 503
    assert guards.kill_switch_engaged() is False
