"""Engine construction: one place that knows the dialect quirks."""

from __future__ import annotations

import select
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine, make_url

from adapters.db import fork_guard


def create_engine(url: str, *, pool_size: int = 5) -> Engine:
    """An engine for PostgreSQL (psycopg 3) or SQLite, configured for concurrent writers."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, parsed.database)
    engine = sa.create_engine(url, pool_size=pool_size, max_overflow=pool_size,
                              connect_args={"connect_timeout": 5}, future=True)
    # Instead of pool_pre_ping, which costs a round trip on every checkout (a chat command checks out
    # several connections, so it was a large share of the chat worker's time).
    sa.event.listen(engine, "checkout", _refuse_closed_by_server)
    return engine


def reading(engine: Engine) -> Engine:
    """The engine a read model queries through: on PostgreSQL in autocommit, so a read is one round trip.

    A read-only connection needs no transaction: under READ COMMITTED every statement takes its own
    snapshot anyway, so leaving out BEGIN and the ROLLBACK the pool sends on return changes no result
    and saves two round trips of three. (SQLite keeps its own engine: its "begin" hook takes the lock.)
    """
    return engine.execution_options(isolation_level="AUTOCOMMIT") if is_postgres(engine) else engine


def _refuse_closed_by_server(dbapi_connection, _record, _proxy):  # type: ignore[no-untyped-def]
    """Discard a pooled connection the server has closed, found without a round trip.

    An idle connection has nothing to read. When PostgreSQL terminates a backend or shuts down it
    sends an error and closes the socket, which then reads as ready: the pool drops that connection
    and checks out (or opens) another. A query on a connection that dies later still fails as a
    disconnect, which invalidates the pool as before.
    """
    if dbapi_connection.closed or dbapi_connection.broken:
        raise sa.exc.DisconnectionError("the pooled connection is closed")
    poller = select.poll()  # not select.select: it fails on a descriptor above 1023
    poller.register(dbapi_connection.fileno(), select.POLLIN)
    if poller.poll(0):
        raise sa.exc.DisconnectionError("the server closed the pooled connection (its socket has data or EOF)")


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
    fork_guard.install()
    engine = sa.create_engine(url, future=True, connect_args={
        "timeout": 30, "check_same_thread": False, "factory": fork_guard.GuardedConnection})

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
        # Take the write lock at the start, so correlation reads and writes as one serial step; never
        # across a fork of this process (adapters/db/fork_guard.py: the child could not write again).
        dbapi_connection = connection.connection.dbapi_connection
        dbapi_connection.transaction_begins()
        try:
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        except BaseException:
            dbapi_connection.transaction_may_have_ended()
            raise

    return engine


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))
