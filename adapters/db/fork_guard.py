"""No fork() while another thread of the process is inside a SQLite transaction.

Every SQLite transaction here begins IMMEDIATE, so it holds the database's write lock. A child forked
while another thread of its parent holds that lock inherits SQLite's in-process record of the lock
but not the lock itself: from then on SQLite refuses every transaction the child begins as busy, and
each one waits out the whole busy timeout (30 s) and fails with "database is locked", for the child's
whole life (SQLite: do not carry an open connection across fork()). The Celery worker parent forks
its pool children (at start, and to replace one) while its audit check, outbox sweep, stalled-run
check, outcome sweep and forecaster run on threads, each in its own transaction; a child forked
inside one of them could not write at all.

So a fork waits until no other thread has a transaction open, and no transaction begins while a
fork is under way. `GuardedConnection` is the DB-API connection that tells the guard when its
transaction begins and when SQLite says it has ended (commit, rollback, close).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time

import structlog

log = structlog.get_logger("db")

# Longer than a transaction whose BEGIN waited out the busy timeout: a fork waits for it, then goes on
# (and says so) rather than never forking.
FORK_WAIT_S = 60.0


class ForkGuard:
    """Counts the open SQLite transactions of each thread; a fork waits for the other threads' to end."""

    def __init__(self, wait_s: float = FORK_WAIT_S) -> None:
        self._wait_s = wait_s
        self._reset({})

    def _reset(self, open_by_thread: dict[int, int]) -> None:
        self._changed = threading.Condition(threading.Lock())
        self._open = open_by_thread  # thread ident -> transactions it has open
        self._forks = 0  # forks under way (between their before and after hooks)

    def enter(self) -> int:
        """A transaction is about to begin on this thread (waits while a fork is under way); its owner."""
        me = threading.get_ident()
        with self._changed:
            # A thread with a transaction open already is one the fork waits for: it must not wait in turn.
            while self._forks and not self._open.get(me):
                self._changed.wait()
            self._open[me] = self._open.get(me, 0) + 1
        return me

    def leave(self, owner: int) -> None:
        """The transaction `owner` began has ended."""
        with self._changed:
            left = self._open.get(owner, 0) - 1
            if left > 0:
                self._open[owner] = left
            else:
                self._open.pop(owner, None)
            self._changed.notify_all()

    def before_fork(self) -> None:
        me = threading.get_ident()
        deadline = time.monotonic() + self._wait_s
        with self._changed:
            self._forks += 1
            while (others := sum(n for owner, n in self._open.items() if owner != me)) > 0:
                left = deadline - time.monotonic()
                if left <= 0:
                    log.error("db.fork_inside_transaction", open_transactions=others, waited_s=self._wait_s)
                    break
                self._changed.wait(left)
            if self._open.get(me):
                # This thread forks inside its own transaction: waiting would never end.
                log.error("db.fork_inside_own_transaction", open_transactions=self._open[me])

    def after_fork_in_parent(self) -> None:
        with self._changed:
            self._forks -= 1
            self._changed.notify_all()

    def after_fork_in_child(self) -> None:
        # Only the forking thread lives on in the child; the lock of the condition is new, as the
        # parent's may have been held by a thread that does not exist here.
        me = threading.get_ident()
        self._reset({me: self._open[me]} if self._open.get(me) else {})


GUARD = ForkGuard()
_installed = False
_install_lock = threading.Lock()


def install() -> None:
    """Make this process's forks wait for its SQLite transactions (once per process)."""
    global _installed
    with _install_lock:
        if _installed:
            return
        os.register_at_fork(before=GUARD.before_fork, after_in_parent=GUARD.after_fork_in_parent,
                            after_in_child=GUARD.after_fork_in_child)
        _installed = True


class GuardedConnection(sqlite3.Connection):
    """A pysqlite connection whose transactions the fork guard counts, from BEGIN until SQLite says
    none is open (after a commit, a rollback, a failed BEGIN, or a close)."""

    _owner: int | None = None

    def transaction_begins(self) -> None:
        """Call before BEGIN; then `transaction_may_have_ended` if the BEGIN fails."""
        if self._owner is None:
            self._owner = GUARD.enter()

    def transaction_may_have_ended(self) -> None:
        if self._owner is None:
            return
        try:
            still_open = self.in_transaction
        except sqlite3.ProgrammingError:  # closed: nothing is open
            still_open = False
        if not still_open:
            owner, self._owner = self._owner, None
            GUARD.leave(owner)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.transaction_may_have_ended()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.transaction_may_have_ended()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.transaction_may_have_ended()

    def __del__(self) -> None:
        # A connection dropped without close (SQLite rolls it back as it frees it) leaves no count behind.
        self.transaction_may_have_ended()
