"""Chat end to end on Redis + PostgreSQL: commands/s from a signed Slack request to the answer at response_url.

Runs `smartcloudops serve` and a `smartcloudops worker` on the chat queue as real processes. A local
HTTP server stands in for Slack's response_url. A mix of commands (status, list, show, why, history,
ack, help) from a few users is sent by a small thread pool:

- commands/s = commands / (last answer received - first request sent);
- acknowledgement latency: request sent -> the immediate 200 (Slack's budget is 3 s);
- answer latency: request sent -> the full answer arrives at response_url.

Baseline: the same commands through `POST /v1/chat/command` (bearer token, JSON, no signature or
replay check), so the ratio shows what the Slack edge costs. Parse latency is bench_nlu.py's.

    python -m benchmarks.bench_chat [--commands 400] [--concurrency 8] [--json results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import redis

from benchmarks.harness import bench_redis_url, drop_database, fresh_database, start
from benchmarks.machine import describe
from consumers.slack_signature import expected_signature

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = bench_redis_url(13)
TOKEN = "bench-chat-token-0123456789"
SECRET = "bench-chat-signing-secret"
USERS = ("U03BOB00003", "U02ALICE002", "U01ADMIN001", "U07VIEWER07")
LINES = (
    "status of checkout",
    "what's on fire",
    "show incident {n}",
    "why {n}",
    "history of checkout",
    "ack {n}",
    "list incidents for payments",
    "help",
    "status",
    "explain {n}",
)


class AnswerSink:
    """response_url stand-in: notes when each command's answer arrived."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.lock = threading.Lock()
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                with sink.lock:
                    sink.arrived.setdefault(self.path.rsplit("/", 1)[1], time.perf_counter())
                self.send_response(200)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/answer/{key}"

    def wait(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if all(key in self.arrived for key in keys):
                    return
            time.sleep(0.01)
        raise SystemExit(
            f"only {sum(k in self.arrived for k in keys)} of {len(keys)} answers arrived in {timeout:.0f}s"
        )


def seed_incidents(url: str, count: int = 5) -> list[int]:
    """Open a few incidents through the real alert store so answers have something to read."""
    from adapters.db.alert_store import AlertStore
    from adapters.db.engine import create_engine
    from consumers.alertmanager import parse_webhook
    from pipeline.correlation import CorrelationPolicy
    from pipeline.events import AlertBatch
    from smartcloudops.demo_payloads import alert, webhook

    engine = create_engine(url)
    store, now, opened = AlertStore(engine, CorrelationPolicy()), datetime.now(UTC), []
    for index, service in enumerate(("checkout", "payments", "search", "web", "auth")[:count]):
        raw = webhook(
            [
                alert(
                    "HighLatency",
                    service,
                    f"i-0a1b2c3d4e5f6{index:04d}",
                    status="firing",
                    starts_at=now - timedelta(minutes=5),
                )
            ]
        )
        batch = AlertBatch.from_data(parse_webhook(json.dumps(raw).encode()).to_data())
        opened.extend(store.record_batch(batch, trace_id="bench", now=now).opened)
    engine.dispose()
    return opened


def slack_request(client: httpx.Client, text: str, user: str, response_url: str, key: str) -> None:
    body = urlencode(
        {
            "team_id": "T1",
            "channel_id": "C0BENCH",
            "user_id": user,
            "command": "/ops",
            "text": text,
            "response_url": response_url,
            "trigger_id": key,
        }
    ).encode()
    stamp = str(int(time.time()))
    answer = client.post(
        "/v1/chat/slack",
        content=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": stamp,
            "X-Slack-Signature": expected_signature(SECRET.encode(), stamp, body),
        },
    )
    if answer.status_code != 200:
        raise SystemExit(f"/v1/chat/slack answered {answer.status_code}: {answer.text}")


