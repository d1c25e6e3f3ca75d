"""The metric-scoring use case: per message one MGET, one detector call, one COPY, one pipelined save.

Order of effects, chosen so a redelivered message (worker killed, ack lost) changes nothing:
1. load every series' record (episode header + detector state) in one MGET;
2. score all points of all series in one detector (ONNX) call;
3. write the accepted points' scores (keyed by series and time) and new series in one transaction;
4. record episode starts/ends as `AnomalyDetected` alerts through the alert store (stable ids);
5. save the new records in one pipeline, only if no other process changed them since 1.
A crash before 5 leaves the old states, so the retry recomputes the same scores and alerts,
which 3 and 4 recognise. Samples at or before a series' last scored timestamp are not
accepted by the detector: they are dropped and counted (`dropped_stale`).

Two processes scoring messages of the same series at once: the second to save gets a
StateConflict (transient), retries from the first one's state and overwrites its own score rows.
(When the later message won, the earlier one's points are then stale and only the scores of
its first attempt remain; the window skips them. Per-series order is kept exactly by running
the `metrics` queue on one worker process.)
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import structlog

from pipeline.anomaly.detector import EncodedScores, StreamingDetector
from pipeline.anomaly_episodes import (
    ANOMALY_RECEIVER,
    EpisodeState,
    SeriesRecord,
    advance,
    anomaly_alert,
    unpack_record,
)
from pipeline.events import AlertBatch, AlertReceived
from pipeline.metric_events import SampleBatch, SeriesSamples
from services.alerts import AlertRecorder
from services.ports import ScoreColumns, ScoreWriter, SeriesRef, SeriesStateStore

log = structlog.get_logger("services.metrics")


@dataclass(frozen=True, slots=True)
class ScoringOutcome:
    """What one message did."""

    series: int
    scored: int
    dropped_stale: int
    anomalous: int
    alerts: tuple[AlertReceived, ...]
    opened: tuple[int, ...] = ()
    # The one detector call: how many points it scored and how long it took (for its metrics).
    inference_points: int = 0
    inference_s: float = 0.0
    scores: tuple[float, ...] = ()  # the accepted points' scores


class MetricScorer:
    """Scores a SampleBatch against stored series state and persists scores, alerts and state."""

    def __init__(
        self,
        detector: StreamingDetector,
        states: SeriesStateStore,
        scores: ScoreWriter,
        alerts: AlertRecorder,
        resolve_after: int,
        on_recorded: Callable[[AlertBatch, str, datetime, tuple[int, ...]], object] | None = None,
    ) -> None:
        self._detector, self._states, self._scores, self._alerts = detector, states, scores, alerts
        self._resolve_after = resolve_after
        self._on_recorded = on_recorded

    def score(self, batch: SampleBatch, *, trace_id: str, now: datetime) -> ScoringOutcome:
        """Score, persist and raise anomalies for every series of the batch."""
        if not batch.series:
            return ScoringOutcome(0, 0, 0, 0, ())
        loaded = self._states.load([s.key for s in batch.series])
        records = [unpack_record(data) for data in loaded]
        timestamps = [np.asarray(s.timestamps_ms, dtype=np.int64) for s in batch.series]
        values = [np.asarray(s.values, dtype=np.float64) for s in batch.series]
        started = time.perf_counter()
        result = self._detector.score_encoded(
            [r.detector_state for r in records], [t / 1000.0 for t in timestamps], values
        )
        inference_s = time.perf_counter() - started
        alerts, episodes = self._episodes(batch.series, records, timestamps, result)
        columns = self._columns(batch.series, timestamps, values, result)
        new_series = [
            SeriesRef(s.key, s.labels)
            for s, r in zip(batch.series, records)
            if r.detector_state is None
        ]
        self._scores.record(columns, new_series, now)
        opened = self._record_alerts(alerts, trace_id, now)
        # Conditional: if another process saved any of these series meanwhile, StateConflict
        # retries the message from the newer state, and its score rows are overwritten.
        self._states.save(
            {
                s.key: record.successor(episode, state)
                for s, record, episode, state in zip(batch.series, records, episodes, result.states)
            },
            expected={s.key: data for s, data in zip(batch.series, loaded)},
        )
        return ScoringOutcome(
            len(batch.series),
            len(columns),
            batch.sample_count - len(columns),
            int(columns.anomalous.sum()),
            tuple(alerts),
            opened,
            inference_points=batch.sample_count,
            inference_s=inference_s,
            scores=tuple(columns.scores.tolist()),
        )

    def _columns(
        self,
        series: tuple[SeriesSamples, ...],
        timestamps: list[np.ndarray],
        values: list[np.ndarray],
        result: EncodedScores,
    ) -> ScoreColumns:
        """The accepted points of every series, column-wise, ready for one bulk write."""
        accepted = np.concatenate(result.accepted)
        scores = np.concatenate(result.scores)
        index = np.repeat(np.arange(len(series)), [len(t) for t in timestamps])
        return ScoreColumns(
            keys=[s.key for s in series],
            labels=[s.labels for s in series],
            series=index[accepted],
            ts_ms=np.concatenate(timestamps)[accepted],
            values=np.concatenate(values)[accepted],
            scores=scores[accepted],
            anomalous=self._detector.is_anomalous(scores)[accepted],
            model_version=self._detector.model_version,
        )

    def _episodes(
        self,
        series: tuple[SeriesSamples, ...],
        records: list[SeriesRecord],
        timestamps: list[np.ndarray],
        result: EncodedScores,
    ) -> tuple[list[AlertReceived], list[EpisodeState]]:
        """Each series' episode advanced over its new points, and the alerts of what changed."""
        alerts: list[AlertReceived] = []
        episodes: list[EpisodeState] = []
        version = self._detector.model_version
        for one, record, ts, scores, accepted in zip(
            series, records, timestamps, result.scores, result.accepted
        ):
            anomalous = self._detector.is_anomalous(scores) & accepted
            episode, changes = advance(
                record.episode, ts, scores, accepted, anomalous, self._resolve_after
            )
            episodes.append(episode)
            alerts.extend(anomaly_alert(one.key, one.labels, change, version) for change in changes)
        return alerts, episodes

    def _record_alerts(
        self, alerts: list[AlertReceived], trace_id: str, now: datetime
    ) -> tuple[int, ...]:
        if not alerts:
            return ()
        batch = AlertBatch(
            alerts=tuple(alerts),
            group_key="anomaly",
            receiver=ANOMALY_RECEIVER,
            truncated_alerts=0,
            external_url="",
        )
        outcome = self._alerts.record_batch(batch, trace_id=trace_id, now=now)
        if self._on_recorded is not None and outcome.opened:
            # Only incidents this batch opened: re-summarising a busy incident on every anomalous
            # point cost a fifth of the scoring time, and the alerts carry their own scores.
            self._on_recorded(batch, trace_id, now, outcome.opened)
        return outcome.opened
