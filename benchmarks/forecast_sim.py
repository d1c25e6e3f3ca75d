"""Predictive remediation, measured on simulated series: would a forecast have seen the alert coming?

SIMULATED DATA. Each series is one metric of one instance with a threshold alert on it
(memory %, disk %, pool connections...), sampled every `--step` seconds for `--days` days,
with a daily pattern and noise of its own. What happens to it is one of:

- calm: the daily pattern well under the threshold (never alerts);
- near: daily peaks that come close to the threshold every day (the hard case for a
  forecaster that mistakes the morning climb for a trend); noise alone may push a peak over,
  an incident no trend announces;
- noisy: noise that hovers under the threshold (never alerts);
- leak: from a random moment after the first day, a steady climb (memory leak, filling disk,
  pool exhaustion) that crosses the threshold 1 to 12 hours later;
- sudden: a jump over the threshold with no precursor (hung instance, bad deploy, noisy
  neighbour): no forecast can see it, and it is counted so that the hit rate says so.

The first crossing is the incident (the threshold alert firing). A prediction made within
`--horizon` before it is a hit, with its lead time; any prediction not followed by a
crossing within the horizon plus an hour is false. The forecaster's settings are
`pipeline.learning.forecast.ForecastSpec`'s defaults, fixed before these figures were taken.

    python -m benchmarks.forecast_sim --series 300 --days 5 --seed 11
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass

import numpy as np

from pipeline.learning.forecast import predict_crossings

KINDS = {"calm": 0.3, "near": 0.15, "noisy": 0.1, "leak": 0.3, "sudden": 0.15}
THRESHOLD = 90.0
DAY = 86400.0


@dataclass(frozen=True)
class Series:
    kind: str
    times: np.ndarray
    values: np.ndarray


def simulate(rng: np.random.Generator, kind: str, days: float, step: float) -> Series:
    times = np.arange(0.0, days * DAY, step)
    phase = rng.uniform(0, DAY)
    amplitude = rng.uniform(3, 12)
    noise = rng.uniform(0.5, 2.0)
    daily = amplitude * np.sin(2 * np.pi * (times + phase) / DAY)
    if kind == "near":
        base = THRESHOLD - amplitude - rng.uniform(1.5, 4.0)
    elif kind == "noisy":
        noise = rng.uniform(3.0, 5.0)
        base = THRESHOLD - amplitude - 4 * noise
    else:
        base = rng.uniform(30, 60)
    values = base + daily + rng.normal(0, noise, len(times))
    if kind == "leak":
        start = rng.uniform(1.2 * DAY, (days - 1) * DAY)
        hours_to_cross = rng.uniform(1, 12)
        # Climb at a rate that reaches the threshold from the series' daily high in that time.
        rate = (THRESHOLD + 2 - (base + amplitude)) / (hours_to_cross * 3600)
        values = values + np.where(times > start, (times - start) * rate, 0.0)
    elif kind == "sudden":
        start = rng.uniform(1.2 * DAY, (days - 0.2) * DAY)
        values = np.where(times >= start, THRESHOLD + rng.uniform(2, 20), values)
    return Series(kind, times, np.clip(values, 0, None))


def score(series: list[Series], horizon: float) -> dict:
    per_kind: dict[str, dict] = {k: {"series": 0, "incidents": 0, "hits": 0, "false": 0} for k in KINDS}
    leads: list[float] = []
    leads_by_kind: dict[str, list[float]] = {k: [] for k in KINDS}
    started = time.perf_counter()
    points = 0
    for one in series:
        stats = per_kind[one.kind]
        stats["series"] += 1
        points += len(one.times)
        over = np.flatnonzero(one.values >= THRESHOLD)
        crossing = float(one.times[over[0]]) if len(over) else None
        predictions = predict_crossings(one.times, one.values, THRESHOLD, horizon)
        if crossing is not None:
            stats["incidents"] += 1
            ahead = [p.at for p in predictions if crossing - horizon <= p.at < crossing]
            if ahead:
                stats["hits"] += 1
                lead = (crossing - min(ahead)) / 60
                leads.append(lead)
                leads_by_kind[one.kind].append(lead)
        stats["false"] += sum(
            1 for p in predictions if crossing is None or not p.at < crossing <= p.at + horizon + 3600
        )
    seconds = time.perf_counter() - started
    incidents = sum(s["incidents"] for s in per_kind.values())
    hits = sum(s["hits"] for s in per_kind.values())
    false = sum(s["false"] for s in per_kind.values())
    series_days = sum(len(s.times) for s in series) * (series[0].times[1] - series[0].times[0]) / DAY
    return {
        "incidents": incidents,
        "predicted": hits,
        "hit_rate": round(hits / incidents, 3) if incidents else None,
        "median_lead_min": round(statistics.median(leads), 1) if leads else None,
        "false_predictions": false,
        "false_per_series_day": round(false / series_days, 4),
        "by_kind": {
            kind: {**stats, "median_lead_min": round(statistics.median(leads_by_kind[kind]), 1)
                   if leads_by_kind[kind] else None}
            for kind, stats in per_kind.items()
        },
        "points_per_s": round(points / seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", type=int, default=300)
    parser.add_argument("--days", type=float, default=5.0)
    parser.add_argument("--step", type=float, default=300.0, help="seconds between samples")
    parser.add_argument("--horizon", type=float, default=2 * 3600.0, help="seconds ahead")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    if args.days < 2.5:
        parser.error("--days must leave room for a day of warm-up and a fault after it (>= 2.5)")
    rng = np.random.default_rng(args.seed)
    kinds = rng.choice(list(KINDS), size=args.series, p=list(KINDS.values()))
    series = [simulate(rng, str(kind), args.days, args.step) for kind in kinds]
    result = score(series, args.horizon)
    result["settings"] = vars(args)
    result["data"] = "SIMULATED (benchmarks/forecast_sim.py)"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
