"""The approve/deny/kill-switch endpoints: the actor is the authenticated principal, role-checked,
validated, and 202 only once the command is on the broker."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.testclient import TestClient

from config.settings import load_settings
from consumers.app import create_app
from consumers.auth import Authenticator, InMemoryApiKeys, static_credentials
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from pipeline.nlu.authz import Role, RoleBook
from pipeline.remediation import InMemoryGuardStore

WEBHOOK_TOKEN = "webhook-token-for-remediation-tests"
KEYS = {
    "sco_alice_approver_key_0000000000": ("alice", "approver"),
    "sco_root_admin_key_00000000000000": ("root", "admin"),
    "sco_bob_viewer_key_000000000000000": ("bob", "viewer"),
    "sco_carol_operator_key_0000000000": ("carol", "operator"),
}
ALICE, ROOT, BOB, CAROL = KEYS


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def guards() -> InMemoryGuardStore:
    return InMemoryGuardStore()


@pytest.fixture
def client(tmp_path: Path, publisher: InMemoryPublisher, guards: InMemoryGuardStore):
    roles = RoleBook(default=Role.VIEWER)
    settings = load_settings(data_dir=tmp_path, webhook_token=WEBHOOK_TOKEN)
    authenticator = Authenticator(static=static_credentials(settings), api_keys=InMemoryApiKeys(KEYS),
                                  roles=roles)
    deps = ApiDeps(settings=settings, publisher=publisher, roles=roles, kill_switch=guards,
                   authenticator=authenticator)
    with TestClient(create_app(deps), headers=bearer(ALICE)) as test_client:
        yield test_client


def test_an_approval_is_published_with_the_authenticated_principal_as_approver(client, publisher) -> None:
    answer = client.post("/v1/incidents/7/approve", json={"reason": "safe"})

    assert answer.status_code == 202
    [(task, event)] = publisher.sent
    assert task == "remediation.decide"
    assert event.data == {
        "incident_id": 7,
        "approve": True,
        "approver": "apikey:alice",
        "groups": [],
        "granted_roles": ["approver"],
        "principal": {"subject": "apikey:alice", "display_name": "alice", "groups": [],
                      "roles": ["approver"], "source": "api_key"},
        "reason": "safe",
    }
    assert answer.json()["event_id"] == event.id


def test_a_body_naming_someone_else_as_approver_is_a_400(client, publisher) -> None:
    answer = client.post("/v1/incidents/7/approve", json={"approver": "U01ADMIN001", "reason": "x"})
    assert answer.status_code == 400
    assert "cannot name someone else" in answer.json()["error"]
    assert publisher.sent == []


def test_a_body_repeating_the_caller_is_accepted(client) -> None:
    answer = client.post("/v1/incidents/7/approve", json={"approver": "apikey:alice"})
    assert answer.status_code == 202


def test_a_denial_from_an_admin_is_published_with_approve_false(client, publisher) -> None:
    assert client.post("/v1/incidents/7/deny", json={}, headers=bearer(ROOT)).status_code == 202
    assert publisher.sent[0][1].data["approve"] is False
    assert publisher.sent[0][1].data["approver"] == "apikey:root"


def test_someone_without_the_approver_role_gets_403_and_nothing_is_published(client, publisher) -> None:
    answer = client.post("/v1/incidents/7/approve", json={"reason": "me"}, headers=bearer(BOB))

    assert answer.status_code == 403
    assert answer.json()["error"] == "apikey:bob may not approve"
    assert publisher.sent == []


def test_the_webhook_token_cannot_approve(client, publisher) -> None:
    answer = client.post("/v1/incidents/7/approve", json={}, headers=bearer(WEBHOOK_TOKEN))
    assert answer.status_code == 403
    assert publisher.sent == []


@pytest.mark.parametrize(
    ("path", "body", "status", "error"),
    [
        ("/v1/incidents/x/approve", {}, 400, "incident id must be a positive integer, got 'x'"),
        ("/v1/incidents/7/approve", ["U02ALICE002"], 422, "body must be a JSON object"),
        ("/v1/incidents/7/deny", {"reason": 5}, 422, "reason must be a string"),
    ],
)
def test_malformed_decisions_are_refused_with_a_clear_message(
    client, publisher, path, body, status, error
) -> None:
    answer = client.post(path, json=body)
    assert (answer.status_code, answer.json()["error"]) == (status, error)
    assert publisher.sent == []


def test_decisions_need_credentials(client) -> None:
    answer = client.post("/v1/incidents/7/approve", json={}, headers={"Authorization": "Bearer wrong"})
    assert answer.status_code == 401


def test_the_kill_switch_takes_effect_at_once_and_is_published_with_the_principal(
    client, publisher, guards
) -> None:
    answer = client.post("/v1/killswitch", json={"engaged": True, "reason": "bad deploy"},
                         headers=bearer(CAROL))

    assert answer.status_code == 202
    assert guards.kill_switch_engaged() is True
    [(task, event)] = publisher.sent
    assert task == "remediation.kill_switch"
    assert (event.data["engaged"], event.data["actor"], event.data["reason"]) == (
        True, "apikey:carol", "bad deploy")
    assert event.data["principal"]["roles"] == ["operator"]


@pytest.mark.parametrize(("key", "status"), [(BOB, 403), (CAROL, 403), (ALICE, 403), (ROOT, 202)])
def test_only_an_admin_may_release_the_kill_switch(client, publisher, guards, key, status) -> None:
    guards.set_kill_switch(True)
    answer = client.post("/v1/killswitch", json={"engaged": False}, headers=bearer(key))
    assert answer.status_code == status
    assert guards.kill_switch_engaged() is (status != 202)


def test_a_viewer_cannot_engage_the_kill_switch(client, guards) -> None:
    answer = client.post("/v1/killswitch", json={"engaged": True}, headers=bearer(BOB))
    assert answer.status_code == 403 and guards.kill_switch_engaged() is False


def test_a_body_naming_another_actor_for_the_kill_switch_is_a_400(client, guards) -> None:
    answer = client.post("/v1/killswitch", json={"engaged": True, "actor": "U01ADMIN001"},
                         headers=bearer(ROOT))
    assert answer.status_code == 400 and guards.kill_switch_engaged() is False


def test_a_broker_outage_answers_503_and_leaves_the_switch_alone(client, publisher, guards) -> None:
    publisher.down = True
    answer = client.post("/v1/killswitch", json={"engaged": True}, headers=bearer(ROOT))
    assert answer.status_code == 503
    assert guards.kill_switch_engaged() is False


def test_escalate_through_the_api_pages_the_next_tier_now_as_the_caller(client, publisher) -> None:
    answer = client.post("/v1/incidents/7/escalate", json={"reason": "customers are waiting"},
                         headers=bearer(CAROL))

    assert answer.status_code == 202, answer.text
    [(task, event)] = publisher.sent
    assert task == "escalation.page_tier"
    assert event.data["incident_id"] == 7 and event.data["tier"] is None and event.data["by"] == "apikey:carol"
    assert event.data["reason"] == "customers are waiting"


def test_a_viewer_may_not_escalate(client, publisher) -> None:
    assert client.post("/v1/incidents/7/escalate", json={}, headers=bearer(BOB)).status_code == 403
    assert publisher.sent == []