def api_request(client: httpx.Client, text: str, user: str, response_url: str, key: str) -> None:
    answer = client.post(
        "/v1/chat/command",
        json={"user": user, "channel": "C0BENCH", "text": text, "response_url": response_url},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    if answer.status_code != 202:
        raise SystemExit(f"/v1/chat/command answered {answer.status_code}: {answer.text}")


def run_burst(
    base: str,
    sink: AnswerSink,
    send,
    label: str,
    commands: int,
    concurrency: int,
    incidents: list[int],
) -> dict[str, float]:
    keys = [f"{label}-{i}" for i in range(commands)]
    sent: dict[str, float] = {}
    acked: dict[str, float] = {}

    local = threading.local()  # one keep-alive connection per sending thread, as a real edge has

    def one(index: int) -> None:
        key = keys[index]
        text = LINES[index % len(LINES)].format(n=incidents[index % len(incidents)])
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, timeout=10)
        sent[key] = time.perf_counter()
        send(local.client, text, USERS[index % len(USERS)], sink.url(key), key)
        acked[key] = time.perf_counter()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(commands)))
    sink.wait(keys, timeout=300)
    finished = max(sink.arrived[key] for key in keys)
    answer_ms = sorted((sink.arrived[key] - sent[key]) * 1000 for key in keys)
    ack_ms = sorted((acked[key] - sent[key]) * 1000 for key in keys)
    return {
        "commands": commands,
        "commands_per_s": round(commands / (finished - started), 1),
        "ack_ms_median": round(statistics.median(ack_ms), 1),
        "ack_ms_p99": round(_p99(ack_ms), 1),
        "answer_ms_median": round(statistics.median(answer_ms), 1),
        "answer_ms_p99": round(_p99(answer_ms), 1),
    }


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def wait_healthy(base: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit("server did not come up")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--worker-concurrency", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()

    database, url = fresh_database("sco_bench_chat")
    redis.Redis.from_url(REDIS_URL).flushdb()
    workdir = Path(tempfile.mkdtemp(prefix="bench-chat-"))
    port = 18000 + os.getpid() % 1000
    env = {
        **os.environ,
        "SCO_BROKER_URL": REDIS_URL,
        "SCO_DATABASE_URL": url,
        "SCO_WEBHOOK_TOKEN": TOKEN,
        "SCO_SLACK_SIGNING_SECRET": SECRET,
        "SCO_CHAT_RESPONSE_URL_HOSTS": "127.0.0.1",
        "SCO_HTTP_PORT": str(port),
        "SCO_DATA_DIR": str(workdir),
        "SCO_LOG_LEVEL": "WARNING",
    }
    procs: list[subprocess.Popen] = []
    try:
        migrated = subprocess.run(
            [sys.executable, "-m", "smartcloudops", "db", "upgrade"],
            env=env,
            cwd=ROOT,
            check=False,
            capture_output=True,
            text=True,
        )
        if migrated.returncode != 0:
            raise SystemExit(f"migration failed: {migrated.stderr}")
        incidents = seed_incidents(url)
        procs.append(start(["serve"], env, workdir / "serve.log"))
        procs.append(
            start(
                ["worker", "--queues", "chat", "--concurrency", str(args.worker_concurrency)],
                env,
                workdir / "worker.log",
            )
        )
        base = f"http://127.0.0.1:{port}"
        wait_healthy(base)
        sink = AnswerSink()
        run_burst(
            base, sink, slack_request, "warmup", 40, args.concurrency, incidents
        )  # model load, pools
        slack = run_burst(
            base, sink, slack_request, "slack", args.commands, args.concurrency, incidents
        )
        api = run_burst(base, sink, api_request, "api", args.commands, args.concurrency, incidents)
        load = os.getloadavg()
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
        drop_database(database)
        redis.Redis.from_url(REDIS_URL).flushdb()
    result = {
        "slack": slack,
        "api_baseline": api,
        "slack_vs_api_commands_per_s": round(slack["commands_per_s"] / api["commands_per_s"], 2),
        "worker_concurrency": args.worker_concurrency,
        "client_concurrency": args.concurrency,
        "load_average_after": [round(x, 2) for x in load],
        "at": datetime.now(UTC).isoformat(),
        "machine": describe(("celery", "redis", "psycopg", "sqlalchemy", "scikit-learn")),
    }
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
