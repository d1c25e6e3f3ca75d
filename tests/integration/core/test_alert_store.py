"""The store records correlation's decisions with their audit rows, atomically, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from adapters.db import audit_writer
from adapters.db.alert_store import AlertStore
from adapters.db.engine import create_engine
from adapters.db.queries import IncidentQueries
from adapters.db.schema import alerts, audit_log, incidents
from pipeline.audit import AuditRecord, verify
from pipeline.correlation import CorrelationPolicy
from tests.factories import T0, batch, make_alert, resolved

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)
POLICY = CorrelationPolicy(window=timedelta(minutes=15))


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request):
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


@pytest.fixture
def engine(store_url):
    engine = create_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def store(engine):
    return AlertStore(engine, POLICY)


def count(engine, table):
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def chain_report(engine):
    with engine.connect() as conn:
        return verify(audit_writer.read_chain(conn), audit_writer.read_head(conn))


def test_firing_alert_is_recorded_with_incident_and_audit_rows(engine, store):
    outcome = store.record_batch(batch(make_alert()), trace_id="trace-1", now=NOW)
    assert outcome.recorded == 1 and len(outcome.opened) == 1 and outcome.audit_rows == 2
    incident = IncidentQueries(engine).get(outcome.opened[0])
    assert incident["status"] == "open" and incident["firing"] == 1 and incident["alert_count"] == 1
    assert [row["kind"] for row in incident["timeline"]] == ["incident.opened", "alert.firing"]
    assert all(row["trace_id"] == "trace-1" for row in incident["timeline"])
    assert chain_report(engine).ok


def test_redelivered_batch_changes_nothing(engine, store):
    alert_batch = batch(make_alert(instance="i-0000000000000001"), make_alert(instance="i-0000000000000002"))
    store.record_batch(alert_batch, trace_id="t", now=NOW)
    before = (count(engine, alerts), count(engine, incidents), count(engine, audit_log))
    outcome = store.record_batch(alert_batch, trace_id="t2", now=NOW)
    assert outcome.duplicates == 2 and outcome.recorded == 0 and outcome.audit_rows == 0
    assert (count(engine, alerts), count(engine, incidents), count(engine, audit_log)) == before


def test_firing_then_resolved_closes_the_incident(engine, store):
    a, b = make_alert(instance="i-0000000000000001"), make_alert(instance="i-0000000000000002")
    opened = store.record_batch(batch(a, b), trace_id="t", now=NOW).opened[0]
    assert store.record_batch(batch(resolved(a), b), trace_id="t", now=NOW).resolved == ()
    assert IncidentQueries(engine).get(opened)["status"] == "open"
    outcome = store.record_batch(batch(resolved(a), resolved(b)), trace_id="t", now=NOW)
    assert outcome.resolved == (opened,) and outcome.duplicates == 1
    incident = IncidentQueries(engine).get(opened)
    assert incident["status"] == "resolved" and incident["firing"] == 0
    assert {a["status"] for a in incident["alerts"]} == {"resolved"}
    assert incident["timeline"][-1]["kind"] == "incident.resolved"
    assert chain_report(engine).ok


def test_grouping_across_services_and_listing(engine, store):
    store.record_batch(batch(make_alert(service="billing"), make_alert(service="ledger")), trace_id="t", now=NOW)
    store.record_batch(batch(make_alert(service="billing", instance="i-0000000000000009",
                                        starts_at=T0 + timedelta(minutes=2))), trace_id="t", now=NOW)
    queries = IncidentQueries(engine)
    page = queries.list(status="open")
    assert sorted((i["service"], i["alert_count"]) for i in page["items"]) == [("billing", 2), ("ledger", 1)]
    assert [i["service"] for i in queries.list(service="ledger")["items"]] == ["ledger"]
    first = queries.list(limit=1)
    assert len(first["items"]) == 1 and first["next"] is not None
    assert len(queries.list(limit=1, before=first["next"])["items"]) == 1


def test_truncated_alerts_are_recorded_on_the_incident(engine, store):
    opened = store.record_batch(batch(make_alert(), truncated=12), trace_id="t", now=NOW).opened[0]
    incident = IncidentQueries(engine).get(opened)
    assert incident["truncated_alerts"] == 12
    assert "incident.alerts_truncated" in [row["kind"] for row in incident["timeline"]]


def test_concurrent_batches_of_one_key_make_one_incident_and_a_valid_chain(engine, store):
    batches = [batch(make_alert(instance=f"i-{n:017x}", starts_at=T0 + timedelta(seconds=n))) for n in range(24)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        outcomes = list(pool.map(lambda b: _record_with_retry(store, b), batches))
    assert sum(o.recorded for o in outcomes) == 24
    assert count(engine, incidents) == 1 and count(engine, alerts) == 24
    report = chain_report(engine)
    assert report.ok and report.checked == 25  # one incident.opened + 24 alert.firing


def _record_with_retry(store, alert_batch, attempts=5):
    for attempt in range(attempts):
        try:
            return store.record_batch(alert_batch, trace_id="t", now=NOW)
        except sa.exc.OperationalError:
            if attempt == attempts - 1:
                raise


@pytest.mark.parametrize("statement", ["UPDATE audit_log SET kind = 'x' WHERE seq = 1",
                                       "DELETE FROM audit_log WHERE seq = 1"])
def test_audit_log_refuses_update_and_delete(engine, store, statement):
    store.record_batch(batch(make_alert()), trace_id="t", now=NOW)
    with pytest.raises(sa.exc.DatabaseError, match="append-only"):
        with engine.begin() as conn:
            conn.execute(sa.text(statement))
    assert chain_report(engine).ok


def _four_alerts(store):
    store.record_batch(batch(*(make_alert(instance=f"i-000000000000000{n}") for n in range(1, 5))),
                       trace_id="t", now=NOW)


@pytest.mark.parametrize(("tamper", "bad_seq"), [
    ("UPDATE audit_log SET body = replace(body, 'billing', 'ledger') WHERE seq = 2", 2),
    ("DELETE FROM audit_log WHERE seq = 3", 4),
    ("UPDATE audit_log SET seq = seq + 100 WHERE seq = 2", 3),
    ("DELETE FROM audit_log WHERE seq = 5", 5),
])
def test_audit_verify_names_the_first_tampered_row(engine, store, store_url, tamper, bad_seq, monkeypatch,
                                                    capsys, tmp_path):
    from smartcloudops.cli import main

    _four_alerts(store)
    monkeypatch.setenv("SCO_DATABASE_URL", store_url)
    monkeypatch.setenv("SCO_DATA_DIR", str(tmp_path))
    assert main(["audit", "verify"]) == 0 and "5 rows verified" in capsys.readouterr().out
    _as_attacker(engine, tamper)
    assert main(["audit", "verify"]) == 1
    assert f"seq={bad_seq}" in capsys.readouterr().out


def test_audit_verify_command_exits_non_zero_on_tampering(engine, store, store_url, tmp_path):
    _four_alerts(store)
    _as_attacker(engine, "UPDATE audit_log SET body = replace(body, 'HighCPU', 'LowCPU') WHERE seq = 3")
    env = {"SCO_DATABASE_URL": store_url, "SCO_DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    broken = subprocess.run([sys.executable, "-m", "smartcloudops", "audit", "verify", "--json"], env=env,
                            capture_output=True, text=True, timeout=120)
    assert broken.returncode == 1
    assert '"first_bad_seq": 3' in broken.stdout


def _as_attacker(engine, statement):
    """Tamper the way a superuser could: with the append-only triggers out of the way."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
            conn.execute(sa.text(statement))
        else:
            conn.execute(sa.text("DROP TRIGGER audit_log_no_update"))
            conn.execute(sa.text("DROP TRIGGER audit_log_no_delete"))
            conn.execute(sa.text(statement))


