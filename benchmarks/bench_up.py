"""`smartcloudops up` as an operator runs it: memory of every process, alerts end to end, chat during alerts.

One `up` (server and its workers, Redis + PostgreSQL) per source tree, this tree and a baseline tree
(a git ref exported under .bench/, e.g. `main`), in alternating rounds so a shared machine's load
falls on both alike. Per run:

1. idle: after a warm-up (an alert batch, a few chat commands), the proportional set size (PSS: shared
   pages divided among their sharers) of every process of `up`, summed;
2. alerts with chat: a number of unique alerts (20 a request) posted as fast as 8 connections allow
   while chat commands arrive at a steady rate until the last alert is stored;
   alerts/s = alerts / (last commit - first send),
   and each command's latency from request to its answer at response_url (a local sink);
3. chat capacity: a burst of commands, no alerts; commands/s = commands / (last answer - first send).

PSS of every process of `up` is sampled every 0.5 s throughout; the peak is the largest sum.

    python -m benchmarks.bench_up [--baseline main] [--rounds 2] [--alerts 6000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

from benchmarks.harness import (ROOT, bench_redis_url, drop_database, fresh_database, free_port, process_tree,
                                pss_kb, results_dir)
from benchmarks.bench_chat import AnswerSink
from benchmarks.machine import describe
from smartcloudops.demo_payloads import alert, webhook

TOKEN = "bench-up-token-0123456789"
CHAT_LINES = ("list incidents", "status of checkout", "help", "what's on fire", "status")


class PssSampler:
    """Sums the PSS of every process of a tree every `interval` seconds; keeps the largest sum."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        self.pid, self.interval = pid, interval
        self.peak_kb, self.peak_processes = 0, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> tuple[int, dict[int, int]]:
        per = {pid: pss_kb(pid) for pid in process_tree(self.pid)}
        return sum(per.values()), per

    def _run(self) -> None:
        while not self._stop.is_set():
            total, per = self.sample()
            if total > self.peak_kb:
                self.peak_kb, self.peak_processes = total, per
            time.sleep(self.interval)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def baseline_tree(ref: str) -> Path:
    """The files of `ref` under .bench/baseline-<commit> (exported once, not a registered git worktree)."""
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--verify", f"{ref}^{{commit}}"], check=True,
                            capture_output=True, text=True).stdout.strip()
    path = ROOT / ".bench" / f"baseline-{commit[:12]}"
    if not path.exists():
        partial = path.with_name(path.name + ".partial")
        partial.mkdir(parents=True, exist_ok=True)
        archive = subprocess.Popen(["git", "-C", str(ROOT), "archive", commit], stdout=subprocess.PIPE)
        subprocess.run(["tar", "-x", "-C", str(partial)], stdin=archive.stdout, check=True)
        if archive.wait() != 0:
            raise SystemExit(f"git archive {ref} failed")
        partial.rename(path)
    return path


def unique_bodies(tag: str, requests: int, per_request: int) -> list[bytes]:
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    bodies = []
    for k in range(requests):
        alerts = [alert("BenchLoad", f"svc-{tag}-{k % 40}", f"i-{uuid.uuid4().hex[:17]}", status="firing",
                        starts_at=start + timedelta(milliseconds=i)) for i in range(per_request)]
        bodies.append(json.dumps(webhook(alerts)).encode())
    return bodies


async def post_for(base: str, bodies: list[bytes], seconds: float, connections: int = 8) -> int:
    """Post bodies until `seconds` pass or they run out; how many alerts were acknowledged."""
    headers = {"Authorization": f"Bearer {TOKEN}-webhook", "Content-Type": "application/json"}
    deadline = time.perf_counter() + seconds
    todo = list(reversed(bodies))
    accepted = 0
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30) as client:
        async def one() -> None:
            nonlocal accepted
            while todo and time.perf_counter() < deadline:
                body = todo.pop()
                answer = await client.post("/v1/alerts/alertmanager", content=body)
                if answer.status_code != 202:
                    raise SystemExit(f"webhook answered {answer.status_code}: {answer.text}")
                accepted += len(json.loads(body)["alerts"])
        await asyncio.gather(*(one() for _ in range(connections)))
    return accepted


