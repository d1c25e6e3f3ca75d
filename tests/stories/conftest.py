"""Stories run real processes (`smartcloudops up`) on a private Redis, a fresh PostgreSQL database and moto."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import fresh_pg_database, moto_server, private_redis_server
from tests.integration.chat.chat_harness import ResponseSink

# The remediation harness builds the emulated estate and its operator files; reuse it.
sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "remediation"))


@pytest.fixture
def private_redis(tmp_path) -> Iterator[str]:
    """A redis-server of the story's own: the shared one is flushed by suites running in parallel."""
    with private_redis_server(tmp_path) as url:
        yield url


@pytest.fixture
def moto_url() -> Iterator[str]:
    """moto reset, so another suite's estate does not leak into the story."""
    with moto_server(reset=True) as url:
        yield url


@pytest.fixture
def sink() -> Iterator[ResponseSink]:
    server = ResponseSink()
    yield server
    server.close()


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory) -> Iterator[str]:
    """One private redis-server for the stories of a module that share one stack."""
    with private_redis_server(tmp_path_factory.mktemp("redis")) as url:
        yield url


@pytest.fixture(scope="module")
def module_pg() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database shared by a module's stories, dropped afterwards."""
    with fresh_pg_database("sco_story") as url:
        yield url


@pytest.fixture(scope="module")
def module_moto() -> Iterator[str]:
    with moto_server(reset=True) as url:
        yield url
