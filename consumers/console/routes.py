"""The console's pages and forms: read incidents, decide, sign in and out.

Every page needs a signed session cookie (else a redirect to the sign-in page); every form needs
the session's CSRF token and the permission of its action in CONSOLE_ACTIONS (else 403, audited
as `console.refused`). Decisions are published as the same commands the JSON API publishes
(`remediation.decide`, `remediation.kill_switch`), so the worker re-checks and audits them.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

import jinja2
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from consumers.console import plots
from consumers.console_ports import ConsoleAccounts, ConsoleReads
from consumers.console.session import COOKIE, PRE_COOKIE, SESSION_S, SessionSigner, new_nonce
from consumers.console_sso import FLOW_COOKIE, FLOW_S, SsoFlow, SsoLogin
from consumers.chat import CHAT_COMMAND_RECEIVED, HANDLE_CHAT_COMMAND, chat_command_data
from consumers.deps import ApiDeps
from consumers.http import HttpError, read_body, trace_id_of
from consumers.oidc import InvalidToken
from consumers.publisher import publish as publish_event
from consumers.remediation_api import DECIDE, DECISION_GIVEN, KILL_SWITCH, KILL_SWITCH_SET
from pipeline import limits
from pipeline.errors import InvalidInput, NotFound, TransientError
from pipeline.events import envelope, new_trace_id
from pipeline.nlu.authz import Principal, Role
from pipeline.nlu.context import check_chat_id

log = structlog.get_logger("consumers.console")

HERE = Path(__file__).parent
SOURCE = "urn:smartcloudops:console"
MAX_FORM_BYTES = 16 * 1024
PAGE_SIZE = 50
SINCE = {"1h": timedelta(hours=1), "24h": timedelta(days=1), "7d": timedelta(days=7)}
STATES = ("open", "resolved")

# Each form's action and the permission it needs (pipeline/nlu/authz.py's table).
CONSOLE_ACTIONS: dict[str, str] = {
    "approve": "approve",
    "deny": "deny",
    "kill_switch.engage": "kill_switch.engage",
    "kill_switch.release": "kill_switch.release",
    "ack": "ack",
    "escalate": "escalate",
    "silence": "silence",
}
SILENCE_FOR = {"1h": 3600, "4h": 4 * 3600, "24h": 24 * 3600}

Page = Callable[[Request, "Viewer"], Awaitable[Response]]


class Viewer:
    """The signed-in person of a request: their principal and their session's CSRF token."""

    def __init__(self, username: str, role: str, csrf: str, *, source: str = "console",
                 groups: tuple[str, ...] = (), roles: frozenset[Role] | None = None) -> None:
        self.username, self.role, self.csrf, self.source, self.groups = username, role, csrf, source, groups
        held = roles if roles is not None else frozenset({Role.parse(role)})
        # A local account is `console:NAME`; an OIDC user is their subject, as on the API.
        subject = f"console:{username}" if source == "console" else username
        self.principal = Principal(subject, username, groups, held, "console" if source == "console" else "jwt")

    @property
    def granted_roles(self) -> list[str]:
        """Roles the worker cannot find in roles.yaml (a local account's); OIDC users are found there."""
        return [self.role] if self.source == "console" else []

    @property
    def chat_user(self) -> str:
        return f"console.{self.username}" if self.source == "console" else self.username

    def may(self, action: str) -> bool:
        return self.principal.may(CONSOLE_ACTIONS.get(action, action))


def routes(deps: ApiDeps) -> list[Route]:
    """The console's routes; none when the deployment gave it no accounts or read model."""
    accounts, reads = deps.console_accounts, deps.console_reads
    if accounts is None or reads is None:
        return []
    signer = SessionSigner(deps.settings.console_session_key())
    templates = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"),
                                   autoescape=True, undefined=jinja2.StrictUndefined)
    templates.filters["gist"] = gist
    mode = deps.settings.remediation_mode
    return Console(deps, accounts, reads, signer, templates, mode, deps.console_sso).routes()


