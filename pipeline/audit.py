"""The hash chain of the audit trail.

Each row holds the canonical JSON of its content (`body`) and
`hash = sha256(prev_hash + "\\n" + body)`, where `prev_hash` is the previous row's hash
(64 zeros for the first). Changing, removing or reordering any row breaks the chain at
that row; removing rows at the end is caught by comparing with the recorded chain head.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterable, Mapping

GENESIS_HASH = "0" * 64


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened, to what, by whom: the content of one audit row before chaining."""

    kind: str
    occurred_at: datetime
    actor: str
    incident_id: int | None = None
    event_id: str | None = None
    trace_id: str | None = None
    data: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ChainedRow:
    """An audit row as stored: position, content and chain hashes."""

    seq: int
    kind: str
    incident_id: int | None
    body: str
    prev_hash: str
    hash: str


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """Outcome of walking the chain."""

    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""
    last_hash: str = GENESIS_HASH  # hash of the last row verified (to continue from)


def canonical_body(record: AuditRecord, seq: int) -> str:
    """Canonical JSON of a record at a chain position (sorted keys, no spaces, UTF-8)."""
    content = {
        "seq": seq,
        "kind": record.kind,
        "occurred_at": record.occurred_at.isoformat(),
        "actor": record.actor,
        "incident_id": record.incident_id,
        "event_id": record.event_id,
        "trace_id": record.trace_id,
        "data": record.data or {},
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def link_hash(prev_hash: str, body: str) -> str:
    """The hash of a row given its predecessor's hash and its own body."""
    return hashlib.sha256(f"{prev_hash}\n{body}".encode()).hexdigest()


def chain(records: Iterable[AuditRecord], head_seq: int, head_hash: str) -> list[ChainedRow]:
    """Chain new records after the current head."""
    rows = []
    for offset, record in enumerate(records, start=1):
        seq = head_seq + offset
        body = canonical_body(record, seq)
        digest = link_hash(head_hash, body)
        rows.append(ChainedRow(seq, record.kind, record.incident_id, body, head_hash, digest))
        head_hash = digest
    return rows


def verify(rows: Iterable[ChainedRow], head: tuple[int, str] | None,
           after: tuple[int, str] = (0, GENESIS_HASH)) -> VerifyReport:
    """Walk rows in seq order; name the first row that is changed, missing or out of place.

    `after` is a (seq, hash) already verified: the walk then checks only the rows after it.
    """
    expected_prev, expected_seq, checked = after[1], after[0] + 1, 0
    for row in rows:
        problem = _row_problem(row, expected_seq, expected_prev)
        if problem:
            return VerifyReport(False, checked, row.seq, problem)
        expected_prev, expected_seq, checked = row.hash, row.seq + 1, checked + 1
    if head is not None and head != (expected_seq - 1, expected_prev):
        return VerifyReport(False, checked, expected_seq,
                            f"chain ends at seq {expected_seq - 1} but the head records seq {head[0]}: "
                            "rows at the end were removed or the head was altered")
    return VerifyReport(True, checked, last_hash=expected_prev)


def _row_problem(row: ChainedRow, expected_seq: int, expected_prev: str) -> str:
    if row.seq != expected_seq:
        return f"expected seq {expected_seq}, found {row.seq}: rows were removed or reordered"
    if row.prev_hash != expected_prev:
        return "prev_hash does not match the previous row's hash: rows were removed, reordered or changed"
    if link_hash(row.prev_hash, row.body) != row.hash:
        return "hash does not match the row's content: the row was changed"
    try:
        body = json.loads(row.body)
    except json.JSONDecodeError:
        return "body is not valid JSON: the row was changed"
    if body.get("seq") != row.seq or body.get("kind") != row.kind or body.get("incident_id") != row.incident_id:
        return "indexed columns (seq, kind, incident_id) disagree with the hashed body: the row was changed"
    return ""
