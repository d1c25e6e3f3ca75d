"""Engine construction: one place that knows the dialect quirks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url


def create_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for PostgreSQL (psycopg 3) or SQLite, configured for concurrent writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    return sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True,
                            connect_args={"connect_timeout": 5}, future=True)


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def insert_ignoring_duplicates(
    conn: Connection, table: sa.Table, values: dict[str, Any], returning: sa.Column
):  # type: ignore[no-untyped-def]
    """An INSERT that does nothing on a duplicate key; RETURNING tells whether the row went in."""
    # RETURNING, because rowcount is not reliable for ON CONFLICT on every driver.
    dialect = postgresql if is_postgres(conn.engine) else sqlite
    return dialect.insert(table).values(**values).on_conflict_do_nothing().returning(returning)


def _sqlite_engine(url: str, database: str | None) -> Engine:
    if database and database != ":memory:":
        Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, future=True)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see the "begin" hook).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection):  # type: ignore[no-untyped-def]
        # Take the write lock at the start, so correlation reads and writes as one serial step.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