class Console:
    def __init__(self, deps: ApiDeps, accounts: ConsoleAccounts, reads: ConsoleReads, signer: SessionSigner,
                 templates: jinja2.Environment, mode: str, sso: SsoLogin | None = None) -> None:
        self.deps, self.accounts, self.reads, self.signer = deps, accounts, reads, signer
        self.templates, self.mode, self.sso = templates, mode, sso
        self.failures = FailedSignIns()

    def routes(self) -> list[Route]:
        return [
            Route("/", self.root, methods=["GET"]),
            Route("/console", self.page(self.incident_list), methods=["GET"]),
            Route("/console/incidents/{incident_id}", self.page(self.incident_page), methods=["GET"]),
            Route("/console/incidents/{incident_id}/decide", self.form(self.decide), methods=["POST"]),
            Route("/console/incidents/{incident_id}/act", self.form(self.act), methods=["POST"]),
            Route("/console/killswitch", self.form(self.kill_switch), methods=["POST"]),
            Route("/console/login", self.login_page, methods=["GET"]),
            Route("/console/login", self.login, methods=["POST"]),
            Route("/console/link/{token}", self.link_page, methods=["GET"]),
            Route("/console/link/{token}", self.link_login, methods=["POST"]),
            Route("/console/logout", self.form(self.logout), methods=["POST"]),
            Route("/console/sso", self.sso_start, methods=["GET"]),
            Route("/console/sso/callback", self.sso_callback, methods=["GET"]),
            Route("/console/static/{name}", self.static, methods=["GET"]),
        ]

    # -- plumbing -----------------------------------------------------------------------------

    def render(self, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = self.templates.get_template(name).render(mode=self.mode, **context)
        return HTMLResponse(html, status_code=status, headers=SECURITY_HEADERS)

    async def viewer_of(self, request: Request) -> Viewer | None:
        session = self.signer.read(request.cookies.get(COOKIE), time.time())
        if session is None:
            return None
        csrf = self.signer.csrf_token(session.nonce)
        if session.source == "oidc":
            roles = self.deps.roles.roles_of(session.username, session.groups)
            if not roles - {Role.INGEST}:
                return None
            return Viewer(session.username, max(roles).label, csrf, source="oidc", groups=session.groups,
                          roles=roles)
        role = await run_in_threadpool(self.accounts.role_of, session.username)
        if role is None:  # the account was removed or disabled since it signed in
            return None
        return Viewer(session.username, role, csrf)

    def page(self, handler: Page) -> Callable[[Request], Awaitable[Response]]:
        async def guarded(request: Request) -> Response:
            viewer = await self.viewer_of(request)
            if viewer is None:
                return RedirectResponse("/console/login?" + urlencode({"next": _local(request.url.path)}), 303)
            try:
                return await handler(request, viewer)
            except HttpError as exc:
                return await self.error(request, viewer, exc.status, exc.message)

        guarded.__name__ = handler.__name__
        return guarded

    def form(self, handler: Callable[[Request, Viewer, dict[str, str]], Awaitable[Response]]):  # type: ignore[no-untyped-def]
        async def checked(request: Request) -> Response:
            viewer = await self.viewer_of(request)
            if viewer is None:
                return self.render("error.html", 401, viewer=None, safety=None, title="Signed out",
                                   message="Your session has ended; sign in again.")
            try:
                fields = await _form(request)
                if not self.signer.csrf_ok(_nonce_of(self.signer, request), fields.get("csrf")):
                    await self.refuse(request, viewer, "csrf", "missing or wrong CSRF token")
                return await handler(request, viewer, fields)
            except HttpError as exc:
                return await self.error(request, viewer, exc.status, exc.message)

        checked.__name__ = handler.__name__
        return checked

    async def refuse(self, request: Request, viewer: Viewer, action: str, reason: str,
                     incident_id: int | None = None) -> None:
        log.warning("console.refused", user=viewer.username, action=action, reason=reason, path=request.url.path)
        await run_in_threadpool(lambda: self.accounts.record_refusal(
            actor=viewer.principal.subject, action=action, path=request.url.path, reason=reason,
            now=datetime.now(UTC), incident_id=incident_id, trace_id=trace_id_of(request)))
        raise HttpError(403, f"{viewer.username} may not {action}: {reason}")

    async def require(self, request: Request, viewer: Viewer, action: str, incident_id: int | None = None) -> None:
        if not viewer.may(action):
            await self.refuse(request, viewer, action, f"role {viewer.role} does not permit it",
                              incident_id=incident_id)

    async def error(self, request: Request, viewer: Viewer | None, status: int, message: str) -> Response:
        safety = await self.safety() if viewer is not None else None
        return self.render("error.html", status, viewer=viewer, safety=safety, title=f"Error {status}",
                           message=message)

    async def safety(self) -> dict[str, Any]:
        found = await run_in_threadpool(lambda: self.reads.safety(now=datetime.now(UTC)))
        return {**found, "mode": self.mode}

    async def publish(self, task: str, event_type: str, data: dict[str, Any], trace_id: str) -> str:
        event = envelope(event_type, SOURCE, data, event_id=new_trace_id(), trace_id=trace_id, now=datetime.now(UTC))
        try:
            await publish_event(self.deps.publisher, task, event)
        except TransientError as exc:
            raise HttpError(503, "the broker is unavailable; nothing was sent, try again in a minute") from exc
        return event.id

    # -- pages --------------------------------------------------------------------------------

    async def root(self, _: Request) -> Response:
        return RedirectResponse("/console", 303)

    async def incident_list(self, request: Request, viewer: Viewer) -> Response:
        params = request.query_params
        status = params.get("state") or None
        if status not in (None, *STATES):
            raise HttpError(400, "state must be open or resolved")
        since_key = params.get("since") or ""
        if since_key and since_key not in SINCE:
            raise HttpError(400, "since must be 1h, 24h or 7d")
        before = _positive(params.get("before"))
        service = (params.get("service") or "")[:256] or None
        severity = (params.get("severity") or "")[:64] or None
        since = datetime.now(UTC) - SINCE[since_key] if since_key else None
        found = await run_in_threadpool(lambda: self.reads.incident_list(
            status=status, service=service, severity=severity, since=since, before=before, limit=PAGE_SIZE))
        filters = {"state": status or "", "service": service or "", "severity": severity or "", "since": since_key}
        next_link = None
        if found["next"]:
            next_link = "/console?" + urlencode({**{k: v for k, v in filters.items() if v}, "before": found["next"]})
        return self.render("incidents.html", viewer=viewer, safety=await self.safety(), title="Incidents",
                           page=found, filters=filters, next_link=next_link, states=STATES,
                           since_options=list(SINCE), first_page=before is None)

    async def incident_page(self, request: Request, viewer: Viewer) -> Response:
        incident_id = _positive(request.path_params["incident_id"])
        if incident_id is None:
            raise HttpError(404, "no such incident")
        try:
            incident = await run_in_threadpool(self.reads.incident, incident_id)
        except NotFound as exc:
            raise HttpError(404, str(exc)) from exc
        alert_start = min((a["starts_at"] for a in incident["alerts"]), default=incident["opened_at"])
        drawn = [plots.plot(s, alert_start=alert_start, threshold=incident["threshold"]) for s in incident["series"]]
        waiting = [run for run in incident["remediation"] if run["state"] == "awaiting_approval"]
        return self.render("incident.html", viewer=viewer, safety=await self.safety(),
                           title=f"Incident #{incident_id}", incident=incident,
                           plots=[p for p in drawn if p is not None], waiting=waiting,
                           risk=incident["risk"][-1] if incident["risk"] else None,
                           sent=request.query_params.get("sent", "")[:32],
                           chain_ok=all(row["verified"] for row in incident["timeline"]))

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC_FILES:
            return Response("not found", 404)
        return FileResponse(HERE / "static" / name, media_type=STATIC_FILES[name],
                            headers={"Cache-Control": "max-age=300"})

    # -- decisions ----------------------------------------------------------------------------

    async def decide(self, request: Request, viewer: Viewer, fields: dict[str, str]) -> Response:
        incident_id = _positive(request.path_params["incident_id"])
        if incident_id is None:
            raise HttpError(404, "no such incident")
        verb = fields.get("decision")
        if verb not in ("approve", "deny"):
            raise HttpError(400, "decision must be approve or deny")
        await self.require(request, viewer, verb, incident_id)
        reason = fields.get("reason", "").strip()[:1000]
        if verb == "deny" and not reason:
            raise HttpError(400, "say why you deny the plan (reason)")
        principal = viewer.principal
        trace_id = trace_id_of(request)
        await self.publish(DECIDE, DECISION_GIVEN, {
            "incident_id": incident_id, "approve": verb == "approve", "approver": principal.subject,
            "groups": list(viewer.groups), "granted_roles": viewer.granted_roles, "principal": principal.as_audit(),
            "reason": reason,
            "via": "console"}, trace_id)
        log.info("console.decision_sent", incident_id=incident_id, decision=verb, user=viewer.username,
                 trace_id=trace_id)
        return RedirectResponse(f"/console/incidents/{incident_id}?sent={verb}", 303)

    async def act(self, request: Request, viewer: Viewer, fields: dict[str, str]) -> Response:
        """Acknowledge, escalate or silence: the chat's own commands, sent with their intent already known."""
        incident_id = _positive(request.path_params["incident_id"])
        if incident_id is None:
            raise HttpError(404, "no such incident")
        intent = fields.get("intent", "")
        if intent not in ("ack", "escalate", "silence"):
            raise HttpError(400, "intent must be ack, escalate or silence")
        await self.require(request, viewer, intent, incident_id)
        entities: dict[str, Any] = {"incident": incident_id}
        text = f"{intent} {incident_id}"
        if intent == "silence":
            incident = await run_in_threadpool(self.reads.incident, incident_id)
            scope, duration = fields.get("scope"), SILENCE_FOR.get(fields.get("duration", ""))
            if scope not in ("alertname", "service") or duration is None:
                raise HttpError(400, "silence needs a scope (alertname or service) and a duration (1h, 4h, 24h)")
            entities = {scope: incident[scope], "duration_s": duration}
            text = f"silence {incident[scope]} for {fields['duration']} (console, incident #{incident_id})"
        try:
            user = check_chat_id("user", viewer.chat_user)
        except InvalidInput as exc:
            raise HttpError(400, "your identity cannot be used for chat commands; use chat or the API") from exc
        data = chat_command_data(user=user, channel="console", text=text, response_url=None, source="console",
                                 user_name=viewer.username)
        data.update({"intent": intent, "entities": entities, "granted_roles": viewer.granted_roles,
                     "groups": list(viewer.groups), "principal": viewer.principal.as_audit()})
        await self.publish(HANDLE_CHAT_COMMAND, CHAT_COMMAND_RECEIVED, data, trace_id_of(request))
        log.info("console.command_sent", incident_id=incident_id, intent=intent, user=viewer.username)
        return RedirectResponse(f"/console/incidents/{incident_id}?sent={intent}", 303)

    async def kill_switch(self, request: Request, viewer: Viewer, fields: dict[str, str]) -> Response:
        engage = fields.get("engaged")
        if engage not in ("true", "false"):
            raise HttpError(400, "engaged must be true or false")
        action = "kill_switch.engage" if engage == "true" else "kill_switch.release"
        await self.require(request, viewer, action)
        reason = fields.get("reason", "").strip()[:1000]
        principal = viewer.principal
        await self.publish(KILL_SWITCH, KILL_SWITCH_SET, {
            "engaged": engage == "true", "actor": principal.subject, "reason": reason,
            "principal": principal.as_audit()}, trace_id_of(request))
        if self.deps.kill_switch is not None:  # take effect now; the worker audits it
            await run_in_threadpool(self.deps.kill_switch.set_kill_switch, engage == "true")
        back = _local(fields.get("next", "/console"))
        return RedirectResponse(back, 303)

    # -- signing in and out -------------------------------------------------------------------

    async def login_page(self, request: Request) -> Response:
        nonce = request.cookies.get(PRE_COOKIE) or new_nonce()
        response = self.render("login.html", viewer=None, safety=None, title="Sign in", error=None,
                               csrf=self.signer.csrf_token(nonce), next=_local(request.query_params.get("next")),
                               sso=self.sso is not None)
        _set_cookie(response, PRE_COOKIE, nonce, 3600)
        return response

    async def login(self, request: Request) -> Response:
        fields = await _form(request)
        nonce = request.cookies.get(PRE_COOKIE) or ""
        if not nonce or not self.signer.csrf_ok(nonce, fields.get("csrf")):
            return self.render("error.html", 403, viewer=None, safety=None, title="Refused",
                               message="The sign-in form was stale or forged; open the sign-in page again.")
        username, password = fields.get("username", "")[:64], fields.get("password", "")[:1024]
        if self.failures.blocked(username, time.monotonic()):
            log.warning("console.login_throttled", user=username)
            return self.render("login.html", 429, viewer=None, safety=None, title="Sign in",
                               error="Too many failed sign-ins for this account; wait 15 minutes.",
                               csrf=self.signer.csrf_token(nonce), next="/console", sso=self.sso is not None)
        found = await run_in_threadpool(self.accounts.verify, username, password)
        if found is None:
            self.failures.add(username, time.monotonic())
            log.warning("console.login_failed", user=username[:64])
            response = self.render("login.html", 401, viewer=None, safety=None, title="Sign in",
                                   error="Wrong username or password.", csrf=self.signer.csrf_token(nonce),
                                   next=_local(fields.get("next")), sso=self.sso is not None)
            return response
        return self.signed_in(found[0], _local(fields.get("next")))

    async def link_page(self, request: Request) -> Response:
        # GET never spends the link (chat and mail previews fetch links); the button POSTs it.
        nonce = request.cookies.get(PRE_COOKIE) or new_nonce()
        response = self.render("link.html", viewer=None, safety=None, title="Sign in",
                               token=request.path_params["token"][:128], csrf=self.signer.csrf_token(nonce))
        _set_cookie(response, PRE_COOKIE, nonce, 3600)
        return response

    async def link_login(self, request: Request) -> Response:
        token = request.path_params["token"][:128]
        fields = await _form(request)
        nonce = request.cookies.get(PRE_COOKIE) or ""
        if not nonce or not self.signer.csrf_ok(nonce, fields.get("csrf")):
            return self.render("error.html", 403, viewer=None, safety=None, title="Refused",
                               message="The sign-in form was stale or forged; open the link again.")
        found = await run_in_threadpool(lambda: self.accounts.consume_link(token, now=datetime.now(UTC)))
        if found is None:
            log.warning("console.login_link_refused")
            return self.render("error.html", 403, viewer=None, safety=None, title="Link not valid",
                               message="This sign-in link was used already, has expired, or never existed.")
        return self.signed_in(found[0], "/console")

    def signed_in(self, username: str, target: str, **session: Any) -> Response:
        log.info("console.signed_in", user=username, source=session.get("source", "console"))
        response = RedirectResponse(target, 303)
        _set_cookie(response, COOKIE, self.signer.issue(username, time.time(), **session), SESSION_S)
        response.delete_cookie(PRE_COOKIE, path="/console")
        return response

    async def sso_start(self, request: Request) -> Response:
        if self.sso is None:
            return await self.error(request, None, 404, "single sign-on is not configured (SCO_OIDC_CLIENT_ID)")
        url, flow = self.sso.start(_callback_url(request), _local(request.query_params.get("next")))
        response = RedirectResponse(url, 303)
        response.set_cookie(FLOW_COOKIE, self.signer.seal({"f": flow.encode(), "e": int(time.time()) + FLOW_S}),
                            max_age=FLOW_S, path="/console/sso", secure=True, httponly=True, samesite="lax")
        return response

    async def sso_callback(self, request: Request) -> Response:
        if self.sso is None:
            return await self.error(request, None, 404, "single sign-on is not configured")
        sealed = self.signer.unseal(request.cookies.get(FLOW_COOKIE)) or {}
        flow = SsoFlow.decode(str(sealed.get("f", ""))) if int(sealed.get("e", 0)) > time.time() else None
        state, code = request.query_params.get("state", ""), request.query_params.get("code", "")
        if flow is None or not code or not hmac.compare_digest(state.encode(), flow.state.encode()):
            log.warning("console.sso_refused", reason="state")
            return self.render("error.html", 403, viewer=None, safety=None, title="Sign-in refused",
                               message="The sign-in did not start here or took too long; try again.")
        try:
            verified = await run_in_threadpool(self.sso.finish, code[:2048], _callback_url(request), flow)
        except InvalidToken as exc:
            log.warning("console.sso_refused", reason=str(exc))
            return self.render("error.html", 403, viewer=None, safety=None, title="Sign-in refused",
                               message=f"The identity provider's answer was not accepted: {exc}")
        if not self.deps.roles.roles_of(verified.subject, verified.groups) - {Role.INGEST}:
            log.warning("console.sso_no_role", subject=verified.subject)
            return self.render("error.html", 403, viewer=None, safety=None, title="No access",
                               message="You are signed in with your provider but hold no role here; "
                                       "ask an admin to add you to roles.yaml.")
        response = self.signed_in(verified.subject, flow.next, source="oidc", groups=verified.groups,
                                  display_name=verified.display_name)
        response.delete_cookie(FLOW_COOKIE, path="/console/sso")
        return response

    async def logout(self, request: Request, viewer: Viewer, fields: dict[str, str]) -> Response:
        response = RedirectResponse("/console/login", 303)
        response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="lax")
        return response


