"""Webhook ingest: SmartCloudOps' webhook against a bare JSON-to-Redis endpoint and Prometheus Alertmanager.

Three servers take the same 20 alerts per request from the same Python load client
(benchmarks/loadgen.py, a process of its own), one server at a time, in alternating rounds so a
shared machine's load falls on all of them alike:

- bare: a Starlette endpoint that parses the JSON and LPUSHes it to Redis (one uvicorn process);
- smartcloudops: `smartcloudops serve` (one process), publishing to Redis as in production;
- alertmanager: Prometheus Alertmanager's own intake, `POST /api/v2/alerts` (the peer anchor; Debian
  package prometheus-alertmanager), with a route to a receiver that sends nothing.

Per server: requests/s, p50/p99 latency, and the server's CPU milliseconds per request (from /proc),
which is the fairer figure when the servers use their cores differently (Alertmanager is Go).

    python -m benchmarks.bench_ingest [--duration 8] [--rounds 2] [--connections 16] [--baseline-tree DIR]

`--baseline-tree DIR` adds `smartcloudops serve` of another checkout (with its own `.venv`), e.g. the
unchanged main tree, as a fourth server in the same alternating rounds.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import redis

from benchmarks.harness import ROOT, bench_redis_url, cpu_seconds, free_port, results_dir, stop
from benchmarks.machine import describe
from smartcloudops.demo_payloads import alert, webhook

TOKEN = "bench-token-0123456789"
ALERTMANAGER = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
ALERTMANAGER_CONFIG = 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n'


def alerts(n_alerts: int) -> list[dict]:
    start = datetime.now(timezone.utc) - timedelta(minutes=10)
    return [alert("HighLatency", "checkout", f"i-{i:017x}", status="firing", starts_at=start + timedelta(seconds=i))
            for i in range(n_alerts)]


def alertmanager_body(items: list[dict]) -> list[dict]:
    """The same alerts as Alertmanager's API takes them (postableAlerts)."""
    return [{"labels": a["labels"], "annotations": a["annotations"], "startsAt": a["startsAt"],
             "generatorURL": a.get("generatorURL", "")} for a in items]


