"""End to end metric scoring: samples/s from Prometheus remote write to scores stored in PostgreSQL.

Real processes on 127.0.0.1: `smartcloudops serve` and one `smartcloudops worker --queues metrics`
(the documented deployment: one process keeps each series in order), Redis as broker and series
state store, a fresh PostgreSQL database. Shards (like Prometheus' remote-write shards: each owns
its series and sends its requests one after another) post snappy protobuf WriteRequests; the clock
stops when the last score row is in PostgreSQL. Bounded by --samples and --timeout.

Two baselines put the figure in context:
- intake: the rate at which the server answered 204 (samples/s on the broker, nothing scored yet);
- row by row: the same scorer in-process, storing each score in its own transaction, against the
  one multi-row insert per message that the worker does (ratio printed).

    python -m benchmarks.bench_metrics_e2e [--samples 400000] [--series-per-request 500]

Old vs new detector in the same run (issue 14: the new one may cost at most 10 %):

    python -m benchmarks.bench_metrics_e2e --forest-data <NAB folder> --rounds 3

trains the earlier IsolationForest (`model train --method forest`) into a scratch folder and
measures it and the shipped model alternately, each run on a fresh database and Redis.
"""

from __future__ import annotations

import argparse
import json
import os
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import cramjam
import httpx
import numpy as np
import redis
import sqlalchemy as sa

from benchmarks.harness import (
    drop_database,
    free_port,
    fresh_database,
    group_cpu_seconds,
    results_dir,
    start,
    stop,
)
from benchmarks.machine import describe

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-token-0123456789"
REDIS_URL = f"redis://127.0.0.1:6379/{os.environ.get('SCO_BENCH_REDIS_DB', '12')}"
PG_ADMIN_URL = os.environ.get(
    "SCO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
STEP_MS = 15_000
HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Encoding": "snappy",
    "Content-Type": "application/x-protobuf",
    "X-Prometheus-Remote-Write-Version": "0.1.0",
}