# What a timeline row shows of its data, in this order (steps: action, target, state; alerts: status...).
GIST_KEYS = ("status", "action", "target", "decision", "score", "outcome", "reason", "target_tier", "tier",
             "engaged", "text", "error", "alert", "state", "instance")


def gist(data: Any) -> str:
    """A short line of an audit row's data for the timeline."""
    if not isinstance(data, dict):
        return ""
    parts = [f"{key} {data[key]}" for key in GIST_KEYS if data.get(key) not in (None, "", [], {})]
    labels = data.get("labels")
    if isinstance(labels, dict) and labels.get("instance"):
        parts.append(f"instance {labels['instance']}")
    return " · ".join(parts)[:200]


class FailedSignIns:
    """Failed password sign-ins per username in this process: MAX_FAILURES in WINDOW_S blocks the name."""

    MAX_FAILURES, WINDOW_S, MAX_NAMES = 10, 900.0, 10_000

    def __init__(self) -> None:
        self._seen: dict[str, list[float]] = {}

    def blocked(self, username: str, now: float) -> bool:
        recent = [t for t in self._seen.get(username.lower(), ()) if now - t < self.WINDOW_S]
        if recent:
            self._seen[username.lower()] = recent
        else:
            self._seen.pop(username.lower(), None)
        return len(recent) >= self.MAX_FAILURES

    def add(self, username: str, now: float) -> None:
        if len(self._seen) >= self.MAX_NAMES:  # a flood of made-up names: forget the oldest half
            for name in list(self._seen)[: self.MAX_NAMES // 2]:
                del self._seen[name]
        self._seen.setdefault(username.lower(), []).append(now)


SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; "
                               "script-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
STATIC_FILES = {"console.css": "text/css", "console.js": "text/javascript"}


def _callback_url(request: Request) -> str:
    return f"{str(request.base_url).rstrip('/')}/console/sso/callback"


def _set_cookie(response: Response, name: str, value: str, max_age: int) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/" if name == COOKIE else "/console",
                        secure=True, httponly=True, samesite="lax")


def _nonce_of(signer: SessionSigner, request: Request) -> str:
    session = signer.read(request.cookies.get(COOKIE), time.time())
    return session.nonce if session else ""


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
        raise HttpError(415, "forms are sent as application/x-www-form-urlencoded")
    body = await read_body(request, MAX_FORM_BYTES)
    try:
        parsed = parse_qs(body.decode(), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError) as exc:
        raise HttpError(400, "the form could not be read") from exc
    return {name: values[0] for name, values in parsed.items()}


def _positive(raw: str | None) -> int | None:
    if not raw or not (raw.isascii() and raw.isdecimal()) or len(raw) > 19:
        return None
    value = int(raw)
    return value if 1 <= value <= limits.BIGINT_MAX else None


def _local(target: str | None) -> str:
    """A redirect target on this site only (an open redirect would help phishing)."""
    if not target or not target.startswith("/console") or "//" in target or "\\" in target:
        return "/console"
    return target[:512]