def send_chat(client: httpx.Client, sink: AnswerSink, key: str, index: int) -> None:
    answer = client.post("/v1/chat/command", json={"user": "api-token", "channel": "C0BENCH",
                                                    "text": CHAT_LINES[index % len(CHAT_LINES)],
                                                    "response_url": sink.url(key)})
    if answer.status_code != 202:
        raise SystemExit(f"/v1/chat/command answered {answer.status_code}: {answer.text}")


def chat_steady(base: str, sink: AnswerSink, tag: str, rate: float, stop: threading.Event,
                sent: dict[str, float]) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30) as client:
        started, k = time.perf_counter(), 0
        while not stop.is_set():
            time.sleep(max(0.0, started + k / rate - time.perf_counter()))  # open loop: command k at k/rate
            key = f"{tag}-{k}"
            sent[key] = time.perf_counter()
            send_chat(client, sink, key, k)
            k += 1


def chat_burst(base: str, sink: AnswerSink, tag: str, commands: int, concurrency: int = 16) -> dict:
    keys = [f"{tag}-{i}" for i in range(commands)]
    sent: dict[str, float] = {}
    local = threading.local()

    def one(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        sent[keys[index]] = time.perf_counter()
        send_chat(local.client, sink, keys[index], index)

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(commands)))
    sink.wait(keys, timeout=300)
    latencies = sorted((sink.arrived[k] - sent[k]) * 1000 for k in keys)
    return {"commands": commands, "commands_per_s": round(commands / (max(sink.arrived[k] for k in keys) - started), 1),
            "p50_ms": round(statistics.median(latencies), 1), "p99_ms": round(_p99(latencies), 1)}


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, int(len(values) * 0.99))]


def alert_rows(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM alerts")).scalar_one()


def wait_until(condition, timeout: float, what: str) -> float:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return time.perf_counter()
        time.sleep(0.1)
    raise SystemExit(f"timed out after {timeout:.0f}s waiting for {what}")


def up_environment(tree: Path, prefix: str) -> tuple[str, str, Path, int, dict[str, str]]:
    """A fresh database, the flushed bench Redis database, a data dir and a port for one `up` of `tree`:
    (database name, its URL, data dir, port, the environment `up` runs with)."""
    database, url = fresh_database(prefix)
    redis_url = bench_redis_url()
    redis.Redis.from_url(redis_url).flushdb()
    work = Path(tempfile.mkdtemp(prefix=f"{prefix.replace('_', '-')}-"))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(tree), "SCO_BROKER_URL": redis_url, "SCO_REDIS_URL": redis_url,
           "SCO_DATABASE_URL": url, "SCO_API_TOKEN": TOKEN, "SCO_API_TOKEN_ROLE": "admin",
           "SCO_WEBHOOK_TOKEN": f"{TOKEN}-webhook", "SCO_CHAT_RESPONSE_URL_HOSTS": "127.0.0.1",
           "SCO_DATA_DIR": str(work), "SCO_LOG_LEVEL": "WARNING", "SCO_HTTP_PORT": str(port),
           "SCO_WORKER_METRICS_PORT": "0"}
    return database, url, work, port, env


