"""The engine's pool: a connection the server closed is replaced at checkout, without a ping's round trip;
read models query in autocommit, so a read leaves no transaction open and no ROLLBACK to send."""

from __future__ import annotations

import time

import sqlalchemy as sa

from adapters.db.engine import create_engine, reading
from adapters.db.queries import IncidentQueries


def _backend_pid(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()


def test_a_pooled_connection_the_server_terminated_is_replaced_at_checkout(pg_url: str) -> None:
    engine = create_engine(pg_url, pool_size=1)
    admin = create_engine(pg_url, pool_size=1)
    try:
        old = _backend_pid(engine)  # back in the pool, idle
        with admin.connect() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"), {"pid": old}).scalar_one()
        time.sleep(0.2)  # the server's error message and EOF reach the idle socket
        # Without pool_pre_ping nor the checkout check this query fails on the dead connection.
        new = _backend_pid(engine)
        assert new != old
    finally:
        engine.dispose()
        admin.dispose()


def test_the_pool_sends_no_ping_on_checkout(pg_url: str) -> None:
    engine = create_engine(pg_url, pool_size=1)
    try:
        assert engine.pool._pre_ping is False
    finally:
        engine.dispose()


def test_a_read_model_leaves_no_transaction_behind(pg_url: str) -> None:
    """Autocommit: the read ran outside a transaction, so the connection is idle, not idle in transaction."""
    engine = create_engine(pg_url, pool_size=1)
    try:
        assert IncidentQueries(engine).list(limit=5) == {"items": [], "next": None}
        with reading(engine).connect() as conn:
            conn.execute(sa.text("SELECT 1"))
            status = conn.connection.dbapi_connection.info.transaction_status.name
        assert status == "IDLE"
        with engine.connect() as conn:  # the engine the stores write through still opens transactions
            conn.execute(sa.text("SELECT 1"))
            assert conn.connection.dbapi_connection.info.transaction_status.name == "INTRANS"
    finally:
        engine.dispose()
