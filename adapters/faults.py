"""Mapping infrastructure exceptions onto the product's transient/permanent hierarchy."""

from __future__ import annotations

import kombu.exceptions
import redis.exceptions
import sqlalchemy.exc

from pipeline.errors import PermanentError, TransientError

TRANSIENT = (
    TransientError,
    sqlalchemy.exc.OperationalError,
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.IntegrityError,  # a concurrent writer won a race; the retry sees its row and dedupes
    sqlalchemy.exc.TimeoutError,
    # A connection cut mid-transaction (the database restarted) refuses further use until rolled
    # back; a retry takes a fresh one. Seen as a dead-lettered assessment right after an outage.
    sqlalchemy.exc.PendingRollbackError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    kombu.exceptions.OperationalError,
    ConnectionError,
    TimeoutError,
)


def is_transient(exc: BaseException) -> bool:
    """True when retrying may succeed; everything else is permanent."""
    if isinstance(exc, PermanentError):
        return False
    return isinstance(exc, TRANSIENT)