def wait_until(condition, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise SystemExit(f"timed out: {what}")


def request_body(shard: int, series: int, samples: int, round_: int, t0_ms: int) -> bytes:
    """One WriteRequest: `series` series of this shard, `samples` consecutive points each."""
    from consumers.remote_write_pb import WriteRequest

    rng = np.random.default_rng(shard * 1_000_003 + round_)
    request = WriteRequest()
    base = round_ * samples
    for i in range(series):
        entry = request.timeseries.add()
        for name, value in (
            ("__name__", "node_cpu_seconds_total"),
            ("job", f"svc-{i % 20}"),
            ("instance", f"host-{shard}-{i}:9100"),
        ):
            entry.labels.add(name=name, value=value)
        values = 50 + 10 * np.sin((base + np.arange(samples)) / 30.0) + rng.normal(0, 1, samples)
        for k in range(samples):
            entry.samples.add(timestamp=t0_ms + (base + k) * STEP_MS, value=float(values[k]))
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def run_shards(base_url: str, bodies: list[list[bytes]]) -> float:
    """Each shard posts its bodies in order; returns the seconds until the last 204."""
    errors: list[str] = []

    def shard(own: list[bytes]) -> None:
        with httpx.Client(base_url=base_url, timeout=60) as client:
            for body in own:
                answer = client.post("/api/v1/write", content=body, headers=HEADERS)
                if answer.status_code != 204:
                    errors.append(f"{answer.status_code} {answer.text[:200]}")
                    return

    started = time.perf_counter()
    threads = [threading.Thread(target=shard, args=(own,)) for own in bodies]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise SystemExit(f"remote write failed: {errors[0]}")
    return time.perf_counter() - started


def score_count(engine) -> int:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM anomaly_scores")).scalar_one()


def end_to_end(args: argparse.Namespace, pg_url: str, workdir: Path) -> dict:
    from adapters.db.engine import create_engine

    redis.Redis.from_url(REDIS_URL).flushdb()
    port = free_port()
    env = {
        **os.environ,
        "SCO_BROKER_URL": REDIS_URL,
        "SCO_REDIS_URL": REDIS_URL,
        "SCO_DATABASE_URL": pg_url,
        "SCO_WEBHOOK_TOKEN": TOKEN,
        "SCO_HTTP_PORT": str(port),
        "SCO_DATA_DIR": str(workdir),
        "SCO_WORKER_METRICS_PORT": "0",
        "SCO_WORKER_PREFETCH": "4",
    }
    if getattr(args, "model", None) is not None:
        env["SCO_ANOMALY_MODEL_PATH"] = str(args.model)
    rounds = max(
        1, args.samples // (args.shards * args.series_per_request * args.samples_per_series)
    )
    t0_ms = int(time.time() * 1000) - rounds * args.samples_per_series * STEP_MS
    bodies = [
        [
            request_body(s, args.series_per_request, args.samples_per_series, r, t0_ms)
            for r in range(rounds)
        ]
        for s in range(args.shards)
    ]
    total = rounds * args.shards * args.series_per_request * args.samples_per_series
    server = start(["serve"], env, workdir / "serve.log")
    worker = start(
        ["worker", "--queues", "metrics", "--concurrency", str(args.concurrency)],
        env,
        workdir / "worker.log",
    )
    engine = create_engine(pg_url)
    try:
        wait_until(lambda: _healthy(port), 60, "server start")
        wait_until(lambda: "ready" in (workdir / "worker.log").read_text(), 60, "worker start")
        cpu_before = group_cpu_seconds(worker.pid), group_cpu_seconds(server.pid)
        started = time.perf_counter()
        intake_s = run_shards(f"http://127.0.0.1:{port}", bodies)
        wait_until(lambda: score_count(engine) >= total, args.timeout, f"{total} scores stored")
        elapsed = time.perf_counter() - started
        worker_cpu = group_cpu_seconds(worker.pid) - cpu_before[0]
        server_cpu = group_cpu_seconds(server.pid) - cpu_before[1]
    finally:
        engine.dispose()
        stop(worker)
        stop(server)
    return {
        "samples": total,
        "requests": rounds * args.shards,
        "seconds": round(elapsed, 2),
        "samples_per_s": round(total / elapsed),
        "intake_samples_per_s": round(total / intake_s),
        # Samples per CPU-second of the worker's processes: what scoring costs, whatever the load.
        "worker_cpu_s": round(worker_cpu, 2),
        "samples_per_worker_cpu_s": round(total / worker_cpu),
        "server_cpu_s": round(server_cpu, 2),
    }


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def row_by_row_ratio(pg_url: str, samples: int) -> dict:
    """The same scorer in-process: one insert per message vs one transaction per score row."""
    from adapters.db.alert_store import AlertStore
    from adapters.db.anomaly_store import AnomalyScoreStore
    from adapters.db.engine import create_engine
    from adapters.series_state import InMemorySeriesStateStore
    from adapters.anomaly_model import load_detector
    from pipeline.correlation import CorrelationPolicy
    from pipeline.metric_events import merge_series
    from services.metrics import MetricScorer

    class RowByRow(AnomalyScoreStore):
        """The same COPY path, one point per transaction."""

        def record(self, scores, new_series, now):  # type: ignore[no-untyped-def]
            super().record(
                replace(scores, series=scores.series[:0], ts_ms=scores.ts_ms[:0]), new_series, now
            )
            for i in range(len(scores)):
                one = slice(i, i + 1)
                super().record(
                    replace(
                        scores,
                        series=scores.series[one],
                        ts_ms=scores.ts_ms[one],
                        values=scores.values[one],
                        scores=scores.scores[one],
                        anomalous=scores.anomalous[one],
                    ),
                    [],
                    now,
                )

    engine = create_engine(pg_url)
    detector = load_detector()
    t0_ms = int(time.time() * 1000) - 10**9
    rates = {}
    for label, store in (("batched", AnomalyScoreStore(engine)), ("row_by_row", RowByRow(engine))):
        parts = [
            (
                {"__name__": "bench", "mode": label, "i": str(i)},
                [t0_ms + k * STEP_MS for k in range(samples // 100)],
                [float(k % 7) for k in range(samples // 100)],
            )
            for i in range(100)
        ]
        scorer = MetricScorer(
            detector, InMemorySeriesStateStore(), store, AlertStore(engine, CorrelationPolicy()), 10
        )
        started = time.perf_counter()
        scorer.score(merge_series(parts), trace_id="bench", now=datetime.now(UTC))
        rates[label] = round(samples / (time.perf_counter() - started))
    engine.dispose()
    return {
        "in_process_batched_samples_per_s": rates["batched"],
        "in_process_row_by_row_samples_per_s": rates["row_by_row"],
        "batched_over_row_by_row": round(rates["batched"] / rates["row_by_row"], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--samples", type=int, default=400_000, help="samples to send end to end (bounded)"
    )
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--series-per-request", type=int, default=500)
    parser.add_argument("--samples-per-series", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1, help="metrics worker processes")
    parser.add_argument(
        "--row-samples", type=int, default=5_000, help="samples for the row-by-row baseline"
    )
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument(
        "--forest-data",
        type=Path,
        default=None,
        metavar="PATH",
        help="also train the old forest on PATH and compare it with the shipped model",
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per model")
    args = parser.parse_args()
    import tempfile

    if args.forest_data is not None:
        compare_with_forest(args)
        return

    name, pg_url = fresh_database(migrate=True)
    try:
        with tempfile.TemporaryDirectory() as workdir:
            result = end_to_end(args, pg_url, Path(workdir))
        result.update(row_by_row_ratio(pg_url, args.row_samples))
    finally:
        drop_database(name)
    result["machine"] = describe(("onnxruntime", "psycopg", "redis", "celery"))
    result["load_average"] = os.getloadavg()
    result["settings"] = {
        k: getattr(args, k)
        for k in ("shards", "series_per_request", "samples_per_series", "concurrency")
    }
    print(json.dumps(result, indent=2))
    (results_dir() / "bench_metrics_e2e.json").write_text(json.dumps(result, indent=2) + "\n")


def compare_with_forest(args: argparse.Namespace) -> None:
    """End-to-end samples/s of the old forest and the shipped model, runs interleaved."""
    import statistics
    import subprocess
    import sys
    import tempfile

    rates: dict[str, list[int]] = {"forest": [], "shipped": []}
    per_cpu: dict[str, list[int]] = {"forest": [], "shipped": []}
    with tempfile.TemporaryDirectory() as scratch:
        forest = Path(scratch) / "forest"
        subprocess.run(
            [sys.executable, "-m", "smartcloudops", "model", "train", "--method", "forest",
             "--data", str(args.forest_data), "--out", str(forest)],
            check=True, cwd=ROOT, capture_output=True,
        )
        for _ in range(args.rounds):
            for label, model in (("forest", forest), ("shipped", None)):
                name, pg_url = fresh_database(migrate=True)
                try:
                    with tempfile.TemporaryDirectory() as workdir:
                        run = end_to_end(replace_model(args, model), pg_url, Path(workdir))
                finally:
                    drop_database(name)
                rates[label].append(run["samples_per_s"])
                per_cpu[label].append(run["samples_per_worker_cpu_s"])
    medians = {label: statistics.median(values) for label, values in rates.items()}
    cpu_medians = {label: statistics.median(values) for label, values in per_cpu.items()}
    print(json.dumps({
        "samples_per_s": rates,
        "median_samples_per_s": medians,
        "shipped_over_forest": round(medians["shipped"] / medians["forest"], 3),
        "samples_per_worker_cpu_s": per_cpu,
        "shipped_over_forest_per_worker_cpu": round(
            cpu_medians["shipped"] / cpu_medians["forest"], 3
        ),
        "machine": describe(("onnxruntime", "psycopg", "redis", "celery")),
        "load_average": os.getloadavg(),
        "settings": {k: getattr(args, k) for k in
                     ("samples", "shards", "series_per_request", "samples_per_series",
                      "concurrency", "rounds")},
    }, indent=2))


def replace_model(args: argparse.Namespace, model: Path | None) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "model": model})


if __name__ == "__main__":
    main()