def server_command(name: str, port: int, work: Path, baseline: Path | None = None) -> tuple[list[str], str]:
    """The command line of a server and the path the load goes to."""
    if name == "baseline" and baseline is not None:
        return [str(baseline / ".venv" / "bin" / "python"), "-m", "smartcloudops", "serve"], "/v1/alerts/alertmanager"
    if name == "bare":
        return ([sys.executable, "-m", "uvicorn", "benchmarks.bare_endpoint:app", "--port", str(port),
                 "--log-level", "warning", "--no-access-log", "--http", "httptools", "--loop", "uvloop"],
                "/v1/alerts/alertmanager")
    if name == "smartcloudops":
        return [sys.executable, "-m", "smartcloudops", "serve"], "/v1/alerts/alertmanager"
    config = work / "alertmanager.yml"
    config.write_text(ALERTMANAGER_CONFIG)
    storage = work / f"am-{port}"
    storage.mkdir(exist_ok=True)
    return ([ALERTMANAGER, f"--config.file={config}", f"--storage.path={storage}",
             f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address=", "--log.level=warn"],
            "/api/v2/alerts")


def wait_listening(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return
        except httpx.TransportError:
            time.sleep(0.2)
    raise SystemExit("server did not start")


def load(url: str, body: Path, duration: float, connections: int) -> dict:
    done = subprocess.run([sys.executable, "-m", "benchmarks.loadgen", "--url", url, "--body", str(body),
                           "--header", f"Authorization: Bearer {TOKEN}", "--connections", str(connections),
                           "--duration", str(duration)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(name: str, env: dict[str, str], work: Path, body: Path, args: argparse.Namespace) -> dict:
    port = free_port()
    command, path = server_command(name, port, work, args.baseline_tree)
    tree = args.baseline_tree if name == "baseline" else ROOT
    proc = subprocess.Popen(command, env={**env, "SCO_HTTP_PORT": str(port), "PYTHONPATH": str(tree)}, cwd=tree,
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_listening(port, proc)
        url = f"http://127.0.0.1:{port}{path}"
        load(url, body, 2, args.connections)  # warm-up
        cpu_before = cpu_seconds(proc.pid)
        result = load(url, body, args.duration, args.connections)
        result["cpu_ms_per_request"] = round((cpu_seconds(proc.pid) - cpu_before) * 1000 / max(1, result["requests"]), 3)
        return result
    finally:
        stop(proc)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--alerts", type=int, default=20, help="alerts per request")
    parser.add_argument("--baseline-tree", type=Path, default=None,
                        help="another checkout whose `smartcloudops serve` (its own .venv) runs beside this tree's")
    parser.add_argument("--skip", action="append", default=[], choices=["bare", "alertmanager"],
                        help="leave a reference server out of the rounds")
    args = parser.parse_args()
    redis_url = bench_redis_url()
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    work = Path(tempfile.mkdtemp(prefix="sco-bench-ingest-"))
    env = {**os.environ, "SCO_BROKER_URL": redis_url, "SCO_WEBHOOK_TOKEN": TOKEN, "SCO_DATA_DIR": str(work),
           "SCO_LOG_LEVEL": "WARNING", "BARE_REDIS_URL": redis_url, "PYTHONPATH": str(ROOT)}
    items = alerts(args.alerts)
    bodies = {"bare": work / "webhook.json", "smartcloudops": work / "webhook.json", "alertmanager": work / "am.json",
              "baseline": work / "webhook.json"}
    bodies["bare"].write_text(json.dumps(webhook(items)))
    bodies["alertmanager"].write_text(json.dumps(alertmanager_body(items)))
    servers = (["bare"] + (["baseline"] if args.baseline_tree else []) + ["smartcloudops"]
               + (["alertmanager"] if ALERTMANAGER else []))
    servers = [name for name in servers if name not in args.skip]
    runs: dict[str, list[dict]] = {name: [] for name in servers}
    load_before = os.getloadavg()
    for _ in range(args.rounds):
        for name in servers:
            runs[name].append(measure(name, env, work, bodies[name], args))
            client.flushdb()
    summary = {name: {key: statistics.median(r[key] for r in rs) for key in ("rps", "p50_ms", "p99_ms",
                                                                             "cpu_ms_per_request")}
               | {"non2xx": sum(r["non2xx"] for r in rs)} for name, rs in runs.items()}
    ours = summary["smartcloudops"]
    ratios = {"p99_over_p50": round(ours["p99_ms"] / ours["p50_ms"], 2)}
    if "bare" in summary:
        ratios["vs_bare_rps"] = round(ours["rps"] / summary["bare"]["rps"], 3)
    if "baseline" in summary:
        ratios["vs_baseline_rps"] = round(ours["rps"] / summary["baseline"]["rps"], 3)
        ratios["vs_baseline_cpu"] = round(ours["cpu_ms_per_request"] / summary["baseline"]["cpu_ms_per_request"], 3)
    if "alertmanager" in summary:
        am = summary["alertmanager"]
        ratios["vs_alertmanager_rps"] = round(ours["rps"] / am["rps"], 3)
        ratios["vs_alertmanager_per_cpu"] = round(am["cpu_ms_per_request"] / ours["cpu_ms_per_request"], 3)
    results = {"baseline_tree": str(args.baseline_tree) if args.baseline_tree else None, "alerts_per_request": args.alerts, "connections": args.connections, "duration_s": args.duration,
               "rounds": args.rounds, "summary": summary, "ratios": ratios, "runs": runs,
               "load_average_before": [round(x, 2) for x in load_before],
               "load_average_after": [round(x, 2) for x in os.getloadavg()],
               "machine": describe(("starlette", "uvicorn", "celery", "kombu", "redis"))}
    for name, rs in runs.items():
        print(f"{name:>13} per round: " + ", ".join(f"{r['rps']:.0f} req/s {r['cpu_ms_per_request']:.3f} ms"
                                                    for r in rs))
    for name, row in summary.items():
        print(f"{name:>13}: {row['rps']:8.0f} req/s  p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:6.2f} ms  "
              f"{row['cpu_ms_per_request']:.3f} CPU-ms/request  non-2xx {row['non2xx']}")
    print(json.dumps(ratios))
    out = results_dir() / "bench_ingest.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"written to {out}")


if __name__ == "__main__":
    main()
