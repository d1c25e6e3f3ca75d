"""Batched scoring: scores stored once, episodes become AnomalyDetected incidents, no redo."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from adapters.db import audit_writer
from adapters.db.alert_store import AlertStore
from adapters.db.anomaly_evidence import AnomalyEvidenceRecorder
from adapters.db.anomaly_store import AnomalyScoreStore
from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade
from adapters.db.schema import alerts, audit_log, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series, incident_anomaly
from adapters.series_state import InMemorySeriesStateStore, StateConflict
from adapters.anomaly_model import load_detector
from pipeline.audit import verify
from pipeline.correlation import CorrelationPolicy
from pipeline.metric_events import SampleBatch, merge_series
from services.metrics import MetricScorer

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
T0_MS = 1_790_000_000_000
STEP_MS = 15_000
JUMP_AT, JUMP_LEN = 300, 10
LABELS = {"__name__": "http_latency_ms", "job": "checkout", "instance": "web-1:9100"}


@pytest.fixture(scope="module")
def detector():
    """The shipped detector, warmed up after 30 minutes: these series start at their jump."""
    from dataclasses import replace

    from pipeline.anomaly.novelty import NoveltyDetector

    shipped = load_detector()
    spec = replace(shipped.spec, warmup_seconds=1800.0)
    return NoveltyDetector(spec, shipped.threshold, shipped.model_version)


@pytest.fixture
def engine(sqlite_url):
    engine = create_engine(sqlite_url)
    yield engine
    engine.dispose()


@pytest.fixture
def states():
    return InMemorySeriesStateStore()


@pytest.fixture
def scorer(detector, engine, states):
    return make_scorer(detector, engine, states)


def make_scorer(detector, engine, states):
    recorder = AnomalyEvidenceRecorder(engine, timedelta(minutes=15))
    return MetricScorer(
        detector,
        states,
        AnomalyScoreStore(engine),
        AlertStore(engine, CorrelationPolicy()),
        resolve_after=5,
        on_recorded=recorder.record,
    )


def flat_then_jump(n=400):
    """A calm periodic series that jumps tenfold for ten points, then returns."""
    values = 10 + 0.5 * np.sin(np.arange(n) / 5.0)
    values[JUMP_AT : JUMP_AT + JUMP_LEN] = 100.0
    return [T0_MS + i * STEP_MS for i in range(n)], values.tolist()


def batch_of(labels, timestamps, values) -> SampleBatch:
    return merge_series([(dict(labels), list(timestamps), list(values))])


def count(engine, table, *where):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(table).where(*where)
        ).scalar_one()


def test_every_sample_is_scored_once_and_the_jump_opens_an_anomaly_incident(scorer, engine):
    timestamps, values = flat_then_jump()
    outcome = scorer.score(batch_of(LABELS, timestamps, values), trace_id="t-1", now=NOW)
    assert (outcome.series, outcome.scored, outcome.dropped_stale) == (1, 400, 0)
    assert count(engine, anomaly_scores) == 400 and count(engine, anomaly_series) == 1
    with engine.connect() as conn:
        flagged = (
            conn.execute(
                sa.select(anomaly_scores.c.ts)
                .where(anomaly_scores.c.is_anomaly)
                .order_by(anomaly_scores.c.ts)
            )
            .scalars()
            .all()
        )
        incident = conn.execute(sa.select(incidents)).one()
        alert = conn.execute(sa.select(alerts)).one()
    first = datetime.fromtimestamp((T0_MS + JUMP_AT * STEP_MS) / 1000, tz=UTC)
    assert flagged and flagged[0].replace(tzinfo=UTC) == first
    assert all(
        first <= ts.replace(tzinfo=UTC) < first + timedelta(seconds=15 * JUMP_LEN) for ts in flagged
    )
    assert (incident.alertname, incident.service, incident.status) == (
        "AnomalyDetected",
        "checkout",
        "resolved",
    )
    assert alert.starts_at.replace(tzinfo=UTC) == first and alert.status == "resolved"
    assert alert.labels == {**LABELS, "alertname": "AnomalyDetected", "service": "checkout"}


def test_episode_resolves_after_five_normal_points_and_is_audited(scorer, engine):
    timestamps, values = flat_then_jump()
    cut = JUMP_AT + 3  # mid-episode: the first message only fires
    scorer.score(batch_of(LABELS, timestamps[:cut], values[:cut]), trace_id="t-1", now=NOW)
    with engine.connect() as conn:
        assert conn.execute(sa.select(incidents.c.status)).scalar_one() == "open"
    scorer.score(batch_of(LABELS, timestamps[cut:], values[cut:]), trace_id="t-2", now=NOW)
    with engine.connect() as conn:
        kinds = conn.execute(sa.select(audit_log.c.kind).order_by(audit_log.c.seq)).scalars().all()
        report = verify(audit_writer.read_chain(conn), audit_writer.read_head(conn))
    assert kinds == [
        "incident.opened",
        "alert.firing",
        "incident.anomaly_evidence",
        "alert.resolved",
        "incident.resolved",
    ]
    assert report.ok


def test_redelivered_message_adds_no_scores_and_no_alerts(scorer, engine):
    timestamps, values = flat_then_jump()
    batch = batch_of(LABELS, timestamps, values)
    scorer.score(batch, trace_id="t-1", now=NOW)
    before = count(engine, audit_log)
    again = scorer.score(batch, trace_id="t-1", now=NOW)
    assert (again.scored, again.dropped_stale, again.alerts) == (0, 400, ())
    assert count(engine, anomaly_scores) == 400 and count(engine, audit_log) == before


class StateSaveFails(InMemorySeriesStateStore):
    def save(self, states, expected=None):
        raise ConnectionError("redis went away after the database commit")


def test_crash_before_the_state_save_is_retried_into_the_same_result(detector, engine):
    timestamps, values = flat_then_jump()
    batch = batch_of(LABELS, timestamps, values)
    with pytest.raises(ConnectionError):
        make_scorer(detector, engine, StateSaveFails()).score(batch, trace_id="t-1", now=NOW)
    retried = make_scorer(detector, engine, InMemorySeriesStateStore()).score(
        batch, trace_id="t-1", now=NOW
    )
    assert retried.scored == 400  # recomputed; the rows were already there and stay single
    assert (
        count(engine, anomaly_scores) == 400
        and count(engine, incidents) == 1
        and count(engine, alerts) == 1
    )


def test_many_series_share_one_message_and_keep_separate_windows(scorer, engine, states):
    timestamps, values = flat_then_jump(200)
    parts = [
        ({"__name__": "cpu", "instance": f"i-{n}"}, timestamps, [v + n for v in values])
        for n in range(50)
    ]
    outcome = scorer.score(merge_series(parts), trace_id="t", now=NOW)
    assert (outcome.series, outcome.scored) == (50, 50 * 200)
    assert count(engine, anomaly_series) == 50
    assert all(
        state is not None for state in states.load([s.key for s in merge_series(parts).series])
    )


def test_samples_older_than_the_last_scored_one_are_dropped_and_counted(scorer, engine):
    timestamps, values = flat_then_jump(100)
    scorer.score(batch_of(LABELS, timestamps[50:], values[50:]), trace_id="t", now=NOW)
    late = scorer.score(batch_of(LABELS, timestamps[:60], values[:60]), trace_id="t", now=NOW)
    assert (late.scored, late.dropped_stale) == (0, 60)


def test_alert_for_an_instance_gets_the_recent_scores_of_its_series_as_evidence(scorer, engine):
    timestamps, values = flat_then_jump()
    scorer.score(batch_of(LABELS, timestamps, values), trace_id="t", now=NOW)
    with engine.connect() as conn:
        row = conn.execute(sa.select(incident_anomaly)).one()
    assert row.points > 0 and row.anomalous_points >= 1 and row.max_score >= 0.5
    assert row.top_series[0]["labels"] == LABELS


class LoadsAnOlderState(InMemorySeriesStateStore):
    """Hands out a state another worker has since replaced: two processes racing on one series."""

    def __init__(self, older):
        super().__init__()
        self.older = older

    def load(self, keys):
        if self.older is not None:
            older, self.older = self.older, None
            return older
        return super().load(keys)


def scores_by_ts(engine):
    with engine.connect() as conn:
        rows = conn.execute(sa.select(anomaly_scores.c.ts, anomaly_scores.c.score)).all()
    return {ts.replace(tzinfo=UTC): score for ts, score in rows}


def test_a_state_conflict_retries_from_the_newer_state_and_rewrites_the_scores(
    detector, engine, tmp_path
):
    timestamps, values = flat_then_jump()
    parts = [
        batch_of(LABELS, timestamps[a:b], values[a:b])
        for a, b in ((0, 200), (200, 280), (280, 400))
    ]
    states = LoadsAnOlderState(None)
    scorer = make_scorer(detector, engine, states)
    scorer.score(parts[0], trace_id="t", now=NOW)
    before_second = states.load([parts[0].series[0].key])
    scorer.score(parts[1], trace_id="t", now=NOW)
    states.older = before_second
    with pytest.raises(StateConflict):
        scorer.score(parts[2], trace_id="t", now=NOW)  # it scored from the state before parts[1]
    retried = scorer.score(parts[2], trace_id="t", now=NOW)
    assert retried.scored == 120
    reference_engine = create_engine(f"sqlite:///{tmp_path / 'reference.sqlite'}")
    upgrade(reference_engine)
    make_scorer(detector, reference_engine, InMemorySeriesStateStore()).score(
        batch_of(LABELS, timestamps, values), trace_id="t", now=NOW
    )
    assert scores_by_ts(engine) == scores_by_ts(reference_engine)
    reference_engine.dispose()


def test_the_risk_scorer_reads_an_incidents_anomaly_evidence(scorer, engine):
    from adapters.db.anomaly_queries import AnomalyQueries

    timestamps, values = flat_then_jump()
    scorer.score(batch_of(LABELS, timestamps, values), trace_id="t", now=NOW)
    with engine.connect() as conn:
        incident_id = conn.execute(sa.select(incidents.c.id)).scalar_one()
    evidence = AnomalyQueries(engine).recent_scores_for_incident(incident_id)
    assert evidence["incident_id"] == incident_id and evidence["anomalous_points"] >= 1
    assert 0 < evidence["mean_score"] < evidence["max_score"] <= 1
    assert AnomalyQueries(engine).recent_scores_for_incident(incident_id + 1) is None
    series = AnomalyQueries(engine).series_scores(
        batch_of(LABELS, timestamps, values).series[0].key,
        since=datetime.fromtimestamp(timestamps[JUMP_AT] / 1000, tz=UTC),
        limit=3,
    )
    assert [row["value"] for row in series] == [100.0, 100.0, 100.0]
    assert series[0]["is_anomaly"] and series[0]["score"] >= 0.5


@pytest.mark.parametrize(
    ("alert_labels", "matches"),
    [
        ({"instance": "web-1:9100"}, {"web", "web-no-service"}),
        ({"instance": "web-1:9100", "job": "checkout"}, {"web", "web-no-service"}),
        ({"service": "checkout"}, {"web", "other-host"}),
        ({"service": "checkout", "instance": "web-2:9100"}, {"other-host"}),
        ({"job": "payments"}, set()),
        ({"alertname": "Whatever"}, set()),
    ],
)
def test_an_alert_matches_series_that_agree_on_every_shared_label(engine, alert_labels, matches):
    from adapters.db.anomaly_queries import matching_series
    from adapters.db.anomaly_store import _insert_series
    from services.ports import SeriesRef

    series = {
        "web": {
            "__name__": "m",
            "instance": "web-1:9100",
            "job": "checkout",
            "service": "checkout",
        },
        "web-no-service": {"__name__": "m", "instance": "web-1:9100", "job": "checkout"},
        "other-host": {"__name__": "m", "instance": "web-2:9100", "service": "checkout"},
    }
    keys = {name: name.ljust(40, "x") for name in series}
    with engine.begin() as conn:
        _insert_series(conn, [SeriesRef(keys[n], labels) for n, labels in series.items()], NOW)
        found = set(matching_series(conn, alert_labels))
    assert found == {keys[name] for name in matches}
