"""Every route x every kind of credential: who gets in, who is refused, and the matrix the README shows.

No route outside PUBLIC_ROUTES answers without a proven principal; a principal whose roles do not
permit the route's action gets a 403; the right role reaches the handler.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from tests.oidc_provider import AUDIENCE, ISSUER
from hypothesis import HealthCheck, given, settings, strategies as st
from starlette.routing import Route
from starlette.testclient import TestClient

from config.settings import load_settings
from consumers.access import PUBLIC_ROUTES, ROUTE_PERMISSIONS
from consumers.app import create_app
from consumers.auth import Authenticator, InMemoryApiKeys, static_credentials
from consumers.deps import ApiDeps
from consumers.oidc import JwksCache, JwtVerifier
from consumers.publisher import InMemoryPublisher
from pipeline.nlu.authz import PERMISSIONS, Role, RoleBook
from pipeline.remediation import InMemoryGuardStore
from smartcloudops.demo_payloads import demo_story

README = Path(__file__).parents[3] / "README.md"
WEBHOOK_TOKEN = "webhook-token-for-the-route-matrix"
INGEST_KEY = "sco_alertmanager_ingest_key_0000000"
ROLES = RoleBook(
    users={"ingester": Role.INGEST, "vera": Role.VIEWER, "oscar": Role.OPERATOR, "root": Role.ADMIN},
    groups={"sre-leads": Role.APPROVER},  # approvers hold their role through a group only
)


class Incidents:
    def list(self, **_: Any) -> dict[str, Any]:
        return {"incidents": [], "next_before": None}

    def get(self, incident_id: int) -> dict[str, Any]:
        return {"id": incident_id}


def _alertmanager_body() -> dict[str, Any]:
    return demo_story()[0][1]


# Per route: a concrete request, the user of too low a role, the user of the right role.
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/v1/alerts/alertmanager"): {"path": "/v1/alerts/alertmanager", "json": _alertmanager_body,
                                          "low": "vera", "right": "ingester"},
    ("POST", "/api/v1/write"): {"path": "/api/v1/write", "content": b"", "low": "vera", "right": "ingester"},
    ("POST", "/v1/metrics"): {"path": "/v1/metrics", "json": lambda: {"samples": []}, "low": "vera",
                              "right": "ingester"},
    ("GET", "/v1/incidents"): {"path": "/v1/incidents", "low": "ingester", "right": "vera"},
    ("GET", "/v1/incidents/{incident_id}"): {"path": "/v1/incidents/7", "low": "ingester", "right": "vera"},
    ("POST", "/v1/incidents/{incident_id}/approve"): {"path": "/v1/incidents/7/approve", "json": dict,
                                                      "low": "oscar", "right": "lead"},
    ("POST", "/v1/incidents/{incident_id}/deny"): {"path": "/v1/incidents/7/deny", "json": dict,
                                                   "low": "oscar", "right": "lead"},
    ("POST", "/v1/incidents/{incident_id}/escalate"): {"path": "/v1/incidents/7/escalate", "json": dict,
                                                       "low": "vera", "right": "oscar"},
    ("POST", "/v1/killswitch"): {"path": "/v1/killswitch", "json": lambda: {"engaged": True},
                                 "low": "vera", "right": "oscar"},
    ("POST", "/v1/chat/command"): {"path": "/v1/chat/command",
                                   "json": lambda: {"channel": "C1", "text": "status"},
                                   "low": "ingester", "right": "vera"},
}
CREDENTIALS = ["none", "wrong", "expired JWT", "unknown issuer", "bad signature", "token in URL",
               "webhook token", "too-low role", "right role"]


@pytest.fixture
def app(provider, tmp_path):  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path, webhook_token=WEBHOOK_TOKEN)
    verifier = JwtVerifier(JwksCache(provider.url), issuer=ISSUER, audience=AUDIENCE)
    authenticator = Authenticator(static=static_credentials(settings), jwt=verifier, roles=ROLES,
                                  api_keys=InMemoryApiKeys({INGEST_KEY: ("alertmanager", "ingest")}))
    deps = ApiDeps(settings=settings, publisher=InMemoryPublisher(), incidents=Incidents(), roles=ROLES,
                   kill_switch=InMemoryGuardStore(), authenticator=authenticator)
    return create_app(deps)


def guarded_routes(app) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    found = []
    for route in app.routes:
        if isinstance(route, Route):
            found += [(m, route.path) for m in sorted(route.methods - {"HEAD"})]
    return [key for key in found if key not in PUBLIC_ROUTES]


def call(client, key, credential, rsa_key, impostor_key):  # type: ignore[no-untyped-def]
    method, _ = key
    spec = REQUESTS[key]
    path, headers = spec["path"], {}
    token = {
        "none": None,
        "wrong": "sco_not_a_key_anyone_made_000000000",
        "expired JWT": rsa_key.token(spec["right"], groups=["sre-leads"], expires_in=-600),
        "unknown issuer": rsa_key.token(spec["right"], groups=["sre-leads"], issuer="https://evil.example"),
        "bad signature": impostor_key.token(spec["right"], groups=["sre-leads"]),
        "token in URL": None,
        "webhook token": WEBHOOK_TOKEN,
        "too-low role": rsa_key.token(spec["low"]),
        "right role": rsa_key.token(spec["right"], groups=["sre-leads"] if spec["right"] == "lead" else []),
    }[credential]
    if credential == "token in URL":
        path += "?access_token=" + rsa_key.token(spec["right"], groups=["sre-leads"])
    if token:
        headers["Authorization"] = f"Bearer {token}"
    kwargs: dict[str, Any] = {"headers": headers}
    if "json" in spec:
        kwargs["content"] = json.dumps(spec["json"]()).encode()
        headers["Content-Type"] = "application/json"
    elif "content" in spec:
        kwargs["content"] = spec["content"]
    return client.request(method, path, **kwargs).status_code


def expected(key: tuple[str, str], credential: str) -> set[int]:
    action = ROUTE_PERMISSIONS[key]
    if credential in ("none", "wrong", "expired JWT", "unknown issuer", "bad signature"):
        return {401}
    if credential == "token in URL":
        return {400}
    if credential == "webhook token":
        return {403} if Role.INGEST not in PERMISSIONS[action] else {200, 202, 204, 400, 415, 422}
    if credential == "too-low role":
        return {403}
    return {200, 202, 204, 400, 415, 422}  # reached the handler: its own validation may still refuse


def test_every_route_has_a_permission_or_is_public(app) -> None:
    assert set(guarded_routes(app)) == set(ROUTE_PERMISSIONS) == set(REQUESTS)


def test_the_route_by_credential_matrix(app, rsa_key, impostor_key) -> None:
    rows, wrong = [], []
    with TestClient(app) as client:
        for key in sorted(REQUESTS, key=lambda k: (k[1], k[0])):
            codes = []
            for credential in CREDENTIALS:
                code = call(client, key, credential, rsa_key, impostor_key)
                codes.append(code)
                if code not in expected(key, credential):
                    wrong.append((key, credential, code))
            rows.append(f"| `{key[0]} {key[1]}` | {ROUTE_PERMISSIONS[key]} | " +
                        " | ".join(str(c) for c in codes) + " |")
    table = "\n".join([
        "| route | permission | " + " | ".join(CREDENTIALS) + " |",
        "|---|---|" + "---|" * len(CREDENTIALS),
        *rows,
    ])
    print("\n" + table)
    assert wrong == []
    assert table in README.read_text(), "README 'Authentication' must show this matrix (run with -s)"


def test_the_readme_shows_the_permission_table() -> None:
    lines = ["| action | roles |", "|---|---|"] + [
        f"| {action} | {', '.join(sorted((r.label for r in roles), key=lambda l: Role.parse(l)))} |"
        for action, roles in PERMISSIONS.items()
    ]
    table = "\n".join(lines)
    print("\n" + table)
    assert table in README.read_text()


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.integers(min_value=0, max_value=len(REQUESTS) - 1),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH"]),
    header=st.one_of(
        st.none(),
        st.text(max_size=60),
        st.builds(lambda t: f"Bearer {t}", st.text(max_size=60)),
        st.builds(lambda t: f"Basic {t}", st.text(alphabet="ABCDEFGHabcdefgh0123456789+/=", max_size=40)),
        st.just("Bearer "), st.just("Bearer"), st.just("Bearer sco_"),
    ),
    query=st.sampled_from(["", "?access_token=x", "?token=abc", "?api_key=sco_x", "?user=root"]),
    segment=st.text(alphabet="0123456789abc-", min_size=1, max_size=6),
)
def test_no_route_outside_the_public_list_answers_2xx_without_a_principal(
    app, route, method, header, query, segment
) -> None:
    key = sorted(REQUESTS)[route]
    path = key[1].replace("{incident_id}", segment) + query
    headers: dict[str, Any] = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header.encode("utf-8")  # any bytes a client could send
    with TestClient(app) as client:
        answer = client.request(method, path, headers=headers, content=b"{}")
    assert not 200 <= answer.status_code < 300, (method, path, header, answer.status_code)


def test_a_group_mapped_in_roles_yaml_grants_its_role(app, rsa_key) -> None:
    with TestClient(app) as client:
        no_group = client.post("/v1/incidents/3/approve", json={},
                               headers={"Authorization": f"Bearer {rsa_key.token('lead')}"})
        in_group = client.post("/v1/incidents/3/approve", json={},
                               headers={"Authorization": f"Bearer {rsa_key.token('lead', groups=['sre-leads'])}"})
    assert (no_group.status_code, in_group.status_code) == (403, 202)


def test_an_ingest_api_key_ingests_and_reads_nothing(app) -> None:
    auth = {"Authorization": f"Bearer {INGEST_KEY}"}
    with TestClient(app) as client:
        assert client.post("/v1/alerts/alertmanager", json=_alertmanager_body(), headers=auth).status_code == 202
        assert client.get("/v1/incidents", headers=auth).status_code == 403
        assert client.post("/v1/incidents/3/approve", json={}, headers=auth).status_code == 403
        assert client.post("/v1/killswitch", json={"engaged": True}, headers=auth).status_code == 403
        assert client.post("/v1/chat/command", json={"channel": "c", "text": "status"},
                           headers=auth).status_code == 403


def test_an_unlisted_route_stops_the_app_from_being_built(tmp_path) -> None:
    from consumers import app as app_module
    from pipeline.errors import ConfigurationError

    def rogue(_deps):  # type: ignore[no-untyped-def]
        async def handler(_request):  # type: ignore[no-untyped-def]
            return None
        return [Route("/v1/rogue", handler, methods=["GET"])]

    contributors = app_module.ROUTE_CONTRIBUTORS
    app_module.ROUTE_CONTRIBUTORS = (*contributors, rogue)
    try:
        with pytest.raises(ConfigurationError, match="/v1/rogue"):
            create_app(ApiDeps(settings=load_settings(data_dir=tmp_path), publisher=InMemoryPublisher()))
    finally:
        app_module.ROUTE_CONTRIBUTORS = contributors