def run_up(tree: Path, args: argparse.Namespace, label: str) -> dict:
    database, url, work, port, env = up_environment(tree, "sco_bench_up")
    redis_url = env["SCO_BROKER_URL"]
    base = f"http://127.0.0.1:{port}"
    engine = sa.create_engine(url)
    with (work / "up.log").open("w") as log:
        up = subprocess.Popen([sys.executable, "-m", "smartcloudops", "up"], env=env, cwd=tree, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    sink = AnswerSink()
    sampler = None
    try:
        wait_until(lambda: _ready(base, up), 180, f"{label}: up to answer /readyz (see {work / 'up.log'})")
        # Warm-up: every worker has taken a message (pools started, models and caches loaded).
        asyncio.run(post_for(base, unique_bodies("warm", 5, 20), 60))
        chat_burst(base, sink, f"{label}-warm", 20, 4)
        wait_until(lambda: alert_rows(engine) >= 100, 300, f"{label}: warm-up alerts stored")
        time.sleep(3)
        sampler = PssSampler(up.pid)
        idle_kb, idle_per = sampler.sample()
        processes = len(idle_per)

        before = alert_rows(engine)
        bodies = unique_bodies("load", args.alerts // 20, 20)
        stop, sent = threading.Event(), {}
        chatter = threading.Thread(target=chat_steady, args=(base, sink, f"{label}-steady", args.chat_rate, stop, sent),
                                   daemon=True)
        first = time.perf_counter()
        chatter.start()
        accepted = asyncio.run(post_for(base, bodies, 600))
        # Chat goes on until the alerts are stored: the commands compete with the alert backlog.
        last = wait_until(lambda: alert_rows(engine) >= before + accepted, 900,
                          f"{label}: {accepted} alerts stored (had {alert_rows(engine) - before})")
        stop.set()
        chatter.join()
        keys = list(sent)
        print(f"{label}: {accepted} alerts stored; waiting for {len(keys)} chat answers", flush=True)
        sink.wait(keys, timeout=300)
        during = sorted((sink.arrived[k] - sent[k]) * 1000 for k in keys)
        print(f"{label}: chat capacity burst", flush=True)
        capacity = chat_burst(base, sink, f"{label}-burst", args.chat_commands)
        sampler.stop()
        return {"tree": label, "processes": processes, "pss_idle_mb": round(idle_kb / 1024, 1),
                "pss_peak_mb": round(sampler.peak_kb / 1024, 1),
                "pss_idle_per_process_mb": sorted((round(v / 1024, 1) for v in idle_per.values()), reverse=True),
                "pss_peak_per_process_mb": sorted((round(v / 1024, 1) for v in sampler.peak_processes.values()),
                                                  reverse=True),
                "alerts": accepted, "alerts_per_s": round(accepted / (last - first), 1),
                "chat_during_alerts": {"commands": len(keys), "rate_per_s": args.chat_rate,
                                       "p50_ms": round(statistics.median(during), 1), "p99_ms": round(_p99(during), 1)},
                "chat_capacity": capacity}
    finally:
        if sampler is not None:
            sampler.stop()
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
            up.wait()
        try:
            os.killpg(up.pid, signal.SIGKILL)  # whatever outlived it (the baseline's workers do)
        except ProcessLookupError:
            pass
        sink.server.shutdown()
        engine.dispose()
        drop_database(database)
        redis.Redis.from_url(redis_url).flushdb()


def _ready(base: str, up: subprocess.Popen) -> bool:
    if up.poll() is not None:
        raise SystemExit(f"up exited with {up.returncode}")
    try:
        return httpx.get(f"{base}/readyz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def ratio(new: float, old: float) -> float:
    return round(new / old, 3) if old else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref of the baseline tree ('' for none)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--alerts", type=int, default=6000, help="unique alerts posted, 20 a request")
    parser.add_argument("--chat-rate", type=float, default=10.0, help="commands/s during the alert load")
    parser.add_argument("--chat-commands", type=int, default=300, help="commands in the capacity burst")
    args = parser.parse_args()
    trees = [("this", ROOT)]
    if args.baseline:
        trees.insert(0, ("baseline", baseline_tree(args.baseline)))
    load_before = os.getloadavg()
    runs: dict[str, list[dict]] = {label: [] for label, _ in trees}
    for _ in range(args.rounds):
        for label, tree in trees:
            runs[label].append(run_up(tree, args, label))
            print(json.dumps(runs[label][-1]))
    summary = {label: _median(rs) for label, rs in runs.items()}
    results = {"summary": summary, "runs": runs, "baseline_ref": args.baseline, "args": vars(args),
               "load_average_before": [round(x, 2) for x in load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()],
               "machine": describe(("celery", "kombu", "SQLAlchemy", "psycopg", "uvicorn"))}
    out = results_dir() / "bench_up.json"
    out.write_text(json.dumps(results, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"written to {out}")


def _median(rs: list[dict]) -> dict:
    keys = ("pss_idle_mb", "pss_peak_mb", "alerts_per_s")
    row = {key: statistics.median(r[key] for r in rs) for key in keys}
    row["processes"] = rs[0]["processes"]
    row["chat_during_alerts_p50_ms"] = statistics.median(r["chat_during_alerts"]["p50_ms"] for r in rs)
    row["chat_during_alerts_p99_ms"] = statistics.median(r["chat_during_alerts"]["p99_ms"] for r in rs)
    row["chat_capacity_per_s"] = statistics.median(r["chat_capacity"]["commands_per_s"] for r in rs)
    return row


if __name__ == "__main__":
    main()
