"""Helpers for the anomaly tests: a small feature spec and a reproducible test series."""

import numpy as np

from pipeline.anomaly.spec import FeatureSpec

# Short spans so a few hundred points exercise every feature, the seasons and block roll-over.
SMALL_SPEC = FeatureSpec(short_window=3, season_length=24, block_length=8, range_blocks=4, warmup=5)


def walk(seed: int, length: int, start: float = 1_700_000_000.0) -> tuple[np.ndarray, np.ndarray]:
    """A noisy cycle of 24 samples with a level shift half way: (timestamps, values)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(length)
    values = 10 + 3 * np.sin(2 * np.pi * steps / 24) + rng.normal(0, 0.5, length)
    values[length // 2 :] += rng.uniform(-8, 8)
    return start + 300.0 * steps, values
