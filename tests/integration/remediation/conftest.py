"""Fixtures of the remediation integration tests: moto server, Redis, PostgreSQL and a real worker.

Starting a worker costs seconds, so one stack serves a whole test module; tests then act on
targets of their own (and the breaker test on an action type of its own) so they cannot meet.
"""

from __future__ import annotations

import os
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from remediation_stack import Stack, build_estate, in_process_api, stack_env

from adapters.db.engine import create_engine
from tests.conftest import fresh_pg_database, moto_server, private_redis_server, redis_database
from tests.processes import Pipeline


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with moto_server() as url:
        yield url


@contextmanager
def running_stack(
    moto: str,
    workdir: Path,
    *,
    mode: str,
    redis_db: int | None = None,
    extra_env: dict[str, str] | None = None,
) -> Iterator[Stack]:
    """A fresh database, Redis (a server of its own unless a database number is given) and
    emulated estate, and a worker on them."""
    request = urllib.request.Request(f"{moto}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    redis = (
        private_redis_server(workdir) if redis_db is None else redis_database(redis_db)
    )
    with fresh_pg_database("sco_rem") as pg_url, redis as redis_url:
        estate = build_estate(moto, workdir)
        env = {
            **stack_env(
                pg_url=pg_url, redis_url=redis_url, moto_url=moto, estate=estate, mode=mode
            ),
            **(extra_env or {}),
        }
        pipeline = Pipeline(env=env, workdir=workdir)
        engine = create_engine(pg_url)
        api, publisher = in_process_api(pipeline.env, engine, workdir)
        try:
            worker = pipeline.start_worker(
                "--queues", "events,risk,remediation", "--concurrency", "2"
            )
            yield Stack(pipeline, engine, api, estate, worker, publisher)
        finally:
            pipeline.stop_all()
            api.close()
            engine.dispose()


@pytest.fixture(scope="module")
def execute_stack(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack acting for real (on moto) for a whole module."""
    with running_stack(
        moto_url, tmp_path_factory.mktemp("execute"), mode="execute"
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def dry_run_stack(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack in the default mode, dry run, for a whole module."""
    with running_stack(
        moto_url, tmp_path_factory.mktemp("dry"), mode="dry_run"
    ) as stack:
        yield stack


@pytest.fixture
def start_stack(moto_url: str, tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """A stack of the test's own (it may kill its worker)."""
    with_stack: list = []

    def start(mode: str = "execute", **extra_env: str) -> Stack:
        # Redis is shared between runs: the database the caller reserved for tests, if any.
        redis_db = int(os.environ.get("SCO_TEST_REDIS_DB", "14"))
        manager = running_stack(moto_url, tmp_path, mode=mode, redis_db=redis_db, extra_env=extra_env)
        with_stack.append(manager)
        return manager.__enter__()

    yield start
    for manager in reversed(with_stack):
        manager.__exit__(None, None, None)
