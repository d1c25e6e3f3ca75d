"""One bad alert never sinks its batch: it is quarantined alone and the other alerts are stored."""

from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.schema import alerts
from pipeline.correlation import CorrelationPolicy
from pipeline.errors import InvalidInput
from pipeline.events import decode_alert_batch
from pipeline.limits import OutOfLimits
from tasks.alerts import record_isolating
from tests.factories import batch, make_alert

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
POLICY = CorrelationPolicy(window=timedelta(minutes=15))


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request):
    engine = create_engine(request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url"))
    yield engine
    engine.dispose()


def stored(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(alerts)).scalar_one()


def nine_good_and(bad):
    good = [make_alert(instance=f"i-{n:012d}", service=f"svc{n}") for n in range(9)]
    return batch(*good[:4], bad, *good[4:])


@pytest.mark.parametrize("poison", [
    {"labels": {"alertname": "High\x00CPU", "service": "billing"}},
    {"labels": {"alertname": "a" * 256, "service": "s" * 256}},
    {"labels": {"alertname": "HighCPU", "service": "bad \ud800"}},
], ids=["nul", "joined-key", "surrogate"])
def test_nine_valid_and_one_bad_alert_store_nine_and_quarantine_one(engine, poison):
    bad = dataclasses.replace(make_alert(instance="i-bad000000000"), **poison)
    quarantined: list = []
    outcome = record_isolating(AlertStore(engine, POLICY), nine_good_and(bad), trace_id="t", now=NOW,
                               quarantine=lambda item, exc: quarantined.append((item, exc)))
    assert outcome.recorded == 9 and len(outcome.opened) == 9
    assert stored(engine) == 9
    [(item, exc)] = quarantined
    assert item == bad and isinstance(exc, OutOfLimits)


def test_a_transient_fault_is_not_quarantined_but_raised_for_retry():
    class Down:
        def record_batch(self, *_, **__):
            raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))

    with pytest.raises(sa.exc.OperationalError):
        record_isolating(Down(), nine_good_and(make_alert(instance="i-x")), trace_id="t", now=NOW,
                         quarantine=lambda *_: pytest.fail("a database outage quarantined an alert"))


def test_a_store_refusal_the_limits_did_not_foresee_is_isolated_to_its_alert(engine):
    bad = make_alert(instance="i-refused00000")
    store = AlertStore(engine, POLICY)

    class Refusing:
        def record_batch(self, b, **kwargs):
            if bad in b.alerts:
                raise sa.exc.DataError("INSERT", {}, Exception("value out of range"))
            return store.record_batch(b, **kwargs)

    quarantined: list = []
    outcome = record_isolating(Refusing(), nine_good_and(bad), trace_id="t", now=NOW,
                               quarantine=lambda item, exc: quarantined.append(item))
    assert outcome.recorded == 9 and stored(engine) == 9 and quarantined == [bad]


def test_decoding_sets_aside_each_malformed_alert_and_keeps_the_rest():
    data = nine_good_and(make_alert(instance="i-placeholder")).to_data()
    data["alerts"][4] = {**data["alerts"][4], "starts_at": "0001-01-01T00:00:00+01:00"}
    data["alerts"].append("not an alert")
    data["alerts"].append({**data["alerts"][0], "labels": {"alertname": "x\x00", "service": "y"}})
    good, rejected = decode_alert_batch(data, POLICY.labels)
    assert len(good.alerts) == 9
    assert len(rejected) == 3 and all(isinstance(exc, InvalidInput) for _, exc in rejected)
