"""A chat test bench: a real server and chat worker, a local response_url, signed Slack requests."""

from __future__ import annotations

import base64
import json
import queue
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlencode

import httpx
import redis

from consumers.slack_signature import expected_signature

SIGNING_SECRET = "chat-integration-signing-secret"


class ResponseSink:
    """A local HTTP server standing in for Slack's response_url: it keeps every JSON answer."""

    def __init__(self) -> None:
        self.answers: queue.Queue[tuple[str, dict[str, Any]]] = queue.Queue()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                sink.answers.put((self.path, json.loads(self.rfile.read(length))))
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def next_answer(self, timeout: float = 30.0) -> tuple[str, dict[str, Any]]:
        return self.answers.get(timeout=timeout)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def chat_env(redis_url: str, pg_url: str) -> dict[str, str]:
    return {
        "SCO_BROKER_URL": redis_url,
        "SCO_DATABASE_URL": pg_url,
        "SCO_SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SCO_CHAT_RESPONSE_URL_HOSTS": "hooks.slack.com,127.0.0.1",
        "SCO_LOG_LEVEL": "INFO",
    }


def slack_command(
    client: httpx.Client,
    text: str,
    *,
    user: str,
    response_url: str,
    channel: str = "C0OPS0001",
    trigger: str | None = None,
) -> httpx.Response:
    """POST a slash command signed like Slack signs it."""
    body = urlencode(
        {
            "token": "legacy",
            "team_id": "T0001",
            "channel_id": channel,
            "user_id": user,
            "user_name": user.lower(),
            "command": "/ops",
            "text": text,
            "response_url": response_url,
            "trigger_id": trigger or f"{time.time_ns()}.{user}",
        }
    ).encode()
    stamp = str(int(time.time()))
    return client.post(
        "/v1/chat/slack",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": expected_signature(SIGNING_SECRET.encode(), stamp, body),
        },
    )


def answered_here(response: httpx.Response) -> dict[str, Any] | None:
    """The answer in a slash command's own response (a read the server answered), or None for the
    acknowledgement of a line queued for a worker, whose answer comes at the response_url."""
    body = response.json()
    return None if str(body.get("text", "")).startswith("Working on: ") else body


def queued_events(redis_url: str, queue_name: str) -> list[tuple[str, dict[str, Any]]]:
    """(task name, CloudEvent dict) of every message waiting on a Redis broker queue."""
    client = redis.Redis.from_url(redis_url)
    messages = []
    for raw in client.lrange(queue_name, 0, -1):
        message = json.loads(raw)
        args, _, _ = json.loads(base64.b64decode(message["body"]))
        messages.append((message["headers"]["task"], args[0]))
    client.close()
    return messages
