"""The audit hash chain detects any change, removal or reordering, and names the first bad row."""

from dataclasses import replace
from datetime import datetime, timezone

from pipeline.audit import GENESIS_HASH, AuditRecord, chain, verify

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=timezone.utc)


def rows(n=5):
    records = [AuditRecord(kind="alert.firing", occurred_at=NOW, actor="alertmanager", incident_id=i,
                           event_id=f"e{i}", trace_id="t", data={"n": i}) for i in range(1, n + 1)]
    return chain(records, 0, GENESIS_HASH)


def test_intact_chain_verifies():
    chained = rows()
    report = verify(chained, (5, chained[-1].hash))
    assert report.ok and report.checked == 5 and report.first_bad_seq is None


def test_chain_continues_from_the_head():
    first = rows(2)
    more = chain([AuditRecord("incident.resolved", NOW, "w")], first[-1].seq, first[-1].hash)
    assert more[0].seq == 3 and more[0].prev_hash == first[-1].hash
    assert verify(first + more, (3, more[0].hash)).ok


def test_changed_body_is_caught_at_that_row():
    chained = rows()
    chained[2] = replace(chained[2], body=chained[2].body.replace('"n":3', '"n":4'))
    report = verify(chained, None)
    assert not report.ok and report.first_bad_seq == 3 and "changed" in report.reason


def test_changed_indexed_column_is_caught():
    chained = rows()
    chained[1] = replace(chained[1], incident_id=99)
    report = verify(chained, None)
    assert report.first_bad_seq == 2 and "indexed columns" in report.reason


def test_removed_row_is_caught_at_the_gap():
    chained = rows()
    del chained[1]
    report = verify(chained, None)
    assert report.first_bad_seq == 3 and "removed or reordered" in report.reason


def test_reordered_rows_are_caught():
    chained = rows()
    chained[1], chained[2] = chained[2], chained[1]
    assert verify(chained, None).first_bad_seq == 3


def test_rehashed_forgery_is_caught_by_the_next_row():
    chained = rows()
    forged_body = chained[1].body.replace('"n":2', '"n":7')
    from pipeline.audit import link_hash

    chained[1] = replace(chained[1], body=forged_body, hash=link_hash(chained[1].prev_hash, forged_body))
    report = verify(chained, None)
    assert report.first_bad_seq == 3 and "prev_hash" in report.reason


def test_removed_tail_is_caught_by_the_head():
    chained = rows()
    report = verify(chained[:3], (5, chained[-1].hash))
    assert not report.ok and report.first_bad_seq == 4 and "removed" in report.reason


def test_verification_can_continue_from_a_verified_row():
    chained = rows()
    first = verify(chained[:3], None)
    assert first.ok and first.last_hash == chained[2].hash
    rest = verify(chained[3:], (5, chained[-1].hash), after=(3, first.last_hash))
    assert rest.ok and rest.checked == 2
    tampered = [replace(chained[3], prev_hash="f" * 64), chained[4]]
    assert verify(tampered, None, after=(3, first.last_hash)).first_bad_seq == 4
