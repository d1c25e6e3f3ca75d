"""Anomaly episodes of a series, and the `AnomalyDetected` alerts they become.

An episode starts at the first accepted point whose score reaches the model's threshold and
ends once `resolve_after` consecutive accepted points score below it; it then ends at the
first of those normal points. A start is one firing `AnomalyDetected` alert whose `startsAt`
is the episode's first anomalous point; an end is the resolved alert of that same start. Both
have deterministic event ids (fingerprint = series key, status, start), so a rescored,
redelivered batch yields the same alerts and correlation records them once.

The episode bookkeeping travels with the detector's state in one stored record per series:
a small versioned header (with a write counter, so any rewrite changes the header), then the
detector's bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from pipeline.events import AlertReceived, alert_event_id

ANOMALY_ALERTNAME = "AnomalyDetected"
ANOMALY_RECEIVER = "smartcloudops-anomaly"
_HEADER = struct.Struct(
    "<4sQBqqI"
)  # magic, generation, open flag, started_ms, normal_since_ms, normal_run
_MAGIC = b"SCE2"
_INCIDENT_COLUMN_LIMITS = {"service": 256, "severity": 64}
RECORD_HEADER_BYTES = _HEADER.size  # a record's header differs after every write (its generation)


@dataclass(frozen=True, slots=True)
class EpisodeState:
    """Whether a series is in an anomaly episode, since when, and how long it has looked normal."""

    open: bool = False
    started_ms: int = 0
    normal_since_ms: int = 0
    normal_run: int = 0


@dataclass(frozen=True, slots=True)
class EpisodeStarted:
    started_ms: int
    score: float


@dataclass(frozen=True, slots=True)
class EpisodeEnded:
    started_ms: int
    ended_ms: int


EpisodeChange = EpisodeStarted | EpisodeEnded


@dataclass(frozen=True, slots=True)
class SeriesRecord:
    """What is stored per series: the episode, the detector's state bytes and a write counter."""

    episode: EpisodeState = EpisodeState()
    detector_state: bytes | None = None
    generation: int = 0

    def successor(self, episode: EpisodeState, detector_state: bytes) -> bytes:
        """The encoded record that replaces this one."""
        header = _HEADER.pack(
            _MAGIC,
            self.generation + 1,
            episode.open,
            episode.started_ms,
            episode.normal_since_ms,
            episode.normal_run,
        )
        return header + detector_state


def unpack_record(data: bytes | None) -> SeriesRecord:
    """Decode a stored record; absent or foreign bytes give a fresh one."""
    if data is None or len(data) < _HEADER.size or data[:4] != _MAGIC:
        return SeriesRecord()
    _, generation, is_open, started_ms, normal_since_ms, normal_run = _HEADER.unpack_from(data)
    episode = EpisodeState(bool(is_open), started_ms, normal_since_ms, normal_run)
    return SeriesRecord(episode, data[_HEADER.size :], generation)


def advance(
    state: EpisodeState,
    timestamps_ms: np.ndarray,
    scores: np.ndarray,
    accepted: np.ndarray,
    anomalous: np.ndarray,
    resolve_after: int,
) -> tuple[EpisodeState, list[EpisodeChange]]:
    """Walk a series' newly scored points through its episode: the new state and what changed."""
    counted = np.flatnonzero(accepted)
    if not state.open and not anomalous[counted].any():
        return state, []  # the common case: a normal series stays normal, no per-point work
    changes: list[EpisodeChange] = []
    for i in counted:
        state = _step(
            state,
            int(timestamps_ms[i]),
            float(scores[i]),
            bool(anomalous[i]),
            resolve_after,
            changes,
        )
    return state, changes


def _step(
    state: EpisodeState,
    ts_ms: int,
    score: float,
    anomalous: bool,
    resolve_after: int,
    changes: list[EpisodeChange],
) -> EpisodeState:
    if anomalous:
        if not state.open:
            changes.append(EpisodeStarted(ts_ms, score))
            return EpisodeState(True, ts_ms, 0, 0)
        return EpisodeState(True, state.started_ms, 0, 0)
    if not state.open:
        return state
    since = state.normal_since_ms if state.normal_run else ts_ms
    run = state.normal_run + 1
    if run >= resolve_after:
        changes.append(EpisodeEnded(state.started_ms, since))
        return EpisodeState()
    return EpisodeState(True, state.started_ms, since, run)


def anomaly_alert(
    series_key: str, labels: Mapping[str, str], change: EpisodeChange, model_version: str
) -> AlertReceived:
    """The `AnomalyDetected` alert (firing or resolved) of an episode change of one series."""
    alert_labels = {**labels, "alertname": ANOMALY_ALERTNAME}
    if not alert_labels.get("service") and labels.get("job"):
        alert_labels["service"] = labels["job"]
    # An incident keeps these labels in bounded columns: a long series label must not make
    # the alert unstorable (and the whole message a dead letter).
    for name, limit in _INCIDENT_COLUMN_LIMITS.items():
        if name in alert_labels:
            alert_labels[name] = alert_labels[name][:limit]
    starts_at = _utc(change.started_ms)
    firing = isinstance(change, EpisodeStarted)
    status = "firing" if firing else "resolved"
    annotations = {
        "summary": f"{labels.get('__name__', 'series')} behaves unlike its recent history",
        "model_version": model_version,
    }
    if firing:
        annotations["anomaly_score"] = f"{change.score:.4f}"
    return AlertReceived(
        event_id=alert_event_id(series_key, status, starts_at),
        fingerprint=series_key,
        status=status,
        labels=alert_labels,
        annotations=annotations,
        starts_at=starts_at,
        ends_at=None if firing else _utc(change.ended_ms),
        generator_url="",
        group_key=f"anomaly:{series_key}",
        receiver=ANOMALY_RECEIVER,
    )


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC)
