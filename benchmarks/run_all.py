"""`make bench`: run the benchmarks of issue #16, each against its same-run baseline, and print one table.

    python -m benchmarks.run_all [--baseline main] [--quick]

- bench_ingest: our webhook vs a bare JSON-to-Redis endpoint and Prometheus Alertmanager;
- bench_up: `smartcloudops up` of this tree vs the baseline tree (memory of every process, alerts end
  to end, chat during alerts, chat capacity);
- bench_chat_capacity: a burst of chat reads answered by a worker at a response_url (the queue) and by
  the server itself in its response (the edge), on the same `up`;
- bench_metrics_e2e: Prometheus remote write -> stored scores, against the server's intake rate and the
  same scorer storing row by row (its same-run baselines);
- bench_model: the ONNX forest against scikit-learn (its own same-run baseline).

Results go to .bench/ (SCO_BENCH_RESULTS), never to tracked files; Redis database SCO_BENCH_REDIS_DB
(12 unless set) is flushed. Figures depend on the machine's load, printed with the table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

from benchmarks.harness import ROOT, results_dir


def run(module: str, *args: str) -> None:
    print(f"== {module} {' '.join(args)}", flush=True)
    subprocess.run([sys.executable, "-m", f"benchmarks.{module}", *args], cwd=ROOT, check=True,
                   env={**os.environ, "PYTHONPATH": str(ROOT)})


def load(name: str) -> dict:
    path = results_dir() / name
    return json.loads(path.read_text()) if path.exists() else {}


def table(baseline: str) -> list[tuple[str, str, str, str]]:
    """(what, baseline, this tree, ratio) rows."""
    rows: list[tuple[str, str, str, str]] = []
    up = load("bench_up.json").get("summary", {})
    old, new = up.get("baseline", {}), up.get("this", {})

    def add(what: str, key: str, fmt: str = "{:,.1f}") -> None:
        if key in new:
            before = old.get(key)
            rows.append((what, fmt.format(before) if before is not None else "-", fmt.format(new[key]),
                         f"{new[key] / before:.2f}x" if before else "-"))

    add("up: processes", "processes", "{:d}")
    add("up: PSS idle, MB", "pss_idle_mb")
    add("up: PSS peak under load, MB", "pss_peak_mb")
    add("e2e alerts/s (webhook -> stored)", "alerts_per_s")
    add("chat during alerts p50, ms", "chat_during_alerts_p50_ms")
    add("chat during alerts p99, ms", "chat_during_alerts_p99_ms")
    add("chat capacity, commands/s", "chat_capacity_per_s")
    chat = load("bench_chat_capacity.json").get("summary", {})
    if "this/queue" in chat and "this/edge" in chat:
        queue, edge = chat["this/queue"], chat["this/edge"]
        rows.append(("chat reads/s, burst: a worker (queue) vs the server's own answer",
                     f"{queue['commands_per_s']:,.0f}", f"{edge['commands_per_s']:,.0f}",
                     f"{edge['commands_per_s'] / queue['commands_per_s']:.2f}x"))
        rows.append(("chat read p50 / p99 in that burst, ms", f"{queue['p50_ms']:.0f} / {queue['p99_ms']:.0f}",
                     f"{edge['p50_ms']:.0f} / {edge['p99_ms']:.0f}", "-"))
    ingest = load("bench_ingest.json")
    summary, ratios = ingest.get("summary", {}), ingest.get("ratios", {})
    if summary:
        ours = summary["smartcloudops"]
        for peer in ("bare", "alertmanager"):
            if peer in summary:
                rows.append((f"ingest req/s ({ingest['alerts_per_request']} alerts) vs {peer}",
                             f"{summary[peer]['rps']:,.0f}", f"{ours['rps']:,.0f}",
                             f"{ours['rps'] / summary[peer]['rps']:.2f}x"))
        if "vs_alertmanager_per_cpu" in ratios:
            rows.append(("ingest CPU-ms/request vs alertmanager", f"{summary['alertmanager']['cpu_ms_per_request']:.3f}",
                         f"{ours['cpu_ms_per_request']:.3f}", f"{ratios['vs_alertmanager_per_cpu']:.2f}x per CPU"))
        rows.append(("ingest p50 / p99, ms", "-", f"{ours['p50_ms']:.1f} / {ours['p99_ms']:.1f}",
                     f"p99 = {ratios['p99_over_p50']:.1f}x p50"))
    metrics = load("bench_metrics_e2e.json")
    if metrics:
        rows.append(("remote write samples/s -> stored scores vs the intake alone",
                     f"{metrics['intake_samples_per_s']:,.0f}", f"{metrics['samples_per_s']:,.0f}",
                     f"{metrics['samples_per_s'] / metrics['intake_samples_per_s']:.2f}x"))
        rows.append(("scoring samples/s in process: one bulk write vs row by row",
                     f"{metrics['in_process_row_by_row_samples_per_s']:,.0f}",
                     f"{metrics['in_process_batched_samples_per_s']:,.0f}", f"{metrics['batched_over_row_by_row']:.1f}x"))
    model = load("bench_model.json").get("ratio_vs_sklearn", {}).get("4096", {})
    if "onnx_forest" in model:
        rows.append(("ONNX forest rows/s vs scikit-learn, batch 4,096", "1.00x", f"{model['onnx_forest']:.2f}x",
                     f"{model['onnx_forest']:.2f}x"))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="main", help="git ref for bench_up's baseline tree")
    parser.add_argument("--quick", action="store_true", help="shorter runs (a smoke test of the harness)")
    parser.add_argument("--skip", action="append", default=[],
                        help="a benchmark not to run (ingest, up, chat, metrics, model)")
    args = parser.parse_args()
    load_before = os.getloadavg()
    if "ingest" not in args.skip:
        run("bench_ingest", *(["--duration", "3", "--rounds", "1"] if args.quick else []))
    if "up" not in args.skip:
        run("bench_up", "--baseline", args.baseline,
            *(["--alerts", "1000", "--chat-commands", "60"] if args.quick else []))
    if "chat" not in args.skip:
        run("bench_chat_capacity", "--client", "raw", "--sink", "process", "--conversations", "50",
            "--json", str(results_dir() / "bench_chat_capacity.json"),
            *(["--rounds", "1", "--commands", "300"] if args.quick else []))
    if "metrics" not in args.skip:
        run("bench_metrics_e2e", *(["--samples", "100000"] if args.quick else []))
    if "model" not in args.skip:
        run("bench_model")
    rows = table(args.baseline)
    widths = [max(len(row[i]) for row in [("what", "baseline", "this tree", "ratio"), *rows]) for i in range(4)]
    print()
    for row in [("what", f"baseline ({args.baseline})", "this tree", "ratio"), *rows]:
        print("  ".join(cell.ljust(width) if i == 0 else cell.rjust(width) for i, (cell, width) in
                        enumerate(zip(row, widths))))
    load_after = os.getloadavg()
    print(f"\nload average before {load_before[0]:.2f}, after {load_after[0]:.2f} on {os.cpu_count()} cores; "
          f"results in {results_dir()}")
    (results_dir() / "table.json").write_text(json.dumps({"rows": rows, "load_before": load_before,
                                                          "load_after": load_after}, indent=2))


if __name__ == "__main__":
    main()
