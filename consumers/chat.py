"""Chat commands in: Slack slash commands (signed form posts) and a generic JSON endpoint.

Both validate, authenticate and publish one `chat.handle_command` message onto the `chat`
queue; a worker understands the text, acts and answers at the response_url. Slack wants an
answer within 3 s, so the Slack endpoint answers at once with an ephemeral acknowledgement and
never waits for the work. A script on the generic endpoint may send `"wait": true` (or
seconds): the request then returns the worker's answer (200), or 202 when none came in time.

A line whose answer only reads (a status, a list, an incident, its history) is answered here
instead, in the response itself, when the deployment allows it (`ApiDeps.chat_reads`): for
Slack, and for a waiting caller that gave no response_url. Nothing is published for it. If that
answer fails (the store is down, the model is not trained yet), the line is queued as usual.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

import anyio
import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.slack_responder import ResponseUrlRefused, check_response_url
from consumers.access import granted_roles, principal_of
from consumers.deps import ApiDeps
from consumers.publisher import publish as publish_event
from consumers.http import HttpError, endpoint, read_body, require_json, trace_id_of
from consumers.slack_signature import SlackSignatureError, verify_slack_request
from services.ports import ReplayGuard
from pipeline import limits
from pipeline.errors import InvalidInput, TransientError
from pipeline.events import EVENT_NAMESPACE, CloudEvent, envelope
from pipeline.nlu.context import check_chat_id
from pipeline.nlu.replies import acknowledgement_reply, error_reply
from adapters.observability import metrics


log = structlog.get_logger("consumers.chat")

HANDLE_CHAT_COMMAND = "chat.handle_command"
CHAT_COMMAND_RECEIVED = "dev.smartcloudops.chat.command.received"
SLACK_SOURCE = "urn:smartcloudops:chat:slack"
API_SOURCE = "urn:smartcloudops:chat:api"
MAX_CHAT_BODY_BYTES = 64 * 1024
MAX_TEXT_CHARS = 2000
MAX_WAIT_S = 30.0  # a waiting caller holds a server thread; the answer normally comes in under a second
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"
# Slack shows nothing for a slash command not answered within 3 s: a read that takes longer than this
# (a slow store) is left to the queue, and the worker answers at the response_url.
EDGE_READ_BUDGET_S = 1.5
# Reads run in one thread at a time: several threads doing short database and Redis round trips fought
# for the GIL (benchmarks/bench_chat_capacity.py: one thread answered ~1.3x the reads a second of up to
# forty, at ~0.7x the server CPU per read). A read waiting its turn past the budget is queued instead.
EDGE_READ_THREADS = 1


def chat_command_data(
    *,
    user: str,
    channel: str,
    text: str,
    response_url: str | None,
    source: str,
    user_name: str = "",
    command: str = "",
    team: str = "",
) -> dict[str, Any]:
    """The `data` of a chat command event: validated ids, bounded text, an allowlisted response_url."""
    return {
        "user": user,
        "channel": channel,
        "text": text,
        "response_url": response_url,
        "source": source,
        "user_name": user_name,
        "command": command,
        "team": team,
    }


def routes(deps: ApiDeps) -> list[Route]:
    """`POST /v1/chat/slack` and `POST /v1/chat/command`."""
    settings = deps.settings
    guard = deps.chat_replay_guard
    secret = (
        settings.slack_signing_secret.get_secret_value().encode()
        if settings.slack_signing_secret
        else b""
    )
    hosts = settings.response_url_hosts
    queue = settings.queues.chat
    reads = deps.chat_reads
    edge_threads = anyio.CapacityLimiter(EDGE_READ_THREADS)

    async def publish(event: CloudEvent) -> None:
        try:
            await publish_event(deps.publisher, HANDLE_CHAT_COMMAND, event)
        except TransientError as exc:
            metrics.publish_failures.labels(queue).inc()
            log.warning("chat.broker_unavailable", event_id=event.id, error=str(exc))
            raise
        metrics.events_published.labels(CHAT_COMMAND_RECEIVED, queue).inc()

    async def answer_here(event: CloudEvent) -> dict[str, Any] | None:
        """The answer to a line that only reads, from this process; None: publish the line."""
        if reads is None:
            return None
        try:
            with anyio.fail_after(EDGE_READ_BUDGET_S):
                # Abandoned when late: the read still finishes in its thread, and a worker answers the line.
                answer = await anyio.to_thread.run_sync(reads.answer, event, abandon_on_cancel=True,
                                                        limiter=edge_threads)
        except TimeoutError:
            log.warning("chat.edge_answer_late", event_id=event.id, budget_s=EDGE_READ_BUDGET_S)
            return None
        except Exception as exc:  # noqa: BLE001 - any failure here leaves the line to the queue and a worker
            log.warning("chat.edge_answer_failed", event_id=event.id, error=repr(exc)[:300])
            return None
        if answer is not None:
            metrics.chat_edge_answers.inc()
            log.info("chat.answered_here", source=event.data["source"], event_id=event.id,
                     user=event.data["user"], channel=event.data["channel"])
        return answer

    @endpoint
    async def slack_command(request: Request) -> Response:
        if not secret:
            raise HttpError(503, "Slack commands are not configured: set SCO_SLACK_SIGNING_SECRET")
        body = await read_body(request, MAX_CHAT_BODY_BYTES)
        await run_in_threadpool(_verify, secret, request, body, guard)
        form = _form(request, body)
        data = _slack_data(form, hosts)
        event = envelope(
            CHAT_COMMAND_RECEIVED,
            SLACK_SOURCE,
            data,
            event_id=_slack_event_id(form, request),
            trace_id=trace_id_of(request),
            now=datetime.now(UTC),
        )
        answer = await answer_here(event)
        if answer is not None:
            return JSONResponse(answer)  # Slack shows a slash command's response as its answer
        try:
            await publish(event)
        except TransientError:
            # Slack never retries a slash command; an ephemeral line tells the user, a 5xx would not.
            return JSONResponse(
                error_reply("SmartCloudOps cannot take commands right now; try again in a minute.")
            )
        log.info(
            "chat.accepted",
            source="slack",
            event_id=event.id,
            user=data["user"],
            channel=data["channel"],
        )
        shown = data["text"][:120] or "help"
        return JSONResponse(acknowledgement_reply(f"Working on: {shown}"))

    @endpoint
    async def generic_command(request: Request) -> Response:
        principal = principal_of(request)
        require_json(request)
        body = await read_body(request, MAX_CHAT_BODY_BYTES)
        payload = dict(_json_object(body))
        # The chat user is the caller; a body may repeat it but never name someone else.
        claimed = payload.setdefault("user", principal.subject)
        if claimed != principal.subject:
            log.warning("auth.identity_spoofing_refused", field="user", subject=principal.subject,
                        claimed=str(claimed)[:128])
            raise HttpError(400, f"user is the authenticated caller ({principal.subject}); "
                                 "it cannot name someone else")
        data = _api_data(payload, hosts)
        wait_s = _wait_seconds(payload.get("wait"))
        if wait_s and deps.chat_answers is None:
            raise HttpError(422, "this server cannot wait for chat answers (no answer box configured)")
        data["wait"] = bool(wait_s)
        data["groups"] = list(principal.groups)
        data["granted_roles"] = granted_roles(principal)  # an API key's role, re-checked by the worker
        data["principal"] = principal.as_audit()
        trace_id = trace_id_of(request)
        event = envelope(
            CHAT_COMMAND_RECEIVED,
            API_SOURCE,
            data,
            event_id=str(uuid.uuid4()),
            trace_id=trace_id,
            now=datetime.now(UTC),
        )
        # A caller that named a response_url is answered there, by the worker, as it asked.
        answer = await answer_here(event) if wait_s and data["response_url"] is None else None
        if answer is not None:
            return JSONResponse({"event_id": event.id, "trace_id": trace_id, "answer": answer})
        try:
            await publish(event)
        except TransientError as exc:
            raise HttpError(503, "broker unavailable, retry later", {"Retry-After": "5"}) from exc
        log.info(
            "chat.accepted",
            source="api",
            event_id=event.id,
            user=data["user"],
            channel=data["channel"],
        )
        if wait_s and deps.chat_answers is not None:
            answer = await run_in_threadpool(deps.chat_answers.wait, event.id, wait_s)
            if answer is not None:
                return JSONResponse({"event_id": event.id, "trace_id": trace_id, "answer": answer})
            log.info("chat.wait_timed_out", event_id=event.id, wait_s=wait_s)
        return JSONResponse({"event_id": event.id, "trace_id": trace_id}, status_code=202)

    return [
        Route("/v1/chat/slack", slack_command, methods=["POST"]),
        Route("/v1/chat/command", generic_command, methods=["POST"]),
    ]


def _verify(secret: bytes, request: Request, body: bytes, guard: ReplayGuard) -> None:
    try:
        verify_slack_request(
            secret,
            request.headers.get("x-slack-request-timestamp"),
            request.headers.get("x-slack-signature"),
            body,
            time.time(),
            guard,
        )
    except SlackSignatureError as exc:
        raise HttpError(401, str(exc)) from exc
    except TransientError as exc:
        raise HttpError(503, "cannot check for replayed requests right now, retry later") from exc


def _form(request: Request, body: bytes) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM_CONTENT_TYPE:
        raise HttpError(
            415, f"content type must be {FORM_CONTENT_TYPE}, got {content_type or 'none'!r}"
        )
    try:
        parsed = parse_qs(
            body.decode("utf-8"),
            keep_blank_values=True,
            strict_parsing=bool(body),
            max_num_fields=64,
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise HttpError(400, f"body is not a valid form: {exc}") from exc
    form = {name: values[0] for name, values in parsed.items()}
    try:
        limits.check_json_value(form, "form")  # %00 decodes to NUL, which no store can hold
    except limits.OutOfLimits as exc:
        raise HttpError(422, str(exc)) from exc
    return form


def _slack_data(form: Mapping[str, str], hosts: frozenset[str]) -> dict[str, Any]:
    user, channel = _ids(form.get("user_id"), form.get("channel_id"))
    text = _text(form.get("text", ""))
    try:
        response_url = check_response_url(form.get("response_url"), hosts)
    except ResponseUrlRefused as exc:
        raise HttpError(400, str(exc)) from exc
    return chat_command_data(
        user=user,
        channel=channel,
        text=text,
        response_url=response_url,
        source="slack",
        user_name=form.get("user_name", "")[:80],
        command=form.get("command", "")[:32],
        team=form.get("team_id", "")[:32],
    )


def _api_data(payload: Mapping[str, Any], hosts: frozenset[str]) -> dict[str, Any]:
    user, channel = _ids(payload.get("user"), payload.get("channel"))
    text = payload.get("text")
    if not isinstance(text, str):
        raise HttpError(422, "field 'text' must be a string")
    response_url = payload.get("response_url")
    if response_url is not None:
        try:
            response_url = check_response_url(response_url, hosts)
        except ResponseUrlRefused as exc:
            raise HttpError(422, str(exc)) from exc
    return chat_command_data(
        user=user, channel=channel, text=_text(text), response_url=response_url, source="api"
    )


def _wait_seconds(value: Any) -> float:
    """`"wait": true` (MAX_WAIT_S) or a number of seconds up to MAX_WAIT_S; absent or false: 0."""
    if value is None or value is False:
        return 0.0
    if value is True:
        return MAX_WAIT_S
    if isinstance(value, int | float) and 0 < value <= MAX_WAIT_S:
        return float(value)
    raise HttpError(422, f"field 'wait' must be true, false or a number of seconds in (0, {MAX_WAIT_S:g}]")


def _ids(user: Any, channel: Any) -> tuple[str, str]:
    if user is None or channel is None:
        missing = "user" if user is None else "channel"
        raise HttpError(422, f"field {missing!r} is required")
    try:
        return check_chat_id("user", user), check_chat_id("channel", channel)
    except InvalidInput as exc:
        raise HttpError(422, str(exc)) from exc


def _text(text: str) -> str:
    if len(text) > MAX_TEXT_CHARS:
        raise HttpError(422, f"text is longer than {MAX_TEXT_CHARS} characters")
    return text.strip()


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        payload = limits.parse_json(body)
    except limits.OutOfLimits as exc:
        raise HttpError(422, str(exc)) from exc
    except InvalidInput as exc:
        raise HttpError(400, str(exc)) from exc
    if not isinstance(payload, dict):
        raise HttpError(422, "body must be a JSON object with 'user', 'channel' and 'text'")
    return payload


def _slack_event_id(form: Mapping[str, str], request: Request) -> str:
    # trigger_id is unique per invocation; the signature (already replay-checked) otherwise.
    key = form.get("trigger_id") or request.headers.get("x-slack-signature", "")
    return str(uuid.uuid5(EVENT_NAMESPACE, f"slack-command|{key}"))
