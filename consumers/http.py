"""HTTP plumbing shared by the endpoints: JSON errors, bounded body reading, auth, trace ids."""

from __future__ import annotations

import re
import time
from typing import Any, Awaitable, Callable

import structlog
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pipeline.events import new_trace_id
from adapters.observability import metrics

log = structlog.get_logger("consumers.http")

TRACEPARENT = re.compile(r"^[0-9a-f]{2}-(?P<trace>[0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$")


CLIENT_CLOSED_REQUEST = 499  # nginx's status for a client that went away before the answer


class HttpError(Exception):
    """An HTTP answer that is not a success, with a message for the caller."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


def error_response(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def require_json(request: Request) -> None:
    """415 unless the body is declared as JSON."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/json":
        raise HttpError(415, f"content type must be application/json, got {content_type or 'none'!r}")


async def read_body(request: Request, limit: int) -> bytes:
    """The whole body, or 413 as soon as it is known to exceed `limit` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise HttpError(400, "Content-Length is not a number")
        if int(declared) > limit:
            raise HttpError(413, f"body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise HttpError(413, f"body exceeds the limit of {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect as exc:
        # The caller hung up mid-body: nothing was accepted and it is no fault of ours, so no 500 and no
        # page; smartcloudops_http_requests counts it under status 499.
        log.info("http.client_disconnected", route=_route_of(request.scope), bytes_read=size)
        raise HttpError(CLIENT_CLOSED_REQUEST, "client disconnected before the body was read") from exc
    return b"".join(chunks)


def trace_id_of(request: Request) -> str:
    """The W3C traceparent's trace id when the caller sent one, else a new one."""
    match = TRACEPARENT.match(request.headers.get("traceparent", ""))
    return match.group("trace") if match else new_trace_id()


Handler = Callable[[Request], Awaitable[Any]]


def endpoint(handler: Handler) -> Handler:
    """Turn HttpError into its JSON answer; anything unexpected into a 500 that hides internals."""

    async def wrapped(request: Request) -> Any:
        try:
            return await handler(request)
        except HttpError as exc:
            return error_response(exc.status, exc.message, exc.headers)

    wrapped.__name__ = handler.__name__
    return wrapped


class MetricsMiddleware:
    """Counts and times every request by its route template (not its raw path: bounded label values)."""

    CACHED_SERIES = 1024  # label sets whose children are kept (routes are templates, so few are ever seen)

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        # Each request's counter and histogram child, found once per label set: labels() builds its key
        # and takes the metric's lock every time.
        self._series: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = {"code": 500}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            requests, duration = self._children(_route_of(scope), scope["method"], status["code"])
            requests.inc()
            duration.observe(time.perf_counter() - started)

    def _children(self, route: str, method: str, code: int) -> tuple[Any, Any]:
        key = (route, method, code)
        found = self._series.get(key)
        if found is None:
            found = metrics.http_requests.labels(route, method, str(code)), metrics.http_duration.labels(route)
            if len(self._series) < self.CACHED_SERIES:
                self._series[key] = found
        return found


def _route_of(scope: Scope) -> str:
    route = scope.get("route")
    return getattr(route, "path", None) or "unmatched"
