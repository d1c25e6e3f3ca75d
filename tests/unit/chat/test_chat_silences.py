"""Silence matching (pure) and how recording a batch honours silences (SQLite store)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from adapters.db.alert_store import AlertStore
from services.chat_records import Command
from adapters.db.engine import create_engine
from adapters.db.schema import incidents
from adapters.db.schema_chat import silenced_alerts
from adapters.db.silence_store import SilenceStore
from pipeline.correlation import CorrelationPolicy
from pipeline.errors import InvalidInput
from pipeline.events import AlertBatch, AlertReceived
from pipeline.silences import Silence, silencing

T0 = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def silence(alertname="HighCPU", service="ledger", hours=2, id=1):
    return Silence(id, alertname, service, T0, T0 + timedelta(hours=hours))


class TestMatching:
    def test_a_silence_mutes_alerts_whose_labels_equal_every_field_it_names(self):
        muting = silence()

        assert muting.matches({"alertname": "HighCPU", "service": "ledger", "instance": "i-1"})
        assert not muting.matches({"alertname": "HighCPU", "service": "billing"})
        assert not muting.matches({"alertname": "HighMemory", "service": "ledger"})

    def test_a_field_left_out_matches_any_value(self):
        assert silence(alertname=None).matches({"alertname": "Anything", "service": "ledger"})
        assert silence(service=None).matches({"alertname": "HighCPU", "service": "whatever"})

    def test_a_silence_that_would_mute_everything_is_refused(self):
        with pytest.raises(InvalidInput, match="mute everything"):
            silence(alertname=None, service=None)

    def test_only_an_active_silence_mutes_and_the_latest_ending_one_is_named(self):
        short, long = silence(hours=1, id=1), silence(hours=3, id=2)
        labels = {"alertname": "HighCPU", "service": "ledger"}

        assert silencing(labels, [short, long], T0 + timedelta(minutes=30)) is long
        assert silencing(labels, [short], T0 + timedelta(hours=1)) is None  # the end is exclusive
        assert silencing(labels, [short], T0 - timedelta(seconds=1)) is None


def firing(fingerprint, alertname="HighCPU", service="ledger", status="firing", starts_at=T0):
    return AlertReceived(
        event_id=f"{fingerprint}-{status}",
        fingerprint=fingerprint,
        status=status,
        labels={"alertname": alertname, "service": service},
        annotations={},
        starts_at=starts_at,
        ends_at=None,
        generator_url="",
        group_key="g",
        receiver="r",
    )


@pytest.fixture
def engine(sqlite_url):
    built = create_engine(sqlite_url)
    yield built
    built.dispose()


def record(engine, *alerts, now):
    return AlertStore(engine, CorrelationPolicy()).record_batch(
        AlertBatch(tuple(alerts), "g", "r", 0, ""), trace_id="t", now=now
    )


def silence_ledger(engine, until):
    SilenceStore(engine).create_silence(
        Command("c1", "U1", "C1", "silence", "t", T0),
        alertname="HighCPU",
        service="ledger",
        ends_at=until,
        actor="chat:U1",
        reason="",
    )


class TestRecordingHonoursSilences:
    def test_an_alert_firing_before_the_silence_still_resolves_its_incident(self, engine):
        [incident_id] = record(
            engine, firing("fp1", starts_at=T0 - timedelta(minutes=5)), now=T0
        ).opened
        silence_ledger(engine, T0 + timedelta(hours=2))

        outcome = record(
            engine,
            firing("fp1", status="resolved", starts_at=T0 - timedelta(minutes=5)),
            now=T0 + timedelta(minutes=1),
        )

        assert outcome.resolved == (incident_id,)

    def test_a_muted_alert_stays_muted_when_it_resolves_after_the_silence_ended(self, engine):
        silence_ledger(engine, T0 + timedelta(minutes=30))
        assert record(engine, firing("fp2"), now=T0 + timedelta(minutes=1)).opened == ()

        outcome = record(engine, firing("fp2", status="resolved"), now=T0 + timedelta(hours=1))

        assert outcome.opened == () and outcome.recorded == 0
        with engine.connect() as conn:
            assert conn.execute(sa.select(silenced_alerts.c.status)).scalars().all() == ["resolved"]
            assert conn.execute(sa.select(sa.func.count()).select_from(incidents)).scalar_one() == 0

    def test_a_redelivered_muted_alert_is_recorded_once(self, engine):
        silence_ledger(engine, T0 + timedelta(hours=2))

        record(engine, firing("fp3"), now=T0 + timedelta(minutes=1))
        record(engine, firing("fp3"), now=T0 + timedelta(minutes=2))

        with engine.connect() as conn:
            assert (
                conn.execute(sa.select(sa.func.count()).select_from(silenced_alerts)).scalar_one()
                == 1
            )

    def test_after_the_silence_ends_a_new_alert_opens_an_incident_again(self, engine):
        silence_ledger(engine, T0 + timedelta(minutes=30))

        outcome = record(
            engine,
            firing("fp4", starts_at=T0 + timedelta(minutes=31)),
            now=T0 + timedelta(minutes=31),
        )

        assert len(outcome.opened) == 1
