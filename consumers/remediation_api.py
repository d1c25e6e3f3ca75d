"""HTTP control of remediation: approve or deny a waiting plan, engage or release the kill switch.

Like every consumer it validates, authenticates and publishes a command; the worker decides
and writes. The approver and the kill switch's actor are the authenticated principal, never a
body field (a body naming someone else is a 400). The role is checked here (403 at once, by the
route guard) and again by the worker, which also refuses a requester approving their own plan.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consumers.access import granted_roles, principal_of, require_permission
from consumers.deps import ApiDeps
from consumers.publisher import publish as publish_event
from consumers.http import HttpError, endpoint, read_body, require_json, trace_id_of
from pipeline import limits
from pipeline.errors import InvalidInput, TransientError
from pipeline.events import envelope, new_trace_id
from pipeline.nlu.authz import Principal

log = structlog.get_logger("consumers.remediation")

DECIDE = "remediation.decide"
KILL_SWITCH = "remediation.kill_switch"
SOURCE = "urn:smartcloudops:api"
DECISION_GIVEN = "dev.smartcloudops.remediation.decision.given"
KILL_SWITCH_SET = "dev.smartcloudops.remediation.kill_switch.set"
ESCALATE = "escalation.page_tier"
ESCALATION_REQUESTED = "dev.smartcloudops.incident.escalation.requested"
MAX_BODY = 16 * 1024


def routes(deps: ApiDeps) -> list[Route]:
    """The remediation routes: approve, deny, escalate and the kill switch."""
    async def publish(task: str, event_type: str, data: dict[str, Any], trace_id: str) -> str:
        event = envelope(
            event_type,
            SOURCE,
            data,
            event_id=new_trace_id(),
            trace_id=trace_id,
            now=datetime.now(UTC),
        )
        try:
            await publish_event(deps.publisher, task, event)
        except TransientError as exc:
            raise HttpError(503, "broker unavailable, retry later", {"Retry-After": "5"}) from exc
        return event.id

    def decision_endpoint(approve: bool):  # type: ignore[no-untyped-def]
        verb = "approve" if approve else "deny"

        @endpoint
        async def decide(request: Request) -> Response:
            principal = principal_of(request)
            incident_id = _incident_id(request.path_params["incident_id"])
            body = await _json_body(request)
            _no_one_else(body, "approver", principal)
            reason = _text(body, "reason", 1000)
            approver = principal.subject
            trace_id = trace_id_of(request)
            data = {
                "incident_id": incident_id,
                "approve": approve,
                "approver": approver,
                "groups": list(principal.groups),
                "granted_roles": _granted(principal),
                "principal": principal.as_audit(),
                "reason": reason,
            }
            event_id = await publish(DECIDE, DECISION_GIVEN, data, trace_id)
            log.info(
                "remediation.decision_accepted",
                incident_id=incident_id,
                approve=approve,
                approver=approver,
                trace_id=trace_id,
            )
            return JSONResponse(
                {
                    "accepted": True,
                    "decision": verb,
                    "incident_id": incident_id,
                    "event_id": event_id,
                    "trace_id": trace_id,
                },
                status_code=202,
            )

        decide.__name__ = f"{verb}_remediation"
        return decide

    @endpoint
    async def kill_switch(request: Request) -> Response:
        principal = principal_of(request)
        body = await _json_body(request)
        engaged = body.get("engaged")
        if not isinstance(engaged, bool):
            raise HttpError(422, "engaged must be true or false")
        if not engaged:  # engaging is an operator's safety stop; releasing it is an admin's call
            require_permission(request, "kill_switch.release")
        _no_one_else(body, "actor", principal)
        actor, reason = principal.subject, _text(body, "reason", 1000)
        trace_id = trace_id_of(request)
        event_id = await publish(
            KILL_SWITCH,
            KILL_SWITCH_SET,
            {"engaged": engaged, "actor": actor, "reason": reason, "principal": principal.as_audit()},
            trace_id,
        )
        if deps.kill_switch is not None:
            # Take effect now rather than when a worker reaches the command; the worker audits it.
            await run_in_threadpool(deps.kill_switch.set_kill_switch, engaged)
        log.warning(
            "remediation.kill_switch_requested", engaged=engaged, actor=actor, trace_id=trace_id
        )
        return JSONResponse(
            {"accepted": True, "engaged": engaged, "event_id": event_id, "trace_id": trace_id},
            status_code=202,
        )

    @endpoint
    async def escalate(request: Request) -> Response:
        principal = principal_of(request)
        incident_id = _incident_id(request.path_params["incident_id"])
        body = await _json_body(request)
        _no_one_else(body, "by", principal)
        trace_id = trace_id_of(request)
        # tier None: the next tier not yet paged, at once (the worker claims it; a repeat is a no-op).
        data = {"incident_id": incident_id, "tier": None, "by": principal.subject,
                "reason": _text(body, "reason", 1000), "principal": principal.as_audit()}
        event_id = await publish(ESCALATE, ESCALATION_REQUESTED, data, trace_id)
        log.info("incident.escalation_requested", incident_id=incident_id, by=principal.subject,
                 trace_id=trace_id)
        return JSONResponse({"accepted": True, "incident_id": incident_id, "event_id": event_id,
                             "trace_id": trace_id}, status_code=202)

    return [
        Route("/v1/incidents/{incident_id}/approve", decision_endpoint(True), methods=["POST"]),
        Route("/v1/incidents/{incident_id}/escalate", escalate, methods=["POST"]),
        Route("/v1/incidents/{incident_id}/deny", decision_endpoint(False), methods=["POST"]),
        Route("/v1/killswitch", kill_switch, methods=["POST"]),
    ]


def _no_one_else(body: dict[str, Any], name: str, principal: Principal) -> None:
    """A body may repeat who the caller is, never name someone else (that would be spoofing)."""
    if name not in body:
        return
    claimed = body[name]
    if not isinstance(claimed, str) or claimed.strip() != principal.subject:
        log.warning("auth.identity_spoofing_refused", field=name, subject=principal.subject,
                    claimed=str(claimed)[:128])
        raise HttpError(400, f"{name} is the authenticated caller ({principal.subject}); "
                             "it cannot name someone else")


def _granted(principal: Principal) -> list[str]:
    return granted_roles(principal)


def _incident_id(raw: str) -> int:
    # isdecimal on ASCII, not isdigit: "²" is a digit that int() refuses.
    if not (raw.isascii() and raw.isdecimal()) or (len(raw) <= 19 and int(raw) < 1):
        raise HttpError(400, f"incident id must be a positive integer, got {raw[:32]!r}")
    if len(raw) > 19 or int(raw) > limits.BIGINT_MAX:  # length first: int() refuses over 4,300 digits
        raise HttpError(400, f"incident id must be at most {limits.BIGINT_MAX}, got {raw[:32]!r}")
    return int(raw)


async def _json_body(request: Request) -> dict[str, Any]:
    require_json(request)
    raw = await read_body(request, MAX_BODY)
    try:
        body = limits.parse_json(raw)
    except limits.OutOfLimits as exc:
        raise HttpError(422, str(exc)) from exc
    except InvalidInput as exc:
        raise HttpError(400, str(exc)) from exc
    if not isinstance(body, dict):
        raise HttpError(422, "body must be a JSON object")
    return body


def _text(body: dict[str, Any], name: str, limit: int, *, required: bool = False) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise HttpError(422, f"{name} must be a string")
    value = value.strip()
    if required and not value:
        raise HttpError(422, f"{name} is required")
    if len(value) > limit:
        raise HttpError(422, f"{name} is longer than {limit} characters")
    return value
