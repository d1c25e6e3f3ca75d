"""Several incidents assessed in one call: one transaction, one append to the audit chain, each once."""

from __future__ import annotations

import sqlalchemy as sa
from remediation_tasks_support import NOW, open_incident

from adapters.db.schema import audit_log
from adapters.db.schema_remediation import remediation_runs, risk_assessments
from pipeline.events import assessment_requested
from services import remediation as flow


def request(incident_id: int) -> tuple[int, str, str]:
    return incident_id, assessment_requested(incident_id, "t", NOW).id, "t" * 32


def rows(rt, table) -> int:  # type: ignore[no-untyped-def]
    with rt.runs._engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def assessed_rows(rt) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    with rt.runs._engine.connect() as conn:
        return [tuple(row) for row in conn.execute(
            sa.select(audit_log.c.incident_id, audit_log.c.kind).where(audit_log.c.kind == "risk.assessed")
            .order_by(audit_log.c.seq))]


def test_each_incident_is_assessed_as_alone_and_stored_once(make_runtime) -> None:
    rt = make_runtime()
    incidents = [open_incident(rt, name) for name in ("DiskFull", "InstanceDown")]
    started = flow.assess_incidents(rt, [request(i) for i in incidents], now=NOW)
    # What each would get alone (test_remediation_flow_*: DiskFull needs a person, InstanceDown runs).
    assert [s.state for s in started] == ["awaiting_approval", "running"]
    assert assessed_rows(rt) == [(i, "risk.assessed") for i in incidents]
    assert rows(rt, remediation_runs) == 2
    # ... and a single assessment of the first, delivered late, is the same event: nothing new.
    late = flow.assess_incident(rt, incident_id=incidents[0], event_id=request(incidents[0])[1], trace_id="t",
                                now=NOW)
    assert (late.run_id, late.state) == (started[0].run_id, started[0].state)

    # A redelivery, and an incident named twice, store nothing more and return the same runs.
    again = flow.assess_incidents(rt, [request(i) for i in (*incidents, incidents[0])], now=NOW)
    assert [(s.run_id, s.state) for s in again] == [(s.run_id, s.state) for s in (*started, started[0])]
    assert rows(rt, risk_assessments) == 2 and rows(rt, remediation_runs) == 2


def test_an_incident_no_longer_open_is_skipped_and_the_others_are_stored(make_runtime) -> None:
    rt = make_runtime()
    incident_id = open_incident(rt, "DiskFull")
    assert [s.state for s in flow.assess_incidents(rt, [request(incident_id)], now=NOW)] == ["awaiting_approval"]
    with rt.runs._engine.begin() as conn:
        conn.execute(sa.text("UPDATE incidents SET status = 'resolved' WHERE id = :i"), {"i": incident_id})
    second = open_incident(rt, "InstanceDown")
    mixed = flow.assess_incidents(rt, [request(second), request(incident_id)], now=NOW)
    assert [s.state for s in mixed] == ["running", "not_open"]
    assert rows(rt, risk_assessments) == 2
