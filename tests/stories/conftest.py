"""Stories run real processes (`smartcloudops up`) on a private Redis, a fresh PostgreSQL database and moto."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import server_missing
from tests.integration.chat.chat_harness import ResponseSink
from tests.processes import RedisServer

# The remediation harness builds the emulated estate and its operator files; reuse it.
sys.path.insert(0, str(Path(__file__).parents[1] / "integration" / "remediation"))


@pytest.fixture
def private_redis(tmp_path) -> Iterator[str]:
    """A redis-server of the story's own: the shared one is flushed by suites running in parallel."""
    if shutil.which("redis-server") is None:
        server_missing("redis-server", "the binary is not installed")
    server = RedisServer(tmp_path)
    server.start()
    yield server.url
    server.stop()


@pytest.fixture
def moto_url() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            pytest.fail(f"moto[server] is required in CI: {exc}")
        pytest.skip(f"moto[server] is not installed: {exc}")
    from tests.conftest import free_port

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    # moto's backends live in this process: another suite's estate must not leak into the story.
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10):
        pass
    yield url
    server.stop()


@pytest.fixture
def sink() -> Iterator[ResponseSink]:
    server = ResponseSink()
    yield server
    server.close()


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory) -> Iterator[str]:
    """One private redis-server for the stories of a module that share one stack."""
    if shutil.which("redis-server") is None:
        server_missing("redis-server", "the binary is not installed")
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server.url
    server.stop()


@pytest.fixture(scope="module")
def module_pg() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database shared by a module's stories, dropped afterwards."""
    import uuid

    import sqlalchemy as sa

    from adapters.db.engine import create_engine
    from adapters.db.migrate import upgrade
    from tests.conftest import PG_ADMIN_URL, port_open

    if not port_open("127.0.0.1", 5432):
        server_missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    name = f"sco_story_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def module_moto() -> Iterator[str]:
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            pytest.fail(f"moto[server] is required in CI: {exc}")
        pytest.skip(f"moto[server] is not installed: {exc}")
    import urllib.request

    from tests.conftest import free_port

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10):
        pass
    yield url
    server.stop()

