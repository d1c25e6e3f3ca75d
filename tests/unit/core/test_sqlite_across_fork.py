"""A process forked while another thread of its parent is inside a SQLite transaction can still write.

The Celery worker parent forks its pool children while its side jobs (audit check, outbox sweep,
stalled-run check, outcome sweep, forecaster) run in transactions on threads. A child forked inside
one of them inherited SQLite's record of the write lock without the lock: each transaction it began
waited out the 30 s busy timeout and failed with "database is locked", for the child's whole life
(seen as a console e2e run that never got its run awaiting approval). Now the fork waits for the
transaction to end (adapters/db/fork_guard.py).
"""

from __future__ import annotations

import os
import signal
import threading
import time
import warnings
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from adapters.db.engine import create_engine

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="fork() is POSIX only")

CHILD_BUSY_TIMEOUT_MS = 2000  # the child's writes fail in 2 s, not 30, when it inherited the lock's record
CHILD_ALARM_S = 20  # a child stuck for any reason dies, and the test fails, rather than hanging


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'fork.sqlite'}")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE written (who TEXT NOT NULL)"))
    yield engine
    engine.dispose()


def fork_and_wait(child: Callable[[], None]) -> tuple[int, float]:
    """Fork; the child runs `child` and exits 0 (1 if it raised); (the child's exit code, seconds fork() took)."""
    started = time.monotonic()
    with warnings.catch_warnings():  # Python 3.12 warns about fork() in a process with threads
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        code = 1
        try:
            signal.alarm(CHILD_ALARM_S)
            child()
            code = 0
        except BaseException as exc:  # noqa: BLE001 - reported through the exit code and stderr
            os.write(2, f"child failed: {exc!r}\n".encode())
        finally:
            os._exit(code)
    took = time.monotonic() - started
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), took


def write_in_child(url: str) -> Callable[[], None]:
    def write() -> None:
        child_engine = create_engine(url)

        @sa.event.listens_for(child_engine, "connect")
        def _short_busy_timeout(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            dbapi_connection.execute(f"PRAGMA busy_timeout={CHILD_BUSY_TIMEOUT_MS}")

        with child_engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO written VALUES ('child')"))

    return write


def test_a_child_forked_while_a_thread_holds_a_transaction_can_write(engine) -> None:
    inside, hold_s = threading.Event(), 0.5

    def side_job() -> None:  # as the audit check or the outbox sweep, on a thread of the worker parent
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO written VALUES ('parent thread')"))
            inside.set()
            time.sleep(hold_s)

    thread = threading.Thread(target=side_job)
    thread.start()
    assert inside.wait(5)
    code, took = fork_and_wait(write_in_child(str(engine.url)))
    thread.join(5)
    assert code == 0, "the child could not write: it was forked inside the parent thread's transaction"
    assert took >= hold_s / 2  # the fork waited for the transaction to end
    with engine.connect() as conn:
        assert sorted(conn.execute(sa.text("SELECT who FROM written")).scalars()) == ["child", "parent thread"]


def test_a_fork_with_no_transaction_open_does_not_wait(engine) -> None:
    with engine.connect() as conn:  # a pooled connection, idle: harmless to a child
        conn.execute(sa.text("SELECT count(*) FROM written")).scalar_one()
    code, took = fork_and_wait(write_in_child(str(engine.url)))
    assert code == 0
    assert took < 5


def test_a_transaction_waits_while_a_fork_is_under_way(engine) -> None:
    """Else a thread could take the write lock between the fork's wait and the fork itself."""
    from adapters.db.fork_guard import GUARD

    GUARD.before_fork()  # as os.fork() runs it
    began = threading.Event()

    def begin() -> None:
        with engine.begin() as conn:
            conn.execute(sa.text("INSERT INTO written VALUES ('after the fork')"))
        began.set()

    thread = threading.Thread(target=begin)
    try:
        thread.start()
        assert not began.wait(0.3)
    finally:
        GUARD.after_fork_in_parent()
    assert began.wait(5)
    thread.join(5)


def test_a_thread_forking_inside_its_own_transaction_is_not_stuck_waiting_for_itself(engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO written VALUES ('parent')"))
        code, took = fork_and_wait(lambda: None)
    assert code == 0
    assert took < 5
