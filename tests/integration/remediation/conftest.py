"""Fixtures of the remediation integration tests: moto server, Redis, PostgreSQL and a real worker.

Starting a worker costs seconds, so one stack serves a whole test module; tests then act on
targets of their own (and the breaker test on an action type of its own) so they cannot meet.
"""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa
from remediation_stack import Stack, build_estate, in_process_api, stack_env

from adapters.db.engine import create_engine
from adapters.db.migrate import upgrade
from tests.conftest import (
    PG_ADMIN_URL,
    REDIS_HOST,
    REDIS_PORT,
    free_port,
    port_open,
    server_missing,
)
from tests.processes import Pipeline


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            pytest.fail(f"moto[server] is required in CI: {exc}")
        pytest.skip(f"moto[server] is not installed: {exc}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@contextmanager
def _database() -> Iterator[str]:
    if not port_open("127.0.0.1", 5432):
        server_missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    name = f"sco_rem_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def _redis_db(number: int) -> Iterator[str]:
    import redis

    if not port_open(REDIS_HOST, REDIS_PORT):
        server_missing("Redis", f"nothing listens on {REDIS_HOST}:{REDIS_PORT}")
    url = f"redis://{REDIS_HOST}:{REDIS_PORT}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()


@contextmanager
def running_stack(
    moto: str, workdir: Path, *, mode: str, redis_db: int, extra_env: dict[str, str] | None = None
) -> Iterator[Stack]:
    """A fresh database, Redis database and emulated estate, and a worker on them."""
    request = urllib.request.Request(f"{moto}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as answer:
        assert answer.status == 200
    with _database() as pg_url, _redis_db(redis_db) as redis_url:
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
        moto_url, tmp_path_factory.mktemp("execute"), mode="execute", redis_db=12
    ) as stack:
        yield stack


@pytest.fixture(scope="module")
def dry_run_stack(moto_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """One stack in the default mode, dry run, for a whole module."""
    with running_stack(
        moto_url, tmp_path_factory.mktemp("dry"), mode="dry_run", redis_db=13
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
