"""The console's pages and forms over the embedded store: who is signed in, what they see, what they may send."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from starlette.testclient import TestClient

from adapters.db.audit_writer import append
from adapters.db.console_queries import ConsoleQueries
from adapters.db.console_store import ConsoleUserStore
from adapters.db.engine import create_engine
from adapters.db.schema import audit_log, incidents
from adapters.db.schema_remediation import remediation_runs
from config.settings import load_settings
from consumers.app import create_app
from consumers.console.session import COOKIE
from consumers.deps import ApiDeps
from consumers.publisher import InMemoryPublisher
from pipeline.audit import AuditRecord
from pipeline.remediation import InMemoryGuardStore

NOW = datetime.now(UTC).replace(microsecond=0)
PASSWORD = "a-long-enough-password"
USERS = {"vera": "viewer", "otto": "operator", "ada": "approver", "root": "admin"}


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    accounts = ConsoleUserStore(engine)
    for name, role in USERS.items():
        accounts.create(name, role, PASSWORD, actor="test", now=NOW)
    with engine.begin() as conn:
        for n in range(1, 76):
            conn.execute(incidents.insert().values(
                id=n, correlation_key=f"k{n}", alertname="DiskFull", service="search" if n % 2 else "checkout",
                severity="critical" if n % 3 else "warning", status="open" if n > 70 else "resolved",
                opened_at=NOW - timedelta(minutes=100 - n), last_seen_at=NOW, created_at=NOW, updated_at=NOW))
        conn.execute(remediation_runs.insert().values(
            plan_id="plan-75", incident_id=75, service="search", rule="reboot", decision="needs_approval",
            mode="dry_run", plan={}, state="awaiting_approval", created_at=NOW, updated_at=NOW))
        append(conn, [AuditRecord(kind="incident.opened", occurred_at=NOW, actor="system", incident_id=75)])
    yield engine
    engine.dispose()


@pytest.fixture
def publisher() -> InMemoryPublisher:
    return InMemoryPublisher()


@pytest.fixture
def guards() -> InMemoryGuardStore:
    return InMemoryGuardStore()


@pytest.fixture
def app(engine, tmp_path, publisher, guards):
    settings = load_settings(data_dir=tmp_path, webhook_token="webhook-token-for-console-tests")
    return create_app(ApiDeps(settings=settings, publisher=publisher, kill_switch=guards,
                              console_accounts=ConsoleUserStore(engine), console_reads=ConsoleQueries(engine)))


def browser(app) -> TestClient:
    # https: the session cookie is Secure, and a client keeps it off plain http.
    return TestClient(app, base_url="https://console.test", follow_redirects=False)


def signed_in(app, user: str) -> TestClient:
    client = browser(app)
    page = client.get("/console/login")
    answer = client.post("/console/login", data={"csrf": csrf_of(page.text), "username": user, "password": PASSWORD})
    assert answer.status_code == 303, answer.text
    return client


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def refusals(engine) -> list[dict]:
    with engine.connect() as conn:
        return [json.loads(b) for b in conn.execute(
            sa.select(audit_log.c.body).where(audit_log.c.kind == "console.refused")).scalars()]


def test_a_page_without_a_session_sends_to_sign_in_and_back(app) -> None:
    answer = browser(app).get("/console/incidents/3")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login?next=%2Fconsole%2Fincidents%2F3"
    assert browser(app).get("/").headers["location"] == "/console"


def test_signing_in_sets_a_secure_httponly_samesite_cookie(app) -> None:
    client = browser(app)
    page = client.get("/console/login")
    answer = client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "vera",
                                                 "password": PASSWORD, "next": "/console?state=open"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console?state=open"
    cookie = next(h for h in answer.headers.get_list("set-cookie") if h.startswith(f"{COOKIE}="))
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie


def test_a_wrong_password_or_a_stale_form_signs_nobody_in(app) -> None:
    client = browser(app)
    page = client.get("/console/login")
    wrong = client.post("/console/login", data={"csrf": csrf_of(page.text), "username": "vera", "password": "nope"})
    assert wrong.status_code == 401 and "Wrong username or password" in wrong.text
    assert COOKIE not in wrong.headers.get("set-cookie", "")
    stale = browser(app).post("/console/login", data={"csrf": "forged", "username": "vera", "password": PASSWORD})
    assert stale.status_code == 403


def test_a_tampered_session_cookie_is_not_a_session(app) -> None:
    client = signed_in(app, "vera")
    value = client.cookies[COOKIE]
    client.cookies.set(COOKIE, value[:-2] + ("AA" if not value.endswith("AA") else "BB"), domain="console.test")
    assert client.get("/console").status_code == 303


def test_the_list_is_newest_first_with_counts_filters_and_keyset_pages(app) -> None:
    client = signed_in(app, "vera")
    page = client.get("/console")
    assert page.status_code == 200
    ids = [int(i) for i in re.findall(r'class="incident-link">#(\d+)<', page.text)]
    assert ids == list(range(75, 25, -1))
    assert "open: <strong>5</strong>" in page.text and "resolved: <strong>70</strong>" in page.text
    older = re.search(r'href="([^"]+)" rel="next"', page.text).group(1).replace("&amp;", "&")
    assert older == "/console?before=26"
    rest = [int(i) for i in re.findall(r'class="incident-link">#(\d+)<', client.get(older).text)]
    assert rest == list(range(25, 0, -1))
    filtered = client.get("/console?state=open&service=search&severity=critical")
    assert [int(i) for i in re.findall(r'class="incident-link">#(\d+)<', filtered.text)] == [73, 71]
    assert client.get("/console?state=bogus").status_code == 400


def test_every_page_shows_the_safety_banner(app) -> None:
    page = signed_in(app, "vera").get("/console/incidents/75")
    assert "Kill switch: off" in page.text and "Remediation: dry run" in page.text
    assert "Refusals last hour: 0" in page.text and "Plans awaiting approval: 1" in page.text
    assert "every hash verifies" in page.text


def test_only_roles_that_may_approve_are_offered_the_buttons(app) -> None:
    viewer = signed_in(app, "vera").get("/console/incidents/75").text
    approver = signed_in(app, "ada").get("/console/incidents/75").text
    assert 'id="approve"' not in viewer and 'id="no-approve"' in viewer
    assert 'id="approve"' in approver and 'id="deny"' in approver
    assert 'id="engage-kill-switch"' not in viewer and 'id="engage-kill-switch"' in approver


def test_a_forged_approval_by_a_viewer_is_refused_audited_and_not_sent(app, engine, publisher) -> None:
    client = signed_in(app, "vera")
    csrf = csrf_of(client.get("/console/incidents/75").text)
    answer = client.post("/console/incidents/75/decide", data={"csrf": csrf, "decision": "approve"})
    assert answer.status_code == 403
    assert publisher.sent == []
    [row] = refusals(engine)
    assert row["actor"] == "console:vera" and row["incident_id"] == 75 and row["data"]["action"] == "approve"


def test_a_form_without_its_csrf_token_is_refused_even_for_an_approver(app, engine, publisher) -> None:
    client = signed_in(app, "ada")
    answer = client.post("/console/incidents/75/decide", data={"decision": "approve"})
    assert answer.status_code == 403
    other = signed_in(app, "root")  # another session's token is no better
    token = csrf_of(other.get("/console").text)
    assert client.post("/console/incidents/75/decide", data={"csrf": token, "decision": "approve"}).status_code == 403
    assert publisher.sent == []
    assert [r["data"]["action"] for r in refusals(engine)] == ["csrf", "csrf"]


def test_an_approval_is_the_same_command_the_api_publishes(app, publisher) -> None:
    client = signed_in(app, "ada")
    csrf = csrf_of(client.get("/console/incidents/75").text)
    answer = client.post("/console/incidents/75/decide", data={"csrf": csrf, "decision": "approve",
                                                              "reason": "safe to reboot"})
    assert answer.status_code == 303 and answer.headers["location"] == "/console/incidents/75?sent=approve"
    [(task, event)] = publisher.sent
    assert task == "remediation.decide"
    assert event.data["approver"] == "console:ada" and event.data["approve"] is True
    assert event.data["granted_roles"] == ["approver"] and event.data["reason"] == "safe to reboot"


def test_a_denial_needs_a_reason(app, publisher) -> None:
    client = signed_in(app, "ada")
    csrf = csrf_of(client.get("/console/incidents/75").text)
    assert client.post("/console/incidents/75/decide", data={"csrf": csrf, "decision": "deny"}).status_code == 400
    assert publisher.sent == []


def test_operators_engage_the_kill_switch_and_only_admins_release_it(app, guards, publisher, engine) -> None:
    operator = signed_in(app, "otto")
    csrf = csrf_of(operator.get("/console").text)
    assert operator.post("/console/killswitch", data={"csrf": csrf, "engaged": "true"}).status_code == 303
    assert guards.kill_switch_engaged()
    assert operator.post("/console/killswitch", data={"csrf": csrf, "engaged": "false"}).status_code == 403
    admin = signed_in(app, "root")
    token = csrf_of(admin.get("/console").text)
    assert admin.post("/console/killswitch", data={"csrf": token, "engaged": "false"}).status_code == 303
    assert not guards.kill_switch_engaged()
    assert [e.data["engaged"] for _, e in publisher.sent] == [True, False]
    assert [r["data"]["action"] for r in refusals(engine)] == ["kill_switch.release"]


def test_a_one_time_link_signs_in_once_and_a_get_never_spends_it(app, engine) -> None:
    token = ConsoleUserStore(engine).issue_link("ada", ttl=timedelta(minutes=5), actor="test", now=datetime.now(UTC))
    client = browser(app)
    assert client.get(f"/console/link/{token}").status_code == 200
    page = client.get(f"/console/link/{token}")
    first = client.post(f"/console/link/{token}", data={"csrf": csrf_of(page.text)})
    assert first.status_code == 303 and COOKIE in first.headers["set-cookie"]
    again = browser(app)
    page = again.get(f"/console/link/{token}")
    assert again.post(f"/console/link/{token}", data={"csrf": csrf_of(page.text)}).status_code == 403


def test_a_removed_account_loses_its_session_at_once(app, engine) -> None:
    client = signed_in(app, "vera")
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE console_users SET disabled_at = CURRENT_TIMESTAMP WHERE username = 'vera'"))
    assert client.get("/console").status_code == 303


def test_ack_escalate_and_silence_are_the_chat_commands_with_their_intent_given(app, publisher, engine) -> None:
    operator = signed_in(app, "otto")
    page = operator.get("/console/incidents/75").text
    assert 'id="ack"' in page and 'id="escalate"' in page and 'id="silence"' in page
    csrf = csrf_of(page)
    for fields in ({"intent": "ack"}, {"intent": "escalate"},
                   {"intent": "silence", "scope": "service", "duration": "4h"}):
        assert operator.post("/console/incidents/75/act", data={"csrf": csrf, **fields}).status_code == 303
    sent = [(task, e.data["intent"], e.data["entities"], e.data["granted_roles"], e.data["source"])
            for task, e in publisher.sent]
    assert sent == [("chat.handle_command", "ack", {"incident": 75}, ["operator"], "console"),
                    ("chat.handle_command", "escalate", {"incident": 75}, ["operator"], "console"),
                    ("chat.handle_command", "silence", {"service": "search", "duration_s": 14400}, ["operator"],
                     "console")]
    viewer = signed_in(app, "vera")
    assert 'id="ack"' not in viewer.get("/console/incidents/75").text
    token = csrf_of(viewer.get("/console").text)
    assert viewer.post("/console/incidents/75/act", data={"csrf": token, "intent": "ack"}).status_code == 403
    assert len(publisher.sent) == 3 and [r["data"]["action"] for r in refusals(engine)] == ["ack"]


# Pages anyone may open: signing in (form, link, provider) and the stylesheet and script.
OPEN_TO_ANYONE = {("GET", "/console/login"), ("POST", "/console/login"), ("GET", "/console/link/{token}"),
                  ("POST", "/console/link/{token}"), ("GET", "/console/sso"), ("GET", "/console/sso/callback"),
                  ("GET", "/console/static/{name}"), ("GET", "/")}


def test_every_other_console_route_needs_a_session(app, publisher) -> None:
    client = browser(app)
    checked = 0
    for route in app.routes:
        if not (route.path.startswith("/console") or route.path == "/"):
            continue
        for method in sorted((route.methods or set()) - {"HEAD"}):
            if (method, route.path) in OPEN_TO_ANYONE:
                continue
            path = route.path.replace("{incident_id}", "75")
            answer = client.request(method, path, data={"decision": "approve", "engaged": "true", "intent": "ack"})
            if method == "GET":
                assert answer.status_code == 303 and answer.headers["location"].startswith("/console/login"), path
            else:
                assert answer.status_code == 401, (method, path, answer.status_code)
            checked += 1
    assert checked >= 6 and publisher.sent == []


def test_ten_wrong_passwords_block_the_account_name_for_a_while(app) -> None:
    client = browser(app)
    csrf = csrf_of(client.get("/console/login").text)
    for _ in range(10):
        answer = client.post("/console/login", data={"csrf": csrf, "username": "ada", "password": "guess-0123456"})
        assert answer.status_code == 401
    blocked = client.post("/console/login", data={"csrf": csrf, "username": "ADA", "password": PASSWORD})
    assert blocked.status_code == 429 and COOKIE not in blocked.headers.get("set-cookie", "")
    assert signed_in(app, "vera").get("/console").status_code == 200  # other names are not affected
