"""SVG plots drawn on the server: a series' values above, its anomaly scores below.

Only coordinates are computed here; the template draws them. The threshold is a horizontal line
on the score panel, the alert's start a vertical line across both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

WIDTH, PANEL, GAP, LEFT, RIGHT = 640, 110, 24, 56, 8


@dataclass(frozen=True, slots=True)
class Plot:
    """One series ready to draw (viewBox units)."""

    title: str
    width: int
    height: int
    value_path: str
    score_path: str
    value_range: tuple[float, float]
    score_range: tuple[float, float]
    threshold_y: float | None
    alert_x: float | None
    anomalies: tuple[tuple[float, float], ...]
    points: int
    start: str
    end: str


def plot(series: Mapping[str, Any], *, alert_start: str | None, threshold: float | None) -> Plot | None:
    """The coordinates of one series' plot; None when it has no points."""
    points: Sequence[Mapping[str, Any]] = series.get("points") or ()
    if not points:
        return None
    times = [datetime.fromisoformat(p["ts"]).timestamp() for p in points]
    t0, t1 = times[0], max(times[-1], times[0] + 1)
    values = [float(p["value"]) for p in points]
    scores = [float(p["score"]) for p in points]
    v_low, v_high = _padded(min(values), max(values))
    s_high = max(max(scores), threshold or 0.0) * 1.1 or 1.0

    def x(t: float) -> float:
        return LEFT + (t - t0) / (t1 - t0) * (WIDTH - LEFT - RIGHT)

    def y_value(v: float) -> float:
        return PANEL - (v - v_low) / (v_high - v_low) * PANEL

    def y_score(s: float) -> float:
        return PANEL + GAP + PANEL - min(s, s_high) / s_high * PANEL

    alert_x = None
    if alert_start:
        at = datetime.fromisoformat(alert_start).timestamp()
        alert_x = round(x(min(max(at, t0), t1)), 1)
    return Plot(
        title=_title(series),
        width=WIDTH,
        height=2 * PANEL + GAP + 14,  # and a line of time labels
        value_path=_path([(x(t), y_value(v)) for t, v in zip(times, values)]),
        score_path=_path([(x(t), y_score(s)) for t, s in zip(times, scores)]),
        value_range=(v_low, v_high),
        score_range=(0.0, s_high),
        threshold_y=round(y_score(threshold), 1) if threshold is not None else None,
        alert_x=alert_x,
        anomalies=tuple((round(x(t), 1), round(y_score(s), 1))
                        for t, s, p in zip(times, scores, points) if p.get("anomaly")),
        points=len(points),
        start=points[0]["ts"],
        end=points[-1]["ts"],
    )


def _padded(low: float, high: float) -> tuple[float, float]:
    if high - low < 1e-9:
        return low - 1.0, high + 1.0
    pad = (high - low) * 0.05
    return low - pad, high + pad


def _path(coords: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{px:.1f},{py:.1f}" for i, (px, py) in enumerate(coords))


def _title(series: Mapping[str, Any]) -> str:
    labels = series.get("labels") or {}
    shown = ", ".join(f"{k}={v}" for k, v in sorted(labels.items()) if k != "__name__")
    return f"{series.get('name', '?')}{{{shown}}}"
