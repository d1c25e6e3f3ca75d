"""Signing in to the console with the OIDC provider: authorization code + PKCE, the token verified as
the API verifies it, roles from roles.yaml."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from starlette.testclient import TestClient

from adapters.db.console_queries import ConsoleQueries
from adapters.db.console_store import ConsoleUserStore
from adapters.db.engine import create_engine
from config.settings import load_settings
from consumers.app import create_app
from consumers.console.session import COOKIE
from consumers.console_sso import SsoLogin
from consumers.deps import ApiDeps
from consumers.oidc import JwksCache, JwtVerifier
from consumers.publisher import InMemoryPublisher
from pipeline.nlu.authz import Role, RoleBook
from tests.oidc_provider import AUDIENCE, ISSUER, Provider, SigningKey

AUTHORIZE = "https://idp.test/realms/sre/protocol/openid-connect/auth"


class TokenEndpoint:
    """The provider's token endpoint: checks the code and the PKCE verifier, answers a signed token."""

    def __init__(self, key: SigningKey) -> None:
        self.codes: dict[str, dict[str, Any]] = {}  # code -> {"challenge", "subject", "groups"}
        self.forms: list[dict[str, str]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                length = int(self.headers.get("Content-Length", "0"))
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                endpoint.forms.append(form)
                grant = endpoint.codes.pop(form.get("code", ""), None)
                digest = hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                if grant is None or base64.urlsafe_b64encode(digest).decode().rstrip("=") != grant["challenge"]:
                    self.send_response(400)
                    self.end_headers()
                    return
                body = json.dumps({"access_token": (grant.get("key") or key).token(
                    grant["subject"], groups=grant["groups"]), "token_type": "Bearer"}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/token"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp() -> Iterator[tuple[Provider, SigningKey, TokenEndpoint]]:
    provider, key = Provider(), SigningKey()
    provider.keys.append(key)
    tokens = TokenEndpoint(key)
    yield provider, key, tokens
    tokens.close()
    provider.close()


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def app(sqlite_url, tmp_path, idp, publisher):
    provider, _, tokens = idp
    engine = create_engine(sqlite_url)
    verifier = JwtVerifier(JwksCache(provider.url), issuer=ISSUER, audience=AUDIENCE)
    sso = SsoLogin(authorize_url=AUTHORIZE, token_url=tokens.url, client_id="sco-console", client_secret=None,
                   verifier=verifier)
    deps = ApiDeps(settings=load_settings(data_dir=tmp_path, webhook_token="webhook-token-for-sso-tests"),
                   publisher=publisher, roles=RoleBook(users={"alice": Role.APPROVER}, groups={"sre": Role.OPERATOR}),
                   console_accounts=ConsoleUserStore(engine), console_reads=ConsoleQueries(engine), console_sso=sso)
    yield create_app(deps)
    engine.dispose()


def sign_in(app, tokens: TokenEndpoint, subject: str, groups: list[str], key: SigningKey | None = None):
    client = TestClient(app, base_url="https://console.test", follow_redirects=False)
    assert 'id="sso"' in client.get("/console/login").text
    started = client.get("/console/sso", params={"next": "/console?state=open"})
    assert started.status_code == 303
    location = urlparse(started.headers["location"])
    query = {k: v[0] for k, v in parse_qs(location.query).items()}
    assert location.geturl().startswith(AUTHORIZE)
    assert query["code_challenge_method"] == "S256" and query["client_id"] == "sco-console"
    assert query["redirect_uri"] == "https://console.test/console/sso/callback"
    tokens.codes["code-1"] = {"challenge": query["code_challenge"], "subject": subject, "groups": groups, "key": key}
    answer = client.get("/console/sso/callback", params={"code": "code-1", "state": query["state"]})
    return client, answer


def test_an_approver_signs_in_with_the_provider_and_decides_as_their_subject(app, idp, publisher) -> None:
    _, _, tokens = idp
    client, answer = sign_in(app, tokens, "alice", ["sre"])
    assert answer.status_code == 303 and answer.headers["location"] == "/console?state=open"
    assert COOKIE in answer.headers["set-cookie"]
    assert tokens.forms[0]["grant_type"] == "authorization_code" and "code_verifier" in tokens.forms[0]
    page = client.get("/console")
    assert page.status_code == 200 and ">alice <span class=\"role\">approver</span>" in page.text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert client.post("/console/incidents/3/decide", data={"csrf": csrf, "decision": "approve"}).status_code == 303
    [(_, event)] = publisher.sent
    # The worker finds alice in roles.yaml, as for the API: no role is granted by the console.
    assert event.data["approver"] == "alice" and event.data["granted_roles"] == [] and event.data["groups"] == ["sre"]


def test_a_callback_that_did_not_start_here_signs_nobody_in(app, idp) -> None:
    _, _, tokens = idp
    client = TestClient(app, base_url="https://console.test", follow_redirects=False)
    answer = client.get("/console/sso/callback", params={"code": "code-1", "state": "made-up"})
    assert answer.status_code == 403 and COOKIE not in answer.headers.get("set-cookie", "")
    assert tokens.forms == []  # the code was never traded


def test_a_person_without_a_role_is_told_so(app, idp) -> None:
    _, _, tokens = idp
    _, answer = sign_in(app, tokens, "mallory", ["contractors"])
    assert answer.status_code == 403 and "hold no role" in answer.text


def test_a_token_signed_by_another_key_is_refused(app, idp) -> None:
    _, _, tokens = idp
    _, answer = sign_in(app, tokens, "alice", [], key=SigningKey())
    assert answer.status_code == 403 and "not accepted" in answer.text
    assert COOKIE not in answer.headers.get("set-cookie", "")
