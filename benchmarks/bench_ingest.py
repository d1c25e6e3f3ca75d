"""Webhook ingest: requests/s and latency of SmartCloudOps' webhook vs a bare JSON-to-Redis endpoint.

Both servers run the same way (one uvicorn process, httptools, uvloop) on 127.0.0.1 against the
local Redis; wrk drives each in turn with the same payload, connections and duration. The figure
that matters is the ratio of SmartCloudOps' requests/s to the bare endpoint's.

    python -m benchmarks.bench_ingest [--duration 10] [--connections 16]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import redis

from benchmarks.harness import free_port, stop
from benchmarks.machine import describe
from smartcloudops.demo_payloads import alert, webhook

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"
REDIS_URL = "redis://127.0.0.1:6379/12"


def payload(n_alerts: int) -> dict:
    from datetime import datetime, timedelta, timezone

    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    return webhook([alert("HighLatency", "checkout", f"i-{i:017x}", status="firing",
                          starts_at=start + timedelta(seconds=i)) for i in range(n_alerts)])


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen:
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.post(f"http://127.0.0.1:{port}/v1/alerts/alertmanager", content=b"{}", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"server {cmd} did not start")


def wrk(port: int, body_file: Path, duration: int, connections: int) -> dict:
    script = body_file.with_suffix(".lua")
    script.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = io.open("{body_file}"):read("*a")\n'
        f'wrk.headers["Content-Type"] = "application/json"\n'
        f'wrk.headers["Authorization"] = "Bearer {TOKEN}"\n'
        'done = function(summary, latency, requests)\n'
        '  io.write(string.format("JSON {\\"requests\\": %d, \\"non2xx\\": %d, \\"p50_ms\\": %.3f, '
        '\\"p99_ms\\": %.3f}\\n", summary.requests, summary.errors.status, '
        'latency:percentile(50) / 1000, latency:percentile(99) / 1000))\n'
        'end\n')
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{duration}s", "-s", str(script),
                          f"http://127.0.0.1:{port}/v1/alerts/alertmanager"],
                         capture_output=True, text=True, check=True).stdout
    result = json.loads(re.search(r"^JSON (.*)$", out, re.M).group(1))
    result["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--connections", type=int, default=16)
    args = parser.parse_args()
    redis.Redis.from_url(REDIS_URL).flushdb()
    work = Path(tempfile.mkdtemp(prefix="sco-bench-"))
    env = {**os.environ, "SCO_BROKER_URL": REDIS_URL, "SCO_WEBHOOK_TOKEN": TOKEN, "SCO_DATA_DIR": str(work),
           "SCO_LOG_LEVEL": "WARNING", "BARE_REDIS_URL": REDIS_URL}
    uvicorn_flags = ["--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop"]
    results = {"machine": describe(("starlette", "uvicorn", "celery", "kombu", "redis")), "runs": []}
    for n_alerts in (1, 20):
        body = work / f"payload-{n_alerts}.json"
        body.write_text(json.dumps(payload(n_alerts)))
        row = {"alerts_per_request": n_alerts}
        for name, cmd in (
            ("bare", [sys.executable, "-m", "uvicorn", "benchmarks.bare_endpoint:app"]),
            ("smartcloudops", [sys.executable, "-m", "smartcloudops", "serve"]),
        ):
            port = free_port()
            proc_env = {**env, "SCO_HTTP_PORT": str(port)}
            full = cmd + (["--port", str(port), *uvicorn_flags] if name == "bare" else [])
            proc = start(full, proc_env, port)
            try:
                wrk(port, body, 2, args.connections)  # warm-up
                row[name] = wrk(port, body, args.duration, args.connections)
            finally:
                stop(proc)
            redis.Redis.from_url(REDIS_URL).flushdb()
        row["ratio_rps"] = round(row["smartcloudops"]["rps"] / row["bare"]["rps"], 3)
        results["runs"].append(row)
        print(f"{n_alerts:>2} alert(s)/request: bare {row['bare']['rps']:8.0f} req/s "
              f"(p50 {row['bare']['p50_ms']:.2f} ms, p99 {row['bare']['p99_ms']:.2f} ms) | smartcloudops "
              f"{row['smartcloudops']['rps']:8.0f} req/s (p50 {row['smartcloudops']['p50_ms']:.2f} ms, "
              f"p99 {row['smartcloudops']['p99_ms']:.2f} ms, non-2xx {row['smartcloudops']['non2xx']}) "
              f"| ratio {row['ratio_rps']:.2f}")
    print(json.dumps(results["machine"]))
    out = ROOT / "benchmarks" / "results" / "bench_ingest.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
