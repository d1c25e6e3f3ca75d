"""Which route needs which permission: one explicit table, enforced around every route at build time.

A route is either public (listed in PUBLIC_ROUTES) or has a permission in ROUTE_PERMISSIONS;
a route in neither stops the app from being built, so a new route cannot ship unguarded. The
guard authenticates first (401), then checks the permission table (403), and leaves the
principal on the request for the handler (`principal_of`).
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from starlette.requests import Request
from starlette.routing import Route

from consumers.auth import Authenticator
from consumers.http import Handler, HttpError, endpoint
from pipeline.errors import ConfigurationError
from pipeline.nlu.authz import PERMISSIONS, Principal

log = structlog.get_logger("consumers.access")

# Routes anyone may call: probes, Prometheus' scrape, and Slack (proven by its request signature).
PUBLIC_ROUTES: frozenset[tuple[str, str]] = frozenset({
    ("GET", "/healthz"),
    ("GET", "/readyz"),
    ("GET", "/metrics"),
    ("POST", "/v1/chat/slack"),
})

ROUTE_PERMISSIONS: dict[tuple[str, str], str] = {
    ("POST", "/v1/alerts/alertmanager"): "ingest",
    ("POST", "/api/v1/write"): "ingest",
    ("POST", "/v1/metrics"): "ingest",
    ("GET", "/v1/incidents"): "read",
    ("GET", "/v1/incidents/{incident_id}"): "read",
    ("POST", "/v1/incidents/{incident_id}/approve"): "approve",
    ("POST", "/v1/incidents/{incident_id}/deny"): "deny",
    ("POST", "/v1/incidents/{incident_id}/escalate"): "escalate",
    ("POST", "/v1/killswitch"): "kill_switch.engage",  # release also needs kill_switch.release
    ("POST", "/v1/chat/command"): "chat",
}

PRINCIPAL_KEY = "smartcloudops.principal"


def guarded(routes: Iterable[Route], authenticator: Authenticator) -> list[Route]:
    """Every route wrapped in the check its table entry names; ConfigurationError for an unlisted one."""
    built = []
    for route in routes:
        methods = sorted((route.methods or set()) - {"HEAD"})
        keys = [(method, route.path) for method in methods]
        if all(key in PUBLIC_ROUTES for key in keys):
            built.append(route)
            continue
        needed = {ROUTE_PERMISSIONS.get(key) for key in keys}
        if len(needed) != 1 or None in needed or next(iter(needed)) not in PERMISSIONS:
            raise ConfigurationError(f"route {methods} {route.path} has no entry in ROUTE_PERMISSIONS")
        action = needed.pop()
        assert action is not None
        built.append(Route(route.path, _guard(route.endpoint, action, authenticator),
                           methods=methods, name=route.name))
    return built


def principal_of(request: Request) -> Principal:
    """The principal the guard proved for this request."""
    principal = request.scope.get(PRINCIPAL_KEY)
    if not isinstance(principal, Principal):  # a handler reached without its guard: refuse, never assume
        raise HttpError(401, "missing credentials")
    return principal


def granted_roles(principal: Principal) -> list[str]:
    """Roles the credential itself grants (an API key's, the static token's), which roles.yaml cannot
    know: the worker's re-check (approvals, chat commands) adds them to what roles.yaml says."""
    if principal.source in ("api_key", "static_token"):
        return sorted(role.label for role in principal.roles)
    return []


def require_permission(request: Request, action: str) -> Principal:
    """The request's principal, or a 403 when its roles do not permit `action`."""
    principal = principal_of(request)
    if not principal.may(action):
        log.warning("auth.forbidden", subject=principal.subject, action=action, path=request.url.path,
                    roles=sorted(r.label for r in principal.roles))
        raise HttpError(403, f"{principal.subject} may not {action}")
    return principal


def _guard(handler: Handler, action: str, authenticator: Authenticator) -> Handler:
    @endpoint
    async def checked(request: Request):  # type: ignore[no-untyped-def]
        try:
            principal = await authenticator.authenticate(request)
        except HttpError as exc:
            log.warning("auth.refused", path=request.url.path, status=exc.status, reason=exc.message)
            raise
        request.scope[PRINCIPAL_KEY] = principal
        require_permission(request, action)
        return await handler(request)

    checked.__name__ = getattr(handler, "__name__", "endpoint")
    return checked
