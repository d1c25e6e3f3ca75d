"""Which infrastructure faults are retried (transient) and which are parked (permanent)."""

from __future__ import annotations

import pytest
import sqlalchemy.exc

from adapters.faults import is_transient
from pipeline.errors import InvalidInput


@pytest.mark.parametrize("exc", [
    sqlalchemy.exc.OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly")),
    # What a connection cut by a database restart raises on its next use: a retry gets a fresh one.
    sqlalchemy.exc.PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
    ConnectionRefusedError(),
])
def test_faults_of_a_database_or_broker_outage_are_retried(exc) -> None:
    assert is_transient(exc)


@pytest.mark.parametrize("exc", [InvalidInput("bad"), ValueError("bad"), sqlalchemy.exc.DataError("x", {}, Exception())])
def test_faults_of_the_message_itself_are_permanent(exc) -> None:
    assert not is_transient(exc)
