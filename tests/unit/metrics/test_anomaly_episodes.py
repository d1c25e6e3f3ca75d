"""Anomaly episodes start at the first anomalous point, end after N normal ones; stable ids."""

from datetime import UTC, datetime

import numpy as np

from pipeline.anomaly_episodes import (
    RECORD_HEADER_BYTES,
    EpisodeEnded,
    EpisodeStarted,
    EpisodeState,
    SeriesRecord,
    advance,
    anomaly_alert,
    unpack_record,
)


def run(flags, state=None, accepted=None, resolve_after=3, t0=1000):
    state = state or EpisodeState()
    flags = np.array(flags, dtype=bool)
    timestamps = np.arange(len(flags)) * 1000 + t0
    scores = np.where(flags, 0.9, 0.1)
    accepted = np.ones(len(flags), dtype=bool) if accepted is None else np.array(accepted)
    return advance(state, timestamps, scores, accepted, flags & accepted, resolve_after)


def test_normal_series_has_no_episode():
    assert run([0, 0, 0, 0]) == (EpisodeState(), [])


def test_episode_starts_at_first_anomalous_point_and_ends_at_first_of_n_normal_points():
    state, changes = run([0, 1, 1, 0, 1, 0, 0, 0, 0])
    assert changes == [EpisodeStarted(2000, 0.9), EpisodeEnded(2000, 6000)]
    assert state == EpisodeState()


def test_open_episode_carries_over_to_the_next_batch():
    state, changes = run([0, 1, 0])
    assert changes == [EpisodeStarted(2000, 0.9)] and state.open and state.normal_run == 1
    state, changes = run([0, 0], state=state, t0=4000)
    assert changes == [EpisodeEnded(2000, 3000)] and not state.open


def test_points_the_detector_did_not_accept_do_not_count():
    state, changes = run([1, 0, 0, 0], accepted=[False, True, True, True])
    assert changes == [] and state == EpisodeState()


def test_record_round_trips_and_foreign_bytes_start_fresh():
    episode = EpisodeState(True, 123, 456, 2)
    first = SeriesRecord().successor(episode, b"detector")
    assert unpack_record(first) == SeriesRecord(episode, b"detector", 1)
    assert unpack_record(b"old detector bytes without header") == SeriesRecord()
    assert unpack_record(None) == SeriesRecord()


def test_every_rewrite_changes_the_header_even_with_the_same_content():
    first = SeriesRecord().successor(EpisodeState(), b"same")
    second = unpack_record(first).successor(EpisodeState(), b"same")
    assert first[:RECORD_HEADER_BYTES] != second[:RECORD_HEADER_BYTES]


def test_anomaly_alert_takes_service_from_job_and_has_deterministic_ids():
    labels = {"__name__": "latency", "job": "checkout"}
    firing = anomaly_alert("k" * 40, labels, EpisodeStarted(1_000_000, 0.93), "m1")
    resolved = anomaly_alert("k" * 40, labels, EpisodeEnded(1_000_000, 1_060_000), "m1")
    assert firing.labels == {**labels, "alertname": "AnomalyDetected", "service": "checkout"}
    assert firing.starts_at == resolved.starts_at == datetime(1970, 1, 1, 0, 16, 40, tzinfo=UTC)
    assert resolved.ends_at == datetime(1970, 1, 1, 0, 17, 40, tzinfo=UTC)
    assert (firing.status, resolved.status) == ("firing", "resolved")
    assert firing.annotations["anomaly_score"] == "0.9300" and firing.fingerprint == "k" * 40
    assert (
        firing.event_id
        == anomaly_alert("k" * 40, labels, EpisodeStarted(1_000_000, 0.5), "m2").event_id
    )
    assert firing.event_id != resolved.event_id


def test_series_service_label_wins_over_job():
    alert = anomaly_alert(
        "k", {"__name__": "x", "job": "node", "service": "payments"}, EpisodeStarted(0, 1.0), "m"
    )
    assert alert.service == "payments"


def test_labels_kept_in_bounded_incident_columns_are_cut_to_fit():
    labels = {"__name__": "x", "service": "s" * 300, "severity": "v" * 100, "path": "p" * 1000}
    alert = anomaly_alert("k", labels, EpisodeStarted(0, 1.0), "m")
    assert len(alert.service) == 256 and len(alert.severity) == 64
    assert alert.labels["path"] == "p" * 1000