def test_chain_monitor_verifies_incrementally_and_notices_tampering(engine, store):
    from adapters.db.audit_monitor import AuditChainMonitor
    from adapters.observability import metrics

    monitor = AuditChainMonitor(engine, interval_s=60, full_every=2)
    _four_alerts(store)
    assert monitor.run_once().checked == 5  # first run: the whole chain
    store.record_batch(batch(make_alert(service="ledger")), trace_id="t", now=NOW)
    assert monitor.run_once().checked == 2  # then only what was appended
    assert metrics.audit_chain.ok is True
    _as_attacker(engine, "UPDATE audit_log SET body = replace(body, 'billing', 'ledger') WHERE seq = 2")
    report = monitor.run_once()  # third run is a full one again
    assert not report.ok and report.first_bad_seq == 2
    assert metrics.audit_chain.ok is False


def test_audit_rows_are_counted_once_committed(engine, store):
    from adapters.observability import metrics

    counter = metrics.audit_rows.labels("alert.firing")
    before = counter._value.get()
    store.record_batch(batch(make_alert(instance="i-0000000000000001"), make_alert(instance="i-0000000000000002")),
                       trace_id="t", now=NOW)
    assert counter._value.get() == before + 2
    with pytest.raises(RuntimeError), engine.begin() as conn:
        audit_writer.append(conn, [AuditRecord("alert.firing", NOW, "test")])
        raise RuntimeError("the transaction rolls back")
    assert counter._value.get() == before + 2


def test_many_batches_in_one_transaction_store_what_one_transaction_each_would(engine, store):
    """record_batches: incidents, counters and audit rows as if the batches were committed one by one."""
    a, b = make_alert(instance="i-000000000001"), make_alert(instance="i-000000000002")
    other = make_alert(service="ledger")
    outcome = store.record_batches([(batch(a), "trace-a"), (batch(b, a), "trace-b"), (batch(other), "trace-c")],
                                   now=NOW)
    assert (outcome.recorded, outcome.duplicates, len(outcome.opened)) == (3, 1, 2)
    assert count(engine, alerts) == 3 and count(engine, incidents) == 2
    with engine.connect() as conn:
        rows = conn.execute(sa.select(audit_log.c.kind, audit_log.c.body).order_by(audit_log.c.seq)).all()
        firing_counts = dict(conn.execute(sa.select(incidents.c.correlation_key, incidents.c.firing_count)).all())
    assert [r.kind for r in rows] == ["incident.opened", "alert.firing", "alert.firing", "incident.opened",
                                      "alert.firing"]
    assert [json.loads(r.body)["trace_id"] for r in rows] == ["trace-a", "trace-a", "trace-b", "trace-c", "trace-c"]
    assert sorted(firing_counts.values()) == [1, 2]
    assert chain_report(engine).ok


def test_many_batches_redelivered_together_change_nothing(engine, store):
    batches = [(batch(make_alert(service=f"svc{n}")), f"t{n}") for n in range(5)]
    store.record_batches(batches, now=NOW)
    audit_rows = count(engine, audit_log)
    again = store.record_batches(batches, now=NOW + timedelta(minutes=1))
    assert (again.recorded, again.duplicates, again.opened) == (0, 5, ())
    assert count(engine, audit_log) == audit_rows and count(engine, incidents) == 5
