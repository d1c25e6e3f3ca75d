"""Predicted alerts: a forecast raises the alert it foretells, through the alert path, once; it expires."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.schema import alerts, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from adapters.db.series_history import SeriesHistory
from pipeline.correlation import CorrelationPolicy
from pipeline.events import AlertBatch, decode_alert_batch
from pipeline.learning.forecast import predict_crossings
from pipeline.policy import Predictions, PredictionRule
from services.predictions import RECORD_ALERT_BATCH, Predictor

STEP = 300.0
RULE = PredictionRule(name="memory-will-fill", metric="node_memory_used_percent", threshold=90,
                      alertname="MemoryHigh", severity="warning", horizon_s=7200)
PREDICTIONS = Predictions(rules=(RULE,), interval_s=300, history_s=3 * 86400)
LABELS = {"__name__": "node_memory_used_percent", "instance": "i-0abc", "job": "checkout", "service": "checkout"}


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    engine = create_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    yield engine
    engine.dispose()


def store_series(engine, key, labels, times, values):
    with engine.begin() as conn:
        conn.execute(anomaly_series.insert().values(
            series_key=key, name=labels["__name__"], instance=labels.get("instance"), job=labels.get("job"),
            service=labels.get("service"), labels=labels, first_seen_at=datetime.fromtimestamp(times[0], tz=UTC)))
        conn.execute(anomaly_scores.insert(), [
            {"series_key": key, "ts": datetime.fromtimestamp(t, tz=UTC), "value": float(v), "score": 0.0,
             "is_anomaly": False, "model_version": "test", "labels": labels}
            for t, v in zip(times, values)
        ])


def leaking_series(rng) -> tuple[np.ndarray, np.ndarray, datetime]:
    """Calm days with a daily swing, then memory climbing 6 points an hour; cut at the moment
    the forecast first sees it coming (the worker's pass that runs then), returned as `now`."""
    start = datetime(2026, 11, 29, 0, 0, tzinfo=UTC).timestamp()
    times = np.arange(start, start + 4 * 86400, STEP)
    values = 50 + 10 * np.sin(2 * np.pi * times / 86400) + rng.normal(0, 1, len(times))
    climb = start + 2.6 * 86400
    values += np.where(times > climb, (times - climb) / 3600 * 6.0, 0.0)
    first = predict_crossings(times, values, RULE.threshold, RULE.horizon_s)[0]
    keep = times <= first.at
    return times[keep], values[keep], datetime.fromtimestamp(first.at, tz=UTC)


def deliver(store: AlertStore, published: list, now: datetime):
    """What the events worker does with a published batch (decode, record)."""
    outcomes = []
    for task, event in published:
        assert task == RECORD_ALERT_BATCH
        batch, rejected = decode_alert_batch(event.data, ("alertname", "service"))
        assert rejected == []
        outcomes.append(store.record_batch(batch, trace_id=event.traceid, now=now))
    published.clear()
    return outcomes


def test_a_climb_raises_one_predicted_alert_through_the_alert_path_and_it_expires(engine):
    times, values, now = leaking_series(np.random.default_rng(7))
    assert values.max() < RULE.threshold  # nothing has crossed yet
    store_series(engine, "leaky", LABELS, times, values)
    calm = {**LABELS, "instance": "i-0def"}
    store_series(engine, "calm", calm, times, 50 + 10 * np.sin(2 * np.pi * times / 86400))
    published: list = []
    predictor = Predictor(SeriesHistory(engine), lambda task, event: published.append((task, event)), PREDICTIONS)
    store = AlertStore(engine, CorrelationPolicy(window=timedelta(minutes=15)))

    run = predictor.run_once(now)
    assert len(run.raised) == 1 and run.resolved == ()
    [(task, event)] = published
    [alert] = AlertBatch.from_data(event.data).alerts
    assert alert.labels["alertname"] == "MemoryHigh" and alert.labels["predicted"] == "true"
    assert alert.labels["instance"] == "i-0abc" and alert.labels["service"] == "checkout"
    assert "is forecast to reach 90" in alert.annotations["summary"]
    [outcome] = deliver(store, published, now)
    assert len(outcome.opened) == 1

    # The next pass finds the same prediction: the same ids, so nothing new is stored.
    predictor.run_once(now + timedelta(minutes=5))
    assert all(o.recorded == 0 for o in deliver(store, published, now))

    # The crossing never came: a horizon after it, the prediction resolves itself.
    expires = datetime.fromisoformat(alert.annotations["expires_at"])
    assert predictor.run_once(expires - timedelta(minutes=1)).resolved == ()
    later = predictor.run_once(expires)
    assert later.resolved == run.raised
    deliver(store, published, expires)
    with engine.connect() as conn:
        assert conn.execute(sa.select(alerts.c.status)).scalars().all() == ["resolved"]
        assert conn.execute(sa.select(incidents.c.status)).scalars().all() == ["resolved"]


def test_no_rules_no_history_no_prediction(engine):
    published: list = []
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    assert Predictor(SeriesHistory(engine), lambda *a: published.append(a), Predictions()).run_once(now).raised == ()
    assert Predictor(SeriesHistory(engine), lambda *a: published.append(a), PREDICTIONS).run_once(now).raised == ()
    assert published == []
