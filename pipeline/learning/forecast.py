"""Will a threshold alert fire soon? A damped-trend forecast with a daily profile, per series.

Predictive remediation acts on a forecast, so the forecast must be cautious: a series is
predicted to cross its alert threshold within the horizon only when
- its damped-trend forecast (Holt's method, time constants in seconds, plus the series'
  mean for that hour of the day) reaches the threshold within the horizon, and
- the climb is real: the trend over the horizon is larger than `margin` times the series'
  typical one-step forecast error, so a noisy series hovering under its threshold, or a
  daily peak that comes every day, is not a prediction.
A prediction is news once: after one, the series is quiet for `refractory_seconds`.

Causal and per point, so it can run on the stream beside the anomaly detector.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.errors import InvalidInput


@dataclass(frozen=True)
class ForecastSpec:
    level_seconds: float = 1800.0  # time constant of the level
    trend_seconds: float = 3 * 3600.0  # of the trend (per second)
    damping_seconds: float = 6 * 3600.0  # how far a trend is believed to continue
    season_seconds: float = 86400.0
    season_buckets: int = 24
    error_seconds: float = 6 * 3600.0  # time constant of the typical forecast error
    margin: float = 4.0
    trend_memory_seconds: float = 2 * 86400.0  # how long the typical size of the trend is remembered
    trend_margin: float = 3.0  # a climb must be this many times the series' typical trend
    warmup_seconds: float = 86400.0  # a day of history before predicting anything
    refractory_seconds: float = 6 * 3600.0


@dataclass(frozen=True)
class Prediction:
    at: float  # when the prediction was made (seconds)
    crossing_at: float  # when the forecast reaches the threshold


def predict_crossings(
    times: np.ndarray,
    values: np.ndarray,
    threshold: float,
    horizon_seconds: float,
    spec: ForecastSpec = ForecastSpec(),
) -> list[Prediction]:
    """Every prediction a causal forecaster makes over one series (values below threshold)."""
    times, values = np.asarray(times, dtype=np.float64), np.asarray(values, dtype=np.float64)
    if times.shape != values.shape or times.ndim != 1:
        raise InvalidInput("times and values must be 1-d arrays of the same length")
    if not horizon_seconds > 0:
        raise InvalidInput("the horizon must be positive")
    buckets = spec.season_buckets
    season = np.full(buckets, np.nan)
    level = trend = error = np.nan
    typical_trend = 0.0
    last = quiet_until = -np.inf
    start = times[0] if len(times) else 0.0
    predictions: list[Prediction] = []
    for t, x in zip(times, values):
        if not (np.isfinite(t) and np.isfinite(x)) or t <= last:
            continue
        bucket = int(np.mod(t, spec.season_seconds) * buckets // spec.season_seconds) % buckets
        profile = _profile(season, np.array([t]), spec)[0]
        if not np.isfinite(level):
            level, trend, error, last = x, 0.0, 0.0, t
            continue
        dt = t - last
        guess = level + trend * dt
        deseasoned = x - profile
        error += (1 - np.exp(-dt / spec.error_seconds)) * (abs(deseasoned - guess) - error)
        previous = level
        level = guess + (1 - np.exp(-dt / spec.level_seconds)) * (deseasoned - guess)
        trend += (1 - np.exp(-dt / spec.trend_seconds)) * ((level - previous) / dt - trend)
        typical_trend += (1 - np.exp(-dt / spec.trend_memory_seconds)) * (abs(trend) - typical_trend)
        residual = x - level
        season[bucket] = residual if not np.isfinite(season[bucket]) else (
            season[bucket] + (1 - np.exp(-dt / (3 * spec.season_seconds))) * (residual - season[bucket])
        )
        last = t
        if t - start < spec.warmup_seconds or t < quiet_until or x >= threshold:
            continue
        crossing = _crossing(level, trend, season, t, threshold, horizon_seconds, spec)
        if (
            crossing is not None
            and trend * horizon_seconds > spec.margin * error
            and trend > spec.trend_margin * typical_trend
        ):
            predictions.append(Prediction(float(t), float(crossing)))
            quiet_until = t + spec.refractory_seconds
    return predictions


def _crossing(level, trend, season, t, threshold, horizon, spec: ForecastSpec) -> float | None:
    """First moment within the horizon at which the forecast reaches the threshold."""
    steps = np.linspace(0.0, horizon, 25)[1:]
    damping = spec.damping_seconds * (1 - np.exp(-steps / spec.damping_seconds))
    ahead = level + trend * damping + _profile(season, t + steps, spec)
    hits = np.flatnonzero(ahead >= threshold)
    return t + steps[hits[0]] if len(hits) else None


def _profile(season: np.ndarray, times: np.ndarray, spec: ForecastSpec) -> np.ndarray:
    """The daily profile at `times`, interpolated between bucket centres (unknown buckets: 0).

    A step from one hour's mean to the next would look like a jump every hour, and the level
    would chase it; a line between centres follows a smooth daily curve.
    """
    known = np.nan_to_num(season)
    position = np.mod(times, spec.season_seconds) * spec.season_buckets / spec.season_seconds - 0.5
    below = np.floor(position).astype(int)
    share = position - below
    return (1 - share) * known[below % spec.season_buckets] + share * known[(below + 1) % spec.season_buckets]
