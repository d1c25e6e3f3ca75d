"""Microseconds per sample of the streaming anomaly path, by batch shape.

Shapes are (series in the batch) x (points per series), 4,096 points each. For each it
times: decoding the stored states, featurizing, encoding the new states, and the whole
`StreamingDetector.score_encoded` call (decode + features + one ONNX run + calibration +
encode) with the shipped default model. Series are warmed up first, so every feature is live.

    python benchmarks/bench_features.py [--repeats 7]

Best of N repeats is reported (the machine is shared; the minimum is the least disturbed).
"""

import argparse
import os
import platform
import time

import numpy as np

from pipeline.anomaly.features import featurize_batch
from pipeline.anomaly.state import StateBatch
from adapters.anomaly_model import load_detector
from pipeline.anomaly.synthetic import synthetic_corpus

SHAPES = ((4096, 1), (1024, 4), (256, 16), (16, 256), (1, 4096))
WARM_UP_POINTS = 2_000


def warmed_states(
    detector, n_series: int
) -> tuple[list[bytes], list[np.ndarray], list[np.ndarray]]:
    """States of distinct warmed-up series, and the series themselves for later points."""
    corpus = synthetic_corpus(min(n_series, 64), length=WARM_UP_POINTS + 4096, seed=5)
    series = [corpus[i % len(corpus)] for i in range(n_series)]
    head = detector.score_encoded(
        [None] * len(corpus),
        [s.timestamps[:WARM_UP_POINTS] for s in corpus],
        [s.values[:WARM_UP_POINTS] for s in corpus],
    )
    states = [head.states[i % len(corpus)] for i in range(n_series)]
    return states, [s.timestamps for s in series], [s.values for s in series]


def best_of(repeats: int, action) -> float:
    timings = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        timings.append(time.perf_counter() - start)
    return min(timings)


def bench_shape(detector, n_series: int, per_series: int, repeats: int) -> dict[str, float]:
    states, times, values = warmed_states(detector, n_series)
    window = slice(WARM_UP_POINTS, WARM_UP_POINTS + per_series)
    batch_times = [t[window] for t in times]
    batch_values = [v[window] for v in values]
    spec = detector.spec
    decoded = StateBatch.decode(states, spec)
    featurized = featurize_batch(decoded, batch_values, batch_times, spec)
    n_points = n_series * per_series
    seconds = {
        "decode": best_of(repeats, lambda: StateBatch.decode(states, spec)),
        "features": best_of(
            repeats, lambda: featurize_batch(decoded, batch_values, batch_times, spec)
        ),
        "encode": best_of(repeats, lambda: featurized.states.to_bytes()),
        "forest (onnx)": best_of(repeats, lambda: detector.scorer.score(featurized.features)),
        "score_encoded": best_of(
            repeats, lambda: detector.score_encoded(states, batch_times, batch_values)
        ),
    }
    return {name: 1e6 * value / n_points for name, value in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    detector = load_detector()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"python {platform.python_version()}, numpy {np.__version__}"
    )
    print(f"model {detector.model_version}; microseconds per sample, best of {args.repeats}")
    columns = ("decode", "features", "encode", "forest (onnx)", "score_encoded")
    print(f"{'series x points':>16} " + " ".join(f"{c:>14}" for c in columns))
    for n_series, per_series in SHAPES:
        result = bench_shape(detector, n_series, per_series, args.repeats)
        print(
            f"{n_series:>8} x {per_series:<5} " + " ".join(f"{result[c]:>14.2f}" for c in columns)
        )


if __name__ == "__main__":
    main()
