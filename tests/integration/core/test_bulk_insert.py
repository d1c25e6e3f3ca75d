"""adapters.db.bulk: COPY on PostgreSQL writes what an INSERT writes, and fails as an INSERT fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from adapters.db.bulk import COPY_FROM_ROWS, insert_rows
from adapters.faults import is_transient

pytestmark = pytest.mark.integration

metadata = sa.MetaData()
rows_table = sa.Table(
    "bulk_probe", metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("name", sa.String(8), nullable=False, unique=True),
    sa.Column("labels", sa.JSON().with_variant(sa.dialects.postgresql.JSONB(), "postgresql"), nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("note", sa.String(16)),
)


@pytest.fixture
def engine(pg_url):  # type: ignore[no-untyped-def]
    engine = sa.create_engine(pg_url)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    yield engine
    metadata.drop_all(engine)
    engine.dispose()


def _rows(n: int, prefix: str = "r") -> list[dict]:
    at = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    return [{"name": f"{prefix}{i}", "labels": {"service": "checkout", "odd": "tab\there \\ \"q\" \n é",
                                                 "nested": {"values": [1, 2.5, 1e-300, True, None, "☃"]}},
             "body": '{"k": "line\\nbreak"}\t\\', "at": at, "note": None if i % 2 else "x"} for i in range(n)]


@pytest.mark.parametrize("n", [3, COPY_FROM_ROWS + 5])
def test_rows_read_back_as_written(engine, n):  # type: ignore[no-untyped-def]
    written = _rows(n)
    with engine.begin() as conn:
        insert_rows(conn, rows_table, written)
    with engine.connect() as conn:
        read = conn.execute(sa.select(rows_table).order_by(rows_table.c.id)).mappings().all()
    assert [{k: r[k] for k in written[0]} for r in read] == written
    assert [r["id"] for r in read] == sorted(r["id"] for r in read)


def test_a_duplicate_fails_as_a_transient_integrity_error_and_writes_nothing(engine):  # type: ignore[no-untyped-def]
    rows = _rows(COPY_FROM_ROWS + 1)
    rows[-1]["name"] = rows[0]["name"]
    with pytest.raises(sa.exc.IntegrityError) as raised:
        with engine.begin() as conn:
            insert_rows(conn, rows_table, rows)
    assert is_transient(raised.value)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(rows_table)).scalar() == 0


def test_a_value_too_long_is_a_database_error_not_a_driver_one(engine):  # type: ignore[no-untyped-def]
    rows = _rows(COPY_FROM_ROWS + 1)
    rows[3]["name"] = "much-too-long-name"
    with pytest.raises(sa.exc.DBAPIError):
        with engine.begin() as conn:
            insert_rows(conn, rows_table, rows)
