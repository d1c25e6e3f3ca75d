"""The ASGI application: webhooks in, events onto the broker; health, metrics and the read API."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from typing import Callable

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from consumers import chat, metrics_intake, remediation_api
from consumers.alertmanager import MalformedJson, parse_webhook
from consumers.console import routes as console
from consumers.deps import ApiDeps
from consumers.access import guarded
from consumers.auth import Authenticator, static_credentials
from consumers.http import HttpError, MetricsMiddleware, endpoint, read_body, require_json, trace_id_of
from consumers.publisher import publish
from services.ports import IncidentReads
from pipeline import limits
from pipeline.errors import InvalidInput, NotFound, TransientError
from pipeline.events import ALERTMANAGER_BATCH, batch_event_id, envelope
from adapters.observability import metrics

log = structlog.get_logger("consumers")

RECORD_ALERT_BATCH = "alerts.record_batch"


# Each capability's HTTP module contributes its routes: `routes(deps) -> list[Route]`.
ROUTE_CONTRIBUTORS: tuple[Callable[[ApiDeps], list[Route]], ...] = (
    metrics_intake.routes, chat.routes, remediation_api.routes,
)


def create_app(deps: ApiDeps) -> Starlette:
    """Build the application around its dependencies."""
    settings = deps.settings
    authenticator = deps.authenticator or Authenticator(static=static_credentials(settings), roles=deps.roles)
    queue = settings.queues.events

    @endpoint
    async def alertmanager_webhook(request: Request) -> Response:
        require_json(request)
        body = await read_body(request, settings.max_body_bytes)
        try:
            batch = parse_webhook(body, settings.grouping_labels)
        except MalformedJson as exc:
            raise HttpError(400, str(exc)) from exc
        except InvalidInput as exc:
            raise HttpError(422, str(exc)) from exc
        trace_id = trace_id_of(request)
        event = envelope(ALERTMANAGER_BATCH, batch.external_url or "urn:smartcloudops:alertmanager",
                         batch.to_data(), event_id=batch_event_id(batch.alerts), trace_id=trace_id,
                         now=datetime.now(timezone.utc))
        try:
            await publish(deps.publisher, RECORD_ALERT_BATCH, event)
        except TransientError as exc:
            metrics.publish_failures.labels(queue).inc()
            log.warning("webhook.broker_unavailable", trace_id=trace_id, event_id=event.id, error=str(exc))
            raise HttpError(503, "broker unavailable, retry later", {"Retry-After": "5"}) from exc
        metrics.events_published.labels(ALERTMANAGER_BATCH, queue).inc()
        log.info("webhook.accepted", trace_id=trace_id, event_id=event.id, alerts=len(batch.alerts),
                 receiver=batch.receiver, truncated_alerts=batch.truncated_alerts)
        return JSONResponse({"accepted": len(batch.alerts), "event_id": event.id, "trace_id": trace_id},
                            status_code=202)

    @endpoint
    async def list_incidents(request: Request) -> Response:
        params = request.query_params
        status = params.get("status")
        if status not in (None, "open", "resolved"):
            raise HttpError(400, "status must be 'open' or 'resolved'")
        limit = _int_param(params.get("limit"), "limit", default=50, low=1, high=500)
        before = _int_param(params.get("before"), "before", default=None, low=1)
        page = await run_in_threadpool(_queries(deps).list, status=status, service=params.get("service"),
                                       limit=limit, before=before)
        return JSONResponse(page)

    @endpoint
    async def get_incident(request: Request) -> Response:
        incident_id = _int_param(request.path_params["incident_id"], "incident id", default=None, low=1)
        try:
            incident = await run_in_threadpool(_queries(deps).get, incident_id)
        except NotFound as exc:
            raise HttpError(404, str(exc)) from exc
        if deps.remediation is not None:
            incident.update(await run_in_threadpool(deps.remediation.for_incident, incident_id))
        return JSONResponse(incident)

    async def healthz(_: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(_: Request) -> Response:
        checks = {"broker": _check(deps.publisher.ping)}
        if deps.database_ping is not None:
            checks["database"] = _check(deps.database_ping)
        results = {name: await run_in_threadpool(check) for name, check in checks.items()}
        ready = all(result == "ok" for result in results.values())
        if not ready:  # the details go to the log, not to whoever asks
            log.warning("readiness.not_ready", checks=results)
        return JSONResponse({"ready": ready}, status_code=200 if ready else 503)

    async def prometheus_metrics(_: Request) -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    routes = [
        # First: the router tries routes in order, and the webhook is by far the most called (no other
        # route has its path, so the order decides nothing else).
        Route("/v1/alerts/alertmanager", alertmanager_webhook, methods=["POST"]),
        *(route for contribute in ROUTE_CONTRIBUTORS for route in contribute(deps)),
        Route("/v1/incidents", list_incidents, methods=["GET"]),
        Route("/v1/incidents/{incident_id}", get_incident, methods=["GET"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", prometheus_metrics, methods=["GET"]),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette):  # type: ignore[no-untyped-def]
        yield
        aclose = getattr(deps.publisher, "aclose", None)
        if aclose is not None:
            await aclose()

    # The console signs people in with its own session cookies and checks each form's permission.
    app = Starlette(routes=[*guarded(routes, authenticator), *console.routes(deps)], exception_handlers={Exception: _internal_error}, lifespan=lifespan)
    app.add_middleware(MetricsMiddleware)
    return app


async def _internal_error(request: Request, exc: Exception) -> Response:
    # A fault of ours: 500 (Alertmanager retries 5xx), logged with its cause, no internals in the answer.
    log.exception("http.internal_error", path=request.url.path, error=repr(exc))
    return JSONResponse({"error": "internal error; the request was not accepted, retry later"}, status_code=500)


def _queries(deps: ApiDeps) -> IncidentReads:
    if deps.incidents is None:
        raise HttpError(503, "the read API has no database configured")
    return deps.incidents


def _check(probe: Callable[[], None]) -> Callable[[], str]:
    def run() -> str:
        try:
            probe()
        except Exception as exc:  # noqa: BLE001 - readiness reports, it does not raise
            return f"unavailable: {exc}"
        return "ok"

    return run


def _int_param(raw: str | None, name: str, *, default: int | None, low: int, high: int | None = None) -> int | None:
    if raw is None or raw == "":
        return default
    # isdecimal on ASCII, not isdigit: "²" is a digit that int() refuses. Ids are BIGINT.
    if not (raw.isascii() and raw.isdecimal()) or len(raw) > 19 or int(raw) > limits.BIGINT_MAX:
        raise HttpError(400, f"{name} must be an integer from {low} to {high or limits.BIGINT_MAX}, got {raw[:32]!r}")
    value = int(raw)
    if value < low or (high is not None and value > high):
        raise HttpError(400, f"{name} must be between {low} and {high or 'any'}, got {value}")
    return value
