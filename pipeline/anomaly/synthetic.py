"""Generic synthetic metric series, so the default model has seen more than one benchmark.

Each series mixes what infrastructure metrics do: a level on any scale, optionally a daily
cycle (smooth or on/off), noise, a slow drift, sparse spikes, and now and then a level shift.
Nothing here is fitted to a particular file; the parameters are drawn from broad ranges.
"""

from dataclasses import dataclass

import numpy as np

FIVE_MINUTES = 300.0
DAY_SAMPLES = 288


@dataclass(frozen=True, eq=False)
class SyntheticSeries:
    """One generated series: timestamps in seconds and values."""

    name: str
    timestamps: np.ndarray
    values: np.ndarray


def synthetic_corpus(n_series: int, length: int, seed: int) -> list[SyntheticSeries]:
    """`n_series` independent series of `length` samples every five minutes."""
    rng = np.random.default_rng(seed)
    start = 1_400_000_000.0
    times = start + FIVE_MINUTES * np.arange(length)
    return [
        SyntheticSeries(f"synthetic/{i:03d}", times, _series(rng, length)) for i in range(n_series)
    ]


def _series(rng: np.random.Generator, length: int) -> np.ndarray:
    level = 10.0 ** rng.uniform(-1, 6)
    steps = np.arange(length)
    shape = _daily_cycle(rng, steps) * rng.uniform(0.0, 1.0)
    drift = np.cumsum(rng.normal(0.0, rng.uniform(0.0, 0.01), length))
    noise = rng.normal(0.0, rng.uniform(0.005, 0.2), length)
    values = level * (1.0 + shape + drift + noise)
    values += level * _spikes(rng, length)
    values += level * _level_shifts(rng, length)
    return np.maximum(values, 0.0) if rng.random() < 0.7 else values


def _daily_cycle(rng: np.random.Generator, steps: np.ndarray) -> np.ndarray:
    phase = 2 * np.pi * (steps / DAY_SAMPLES + rng.random())
    kind = rng.integers(3)
    if kind == 0:
        return np.zeros(len(steps))
    if kind == 1:
        return np.sin(phase)
    return (np.sin(phase) > rng.uniform(-0.5, 0.5)).astype(np.float64)


def _spikes(rng: np.random.Generator, length: int) -> np.ndarray:
    spikes = np.zeros(length)
    where = rng.random(length) < rng.uniform(0.0, 0.01)
    spikes[where] = rng.exponential(rng.uniform(0.5, 5.0), where.sum())
    return spikes


def _level_shifts(rng: np.random.Generator, length: int) -> np.ndarray:
    shifts = np.zeros(length)
    for _ in range(rng.poisson(0.5)):
        shifts[rng.integers(length) :] += rng.normal(0.0, 0.5)
    return shifts
