"""A real worker forecasts a climbing series and opens a predicted incident whose plan waits for a person."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine
from adapters.db.schema import alerts, incidents
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from adapters.db.schema_remediation import remediation_runs
from pipeline.learning.forecast import predict_crossings
from tests.processes import Pipeline, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[3]
LABELS = {"__name__": "container_memory_used_percent", "job": "payments", "service": "payments",
          "instance": "payments-task-1"}
PREDICTIONS = """
predictions:
  interval_s: 86400   # one pass, when the worker starts: every prediction of the last two days is news
  history_s: 345600   # four days: the whole stored history, so the worker sees what the test saw
  rules:
    - {name: payments-memory, metric: container_memory_used_percent, threshold: 90, alertname: HighMemory}
"""


def climbing_series(now: datetime) -> tuple[np.ndarray, np.ndarray]:
    """Days of a daily swing up to now, then memory climbing 6 points an hour for the last few
    hours, cut where the forecast first saw it coming (before the threshold is reached).

    Whether a climb is seen early depends on where in its daily swing the series is when the
    climb starts; the test runs at any time of day, so it tries the swing's phase relative to
    now as well as the climb's start, and keeps the first the forecast sees."""
    times = np.arange(now.timestamp() - 3.5 * 86400, now.timestamp(), 300.0)
    noise = np.random.default_rng(11).normal(0, 1, len(times))
    for phase in np.linspace(0, 2 * np.pi, 8, endpoint=False):
        calm = 50 + 10 * np.sin(2 * np.pi * (times - now.timestamp()) / 86400 + phase) + noise
        for hours in (6, 5, 7, 8):
            climb = now.timestamp() - hours * 3600
            values = calm + np.where(times > climb, (times - climb) / 3600 * 6.0, 0.0)
            seen = [p for p in predict_crossings(times, values, 90, 7200) if p.at > now.timestamp() - 3 * 3600]
            if seen:
                keep = times <= seen[0].at
                assert values[keep].max() < 90
                return times[keep], values[keep]
    raise AssertionError("the forecast never saw a six-points-an-hour climb coming")


def test_a_forecast_opens_a_predicted_incident_whose_plan_needs_approval(redis_url, pg_url, tmp_path):
    policy = tmp_path / "policies.yaml"
    policy.write_text((ROOT / "config" / "policies.yaml").read_text() + PREDICTIONS)
    engine = create_engine(pg_url)
    times, values = climbing_series(datetime.now(UTC))
    with engine.begin() as conn:
        conn.execute(anomaly_series.insert().values(
            series_key="payments-memory", name=LABELS["__name__"], instance=LABELS["instance"],
            job=LABELS["job"], service=LABELS["service"], labels=LABELS,
            first_seen_at=datetime.fromtimestamp(times[0], tz=UTC)))
        conn.execute(anomaly_scores.insert(), [
            {"series_key": "payments-memory", "ts": datetime.fromtimestamp(t, tz=UTC), "value": float(v),
             "score": 0.0, "is_anomaly": False, "model_version": "test", "labels": LABELS}
            for t, v in zip(times, values)])
    pipeline = Pipeline(env={"SCO_BROKER_URL": redis_url, "SCO_DATABASE_URL": pg_url, "SCO_REDIS_URL": redis_url,
                             "SCO_POLICY_PATH": str(policy), "SCO_LOG_LEVEL": "INFO"}, workdir=tmp_path)
    try:
        pipeline.start_worker("--queues", "events,risk,remediation", "--concurrency", "1")

        def runs():
            with engine.connect() as conn:
                return conn.execute(sa.select(remediation_runs)).all()

        wait_for(lambda: len(runs()) == 1, 90, f"no plan for a predicted incident\n{pipeline.logs()}")
        [run] = runs()
        with engine.connect() as conn:
            incident = conn.execute(sa.select(incidents)).one()
            alert = conn.execute(sa.select(alerts)).one()
        assert incident.alertname == "HighMemory" and incident.service == "payments"
        assert alert.labels["predicted"] == "true" and "forecast to reach 90" in alert.annotations["summary"]
        assert run.decision == "needs_approval" and run.state == "awaiting_approval"
        assert run.rule == "redeploy-container-services" and run.mode == "dry_run"
        # a forecast, not a report: the crossing lies after the last sample and within the rule's horizon
        crossing = datetime.fromisoformat(alert.annotations["forecast_crossing_at"]).timestamp()
        assert times[-1] < crossing <= times[-1] + 7200 + 300
    finally:
        pipeline.stop_all()
        engine.dispose()
