"""Appending to the hash-chained audit log inside the caller's transaction."""

from __future__ import annotations

from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from adapters.db.bulk import insert_rows
from adapters.db.schema import audit_head, audit_log
from pipeline.audit import GENESIS_HASH, AuditRecord, ChainedRow, VerifyReport, chain, verify


def append(conn: Connection, records: Sequence[AuditRecord]) -> list[ChainedRow]:
    """Chain records after the head and insert them; the head row lock serialises writers.

    Call it last in a transaction, so the lock is held only for the inserts and the commit.
    """
    if not records:
        return []
    head = conn.execute(
        sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
    ).one()
    rows = chain(records, head.seq, head.hash)
    insert_rows(conn, audit_log, [_row_values(row, record) for row, record in zip(rows, records)])
    conn.info.setdefault(_PENDING_KINDS, []).extend(records)
    conn.execute(audit_head.update().where(audit_head.c.id == 1).values(seq=rows[-1].seq, hash=rows[-1].hash))
    return rows


_PENDING_KINDS = "smartcloudops.audit_kinds"


@sa.event.listens_for(Engine, "commit")
def _count_committed_rows(conn: Connection) -> None:
    """Count audit rows once their transaction committed (rolled-back rows were never written).

    The rows are the events: the metrics about risk, steps and guards are observed here, from
    the same committed rows, so a metric never counts what the trail does not hold.
    """
    from adapters.observability import audit_metrics

    for record in conn.info.pop(_PENDING_KINDS, ()):
        audit_metrics.observe(record)


@sa.event.listens_for(Engine, "rollback")
def _forget_rolled_back_rows(conn: Connection) -> None:
    conn.info.pop(_PENDING_KINDS, None)


def verify_chain(conn: Connection, after: tuple[int, str] = (0, GENESIS_HASH)) -> VerifyReport:
    """Verify the rows after `after` up to the head, while writers keep appending."""
    head = read_head(conn)
    # The head is read first and the walk stops at it: rows committed meanwhile are not "extra" rows.
    until = head[0] if head else None
    return verify(read_chain(conn, after=after[0], until=until), head, after=after)


def read_chain(conn: Connection, batch: int = 5000, after: int = 0, until: int | None = None) -> Iterable[ChainedRow]:
    """Every audit row with `after` < seq <= `until`, in seq order, streamed in pages."""
    last = after
    while True:
        query = (sa.select(audit_log.c.seq, audit_log.c.kind, audit_log.c.incident_id, audit_log.c.body,
                           audit_log.c.prev_hash, audit_log.c.hash)
                 .where(audit_log.c.seq > last).order_by(audit_log.c.seq).limit(batch))
        if until is not None:
            query = query.where(audit_log.c.seq <= until)
        page = conn.execute(query).all()
        if not page:
            return
        for row in page:
            yield ChainedRow(row.seq, row.kind, row.incident_id, row.body, row.prev_hash, row.hash)
        last = page[-1].seq


def read_head(conn: Connection) -> tuple[int, str] | None:
    row = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)).first()
    return (row.seq, row.hash) if row else None


def _row_values(row: ChainedRow, record: AuditRecord) -> dict:
    return {"seq": row.seq, "occurred_at": record.occurred_at, "kind": row.kind,
            "incident_id": row.incident_id, "body": row.body, "prev_hash": row.prev_hash, "hash": row.hash}
