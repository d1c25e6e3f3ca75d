"""End to end on Redis + PostgreSQL: alerts/s from webhook to committed audit rows, and webhook->commit delay.

1. Throughput: a burst of webhook requests (20 alerts each, then 1 alert each as the baseline: the
   per-alert-message design the foundation issue warns about) is posted as fast as a small async client
   can; alerts/s = alerts / (last commit - first send).
2. Delay at a fixed offered load of 1,000 alerts/s (50 requests/s of 20 alerts): the time from sending a
   request to the moment its alerts are visible (committed) in PostgreSQL, watched by a 5 ms poller.

Runs `smartcloudops serve` and `smartcloudops worker` as real processes on 127.0.0.1; bounded in count and time.

    python -m benchmarks.bench_e2e_alerts [--alerts 12000] [--rate-seconds 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import redis
import sqlalchemy as sa

from benchmarks.harness import bench_redis_url, drop_database, fresh_database, results_dir, start, stop
from benchmarks.machine import describe
from smartcloudops.demo_payloads import alert, webhook

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"
REDIS_URL = bench_redis_url()


class CommitWatcher:
    """Polls PostgreSQL every 5 ms and notes when each request's audit rows became visible (committed).

    It follows audit_log.seq, which is assigned under the chain-head lock held until commit, so it grows
    in commit order (alert ids do not: a sequence hands them out before the transaction commits).
    """

    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)
        self.seen: dict[str, float] = {}
        self.count = 0
        with self.engine.connect() as conn:  # only rows committed from now on count
            self._last_id = conn.execute(sa.text("SELECT coalesce(max(seq), 0) FROM audit_log")).scalar_one()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> CommitWatcher:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.engine.dispose()

    def _run(self) -> None:
        query = sa.text("SELECT seq, CAST(body AS json)->'data'->'labels'->>'bench_req' FROM audit_log "
                        "WHERE seq > :last ORDER BY seq")
        with self.engine.connect() as conn:
            while not self._stop.is_set():
                rows = conn.execute(query, {"last": self._last_id}).all()
                conn.commit()
                now = time.perf_counter()
                for _, request_id in rows:
                    if request_id is not None:  # alert.firing rows; incident.opened rows carry no labels
                        self.seen.setdefault(request_id, now)
                        self.count += 1
                if rows:
                    self._last_id = rows[-1][0]
                time.sleep(0.005)

    def wait_for(self, total: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while self.count < total and time.monotonic() < deadline:
            time.sleep(0.01)
        if self.count < total:
            raise SystemExit(f"only {self.count}/{total} alerts committed within {timeout:.0f}s")


def request_body(request_id: str, n_alerts: int, service: str) -> bytes:
    start = datetime.now(timezone.utc) - timedelta(minutes=5)
    alerts = [alert("HighLatency", service, f"i-{uuid.uuid4().hex[:17]}", status="firing",
                    starts_at=start + timedelta(milliseconds=i)) for i in range(n_alerts)]
    for item in alerts:
        item["labels"]["bench_req"] = request_id
    return json.dumps(webhook(alerts)).encode()


async def post_all(base: str, bodies: list[tuple[str, bytes]], concurrency: int,
                   sent_at: dict[str, float], rate_per_s: float | None = None) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}
    queue: asyncio.Queue = asyncio.Queue()
    for item in bodies:
        queue.put_nowait(item)
    started = time.perf_counter()
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=30,
                                 limits=httpx.Limits(max_connections=concurrency)) as client:
        async def worker(index: int) -> None:
            sent = index
            while not queue.empty():
                request_id, body = queue.get_nowait()
                if rate_per_s:  # open-loop schedule: request k leaves at k / rate
                    due = started + int(request_id.rsplit("-", 1)[1]) / rate_per_s
                    await asyncio.sleep(max(0.0, due - time.perf_counter()))
                sent_at[request_id] = time.perf_counter()
                answer = await client.post("/v1/alerts/alertmanager", content=body)
                if answer.status_code != 202:
                    raise SystemExit(f"webhook answered {answer.status_code}: {answer.text}")
                sent += 1

        await asyncio.gather(*(worker(i) for i in range(concurrency)))


def run_throughput(base: str, url: str, n_alerts_total: int, per_request: int, tag: str) -> dict:
    n_requests = n_alerts_total // per_request
    bodies = [(f"{tag}-{k}", request_body(f"{tag}-{k}", per_request, f"svc-{tag}-{k % 50}")) for k in range(n_requests)]
    sent_at: dict[str, float] = {}
    with CommitWatcher(url) as watcher:
        base_count = watcher.count
        first = time.perf_counter()
        asyncio.run(post_all(base, bodies, 16, sent_at))
        watcher.wait_for(base_count + n_requests * per_request, 300)
        last = max(watcher.seen[r] for r, _ in bodies)
    elapsed = last - first
    return {"alerts": n_requests * per_request, "alerts_per_request": per_request, "seconds": round(elapsed, 2),
            "alerts_per_s": round(n_requests * per_request / elapsed, 1)}


def run_fixed_rate(base: str, url: str, seconds: int, alerts_per_s: int = 1000, per_request: int = 20) -> dict:
    rate = alerts_per_s / per_request
    n_requests = int(rate * seconds)
    bodies = [(f"rate-{k}", request_body(f"rate-{k}", per_request, f"svc-rate-{k % 50}")) for k in range(n_requests)]
    sent_at: dict[str, float] = {}
    with CommitWatcher(url) as watcher:
        base_count = watcher.count
        asyncio.run(post_all(base, bodies, 16, sent_at, rate_per_s=rate))
        watcher.wait_for(base_count + n_requests * per_request, 120)
        delays = sorted((watcher.seen[r] - sent_at[r]) * 1000 for r, _ in bodies)
    return {"offered_alerts_per_s": alerts_per_s, "requests": n_requests,
            "p50_ms": round(statistics.median(delays), 1),
            "p99_ms": round(delays[int(len(delays) * 0.99) - 1], 1), "max_ms": round(delays[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alerts", type=int, default=12000)
    parser.add_argument("--baseline-alerts", type=int, default=3000)
    parser.add_argument("--rate-seconds", type=int, default=15)
    parser.add_argument("--concurrency", type=int, default=2, help="worker processes")
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    database, url = fresh_database()
    work = Path(tempfile.mkdtemp(prefix="sco-bench-e2e-"))
    port = 18000 + os.getpid() % 1000
    env = {**os.environ, "SCO_BROKER_URL": REDIS_URL, "SCO_DATABASE_URL": url, "SCO_WEBHOOK_TOKEN": TOKEN,
           "SCO_DATA_DIR": str(work), "SCO_LOG_LEVEL": "WARNING", "SCO_HTTP_PORT": str(port),
           "SCO_WORKER_METRICS_PORT": "0", "SCO_WORKER_PREFETCH": "8"}
    subprocess.run([sys.executable, "-m", "smartcloudops", "db", "upgrade"], env=env, check=True,
                   capture_output=True)
    procs = [start(["serve"], env), start(["worker", "--concurrency", str(args.concurrency)], env)]
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        time.sleep(3)  # let the worker finish starting its pool
        results = {"machine": describe(("celery", "kombu", "SQLAlchemy", "psycopg")),
                   "worker_processes": args.concurrency}
        results["throughput_20"] = run_throughput(base, url, args.alerts, 20, "t20")
        results["throughput_1"] = run_throughput(base, url, args.baseline_alerts, 1, "t1")
        results["ratio_20_vs_1"] = round(results["throughput_20"]["alerts_per_s"]
                                         / results["throughput_1"]["alerts_per_s"], 2)
        results["fixed_rate"] = run_fixed_rate(base, url, args.rate_seconds)
    finally:
        for proc in reversed(procs):
            stop(proc)
        drop_database(database)
        redis.Redis.from_url(REDIS_URL).flushdb()
    print(json.dumps(results, indent=2))
    out = results_dir() / "bench_e2e_alerts.json"
    out.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
