"""The score store on PostgreSQL and SQLite: bulk write, redelivery overwrites, odd labels kept."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest
import sqlalchemy as sa

from adapters.db.anomaly_store import AnomalyScoreStore
from services.ports import ScoreColumns, SeriesRef
from adapters.db.engine import create_engine
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series

pytestmark = pytest.mark.integration
NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
ODD = {"__name__": "odd", "path": 'C:\\temp\t"quoted"\nnext', "city": "Zürich ✓"}
PLAIN = {"__name__": "plain", "instance": "web-1:9100"}


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    engine = create_engine(
        request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    )
    yield engine
    engine.dispose()


def columns(scores, version="m1") -> ScoreColumns:
    n = len(scores)
    return ScoreColumns(
        keys=["a" * 40, "b" * 40],
        labels=[ODD, PLAIN],
        series=np.arange(n) % 2,
        ts_ms=1_790_000_000_000 + (np.arange(n) // 2) * 15_000,
        values=np.arange(n) * 1.5,
        scores=np.asarray(scores, dtype=float),
        anomalous=np.asarray(scores) >= 0.5,
        model_version=version,
    )


def stored(engine):
    with engine.connect() as conn:
        return conn.execute(
            sa.select(anomaly_scores).order_by(anomaly_scores.c.ts, anomaly_scores.c.series_key)
        ).all()


def test_scores_and_labels_are_stored_exactly(engine):
    store = AnomalyScoreStore(engine)
    store.record(
        columns([0.1, 0.9, 0.2, 0.3]), [SeriesRef("a" * 40, ODD), SeriesRef("b" * 40, PLAIN)], NOW
    )
    rows = stored(engine)
    assert [(r.series_key[0], r.value, r.score, r.is_anomaly) for r in rows] == [
        ("a", 0.0, 0.1, False),
        ("b", 1.5, 0.9, True),
        ("a", 3.0, 0.2, False),
        ("b", 4.5, 0.3, False),
    ]
    assert rows[0].labels == ODD and rows[1].labels == PLAIN
    assert rows[0].ts.astimezone(UTC) == datetime.fromtimestamp(1_790_000_000, tz=UTC)
    with engine.connect() as conn:
        series = {r.series_key[0]: r for r in conn.execute(sa.select(anomaly_series))}
    assert (
        series["b"].instance == "web-1:9100"
        and series["a"].instance is None
        and series["a"].labels == ODD
    )


def test_a_redelivered_message_overwrites_its_rows_instead_of_failing(engine):
    store = AnomalyScoreStore(engine)
    store.record(columns([0.1, 0.2, 0.3, 0.4]), [SeriesRef("a" * 40, ODD)], NOW)
    store.record(
        columns([0.1, 0.2, 0.3, 0.4, 0.9, 0.8], version="m2"), [SeriesRef("a" * 40, ODD)], NOW
    )
    rows = stored(engine)
    assert len(rows) == 6 and {r.model_version for r in rows} == {"m2"}
    assert [r.score for r in rows][-2:] == [0.9, 0.8]


def test_a_refused_copy_is_a_database_error_not_a_driver_one(pg_url):
    # A driver error left unwrapped would miss adapters.faults' mapping (a lost connection mid-COPY
    # read as permanent: a dead letter instead of a retry).
    engine = create_engine(pg_url)
    try:
        with pytest.raises(sa.exc.DBAPIError):  # too long for the column
            AnomalyScoreStore(engine).record(columns([0.1, 0.9], version="v" * 65), [], NOW)
        assert not stored(engine)
    finally:
        engine.dispose()
