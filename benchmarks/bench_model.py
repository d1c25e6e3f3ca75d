"""Model alone: rows/s of IsolationForest scoring at batch 1, 16, 256 and 4,096.

Side by side in one run, single-threaded as in a Celery prefork child:
  sklearn      IsolationForest.score_samples
  skl2onnx     skl2onnx's default conversion, run by onnxruntime (the baseline of issue 3)
  onnx_forest  pipeline.anomaly.onnx_forest: one TreeEnsembleRegressor node for the forest

Usage: python benchmarks/bench_model.py [--seconds-per-cell 0.4] [--rounds 3]
Writes .bench/bench_model.json (SCO_BENCH_RESULTS). Total time stays well under two minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import sklearn
import skl2onnx
from sklearn.ensemble import IsolationForest

from adapters.onnx_scorer import OnnxForestScorer
from benchmarks.harness import results_dir
from pipeline.anomaly.onnx_forest import forest_to_onnx

BATCHES = (1, 16, 256, 4096)
N_FEATURES = 8
N_TREES = 100
MAX_SAMPLES = 256
RESULT_PATH = results_dir() / "bench_model.json"


def main() -> int:
    args = _arguments()
    if args.detectors:
        return _compare_detectors(args.seconds_per_cell, args.rounds)
    forest, pool = _fitted_forest()
    scorers = _scorers(forest)
    report = {
        "machine": _machine(),
        "model": {"n_estimators": N_TREES, "max_samples": MAX_SAMPLES, "n_features": N_FEATURES},
        "graph_nodes": _graph_sizes(forest),
        "max_abs_diff_vs_sklearn": _parity(forest, scorers["onnx_forest"], pool),
        "rows_per_second": {},
        "ratio_vs_sklearn": {},
    }
    for batch in BATCHES:
        rows = pool[:batch]
        speeds = _measure(scorers, rows, args.seconds_per_cell, args.rounds)
        report["rows_per_second"][str(batch)] = speeds
        report["ratio_vs_sklearn"][str(batch)] = {
            name: round(speed / speeds["sklearn"], 2) for name, speed in speeds.items()
        }
    _print(report)
    RESULT_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULT_PATH.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nwritten to {RESULT_PATH}")
    return 0


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds-per-cell", type=float, default=0.4,
                        help="timing budget per (scorer, batch, round)")
    parser.add_argument("--detectors", action="store_true",
                        help="instead: points/s of the whole detector, forest (old) vs novelty (new)")
    parser.add_argument("--rounds", type=int, default=3,
                        help="interleaved rounds; the median round is reported")
    return parser.parse_args()


def _fitted_forest() -> tuple[IsolationForest, np.ndarray]:
    """Eight float features shaped like metric-window features: mostly normal, some skew."""
    rng = np.random.default_rng(20261127)
    train = _feature_rows(rng, 20_000)
    forest = IsolationForest(n_estimators=N_TREES, max_samples=MAX_SAMPLES, random_state=0)
    forest.fit(train)
    return forest, _feature_rows(rng, max(BATCHES))


def _feature_rows(rng: np.random.Generator, n_rows: int) -> np.ndarray:
    normal = rng.normal(size=(n_rows, N_FEATURES // 2))
    skewed = rng.lognormal(sigma=0.8, size=(n_rows, N_FEATURES - N_FEATURES // 2))
    rows = np.hstack([normal, skewed])
    outliers = rng.random(n_rows) < 0.02
    rows[outliers] += rng.normal(scale=6.0, size=(int(outliers.sum()), N_FEATURES))
    return rows.astype(np.float32)


def _scorers(forest: IsolationForest) -> dict[str, Callable[[np.ndarray], object]]:
    skl2onnx_session = onnxruntime.InferenceSession(
        _skl2onnx_model(forest).SerializeToString(),
        sess_options=_single_thread_options(),
        providers=["CPUExecutionProvider"],
    )
    ours = OnnxForestScorer(forest_to_onnx(forest, N_FEATURES, model_version="bench"))
    input_name = skl2onnx_session.get_inputs()[0].name
    return {
        "sklearn": forest.score_samples,
        "skl2onnx": lambda rows: skl2onnx_session.run(None, {input_name: rows}),
        "onnx_forest": ours.score,
    }


def _skl2onnx_model(forest: IsolationForest) -> onnx.ModelProto:
    sample = np.zeros((1, N_FEATURES), dtype=np.float32)
    return skl2onnx.to_onnx(forest, sample, target_opset={"": 17, "ai.onnx.ml": 3})


def _single_thread_options() -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    return options


def _graph_sizes(forest: IsolationForest) -> dict[str, int]:
    ours = onnx.load_from_string(forest_to_onnx(forest, N_FEATURES))
    baseline = _skl2onnx_model(forest)
    return {"skl2onnx": len(baseline.graph.node), "onnx_forest": len(ours.graph.node)}


def _parity(forest: IsolationForest, score: Callable[[np.ndarray], np.ndarray],
            rows: np.ndarray) -> float:
    return float(np.max(np.abs(score(rows) - forest.score_samples(rows))))


def _measure(scorers: dict[str, Callable[[np.ndarray], object]], rows: np.ndarray,
             seconds: float, rounds: int) -> dict[str, float]:
    """Median over interleaved rounds, so load from other processes hits every scorer alike."""
    samples: dict[str, list[float]] = {name: [] for name in scorers}
    for score in scorers.values():
        score(rows)  # warm-up: first-run allocations, lazy initialisation
    for _ in range(rounds):
        for name, score in scorers.items():
            samples[name].append(_rows_per_second(score, rows, seconds))
    return {name: round(statistics.median(values)) for name, values in samples.items()}


def _rows_per_second(score: Callable[[np.ndarray], object], rows: np.ndarray,
                     seconds: float) -> float:
    calls, started = 0, time.perf_counter()
    while True:
        score(rows)
        calls += 1
        elapsed = time.perf_counter() - started
        if elapsed >= seconds and calls >= 3:
            return calls * len(rows) / elapsed


def _machine() -> dict[str, object]:
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "skl2onnx": skl2onnx.__version__,
        "threads": "1 (onnxruntime intra/inter op = 1; scikit-learn n_jobs=None)",
        "OPENBLAS_CORETYPE": os.environ.get("OPENBLAS_CORETYPE", ""),
        # The machine is shared; the load says how much of a core each scorer really had.
        "load_average_1m_at_start": round(os.getloadavg()[0], 2),
        "measured_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _print(report: dict) -> None:
    machine = report["machine"]
    print(f"CPU {machine['cpu']} | {machine['usable_cpus']} usable of {machine['logical_cpus']} "
          f"logical CPUs | python {machine['python']} | scikit-learn {machine['scikit-learn']} | "
          f"onnxruntime {machine['onnxruntime']} | skl2onnx {machine['skl2onnx']} | "
          f"load {machine['load_average_1m_at_start']}")
    print(f"IsolationForest: {N_TREES} trees, max_samples {MAX_SAMPLES}, {N_FEATURES} features; "
          f"graph nodes {report['graph_nodes']}; "
          f"max |onnx_forest - sklearn| = {report['max_abs_diff_vs_sklearn']:.2e}")
    names = list(next(iter(report["rows_per_second"].values())))
    print(f"\n{'batch':>6} " + " ".join(f"{name + ' rows/s':>20}" for name in names)
          + "  " + " ".join(f"{name + ' x':>14}" for name in names[1:]))
    for batch, speeds in report["rows_per_second"].items():
        ratios = report["ratio_vs_sklearn"][batch]
        print(f"{batch:>6} " + " ".join(f"{speeds[name]:>20,}" for name in names)
              + "  " + " ".join(f"{ratios[name]:>14.2f}" for name in names[1:]))


# (series, points per series) of a scoring call: remote-write fan-in, small and large replays.
DETECTOR_SHAPES = ((4096, 1), (512, 8), (64, 64))


def _compare_detectors(seconds_per_cell: float, rounds: int) -> int:
    """Points/s of score_encoded, states carried as bytes: the old forest vs the novelty detector."""
    import tempfile

    from adapters import anomaly_model as store
    from pipeline.anomaly.synthetic import synthetic_corpus
    from pipeline.anomaly.training import TrainingSeries, fit

    generated = synthetic_corpus(8, length=1200, seed=5)
    with tempfile.TemporaryDirectory() as folder:
        forest_dir = store.save(
            fit([TrainingSeries(g.name, g.timestamps, g.values) for g in generated]), Path(folder)
        )
        detectors = {"forest_onnx": store.load_detector(forest_dir), "novelty": store.load_detector()}
    report = {"machine": _machine(), "points_per_second": {}, "ratio_new_vs_old": {}}
    for n_series, per_series in DETECTOR_SHAPES:
        history = synthetic_corpus(n_series, length=400 + per_series, seed=9)
        speeds = {}
        for name, detector in detectors.items():
            warm = detector.score_encoded(
                [None] * n_series,
                [g.timestamps[:400] for g in history],
                [g.values[:400] for g in history],
            ).states
            times = [g.timestamps[400:] for g in history]
            values = [g.values[400:] for g in history]
            speeds[name] = round(statistics.median(
                _rows_per_second(
                    lambda _rows, d=detector: d.score_encoded(warm, times, values),
                    np.empty((n_series * per_series, 1)),
                    seconds_per_cell,
                )
                for _ in range(rounds)
            ))
        key = f"{n_series}x{per_series}"
        report["points_per_second"][key] = speeds
        report["ratio_new_vs_old"][key] = round(speeds["novelty"] / speeds["forest_onnx"], 2)
    print(json.dumps(report, indent=2))
    path = RESULT_PATH.with_name("bench_detectors.json")
    path.write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
