"""Shared fixtures: real servers when present (skip on a laptop, fail in CI), fresh databases."""

from __future__ import annotations

import os
import shutil
import socket
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

# No test may ask the EC2 metadata service (169.254.169.254) for credentials: only loopback is ours.
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
PG_ADMIN_URL = os.environ.get("SCO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
REPO_ROOT = Path(__file__).resolve().parent.parent


def server_missing(what: str, reason: str) -> None:
    """Skip with a reason on a laptop; fail in CI, where every server must be up."""
    message = f"{what} is not reachable ({reason}); integration and e2e tests need it on 127.0.0.1"
    if os.environ.get("CI"):
        pytest.fail(message + " and CI is set", pytrace=False)
    pytest.skip(message)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def redis_database(number: int | str) -> Iterator[str]:
    """A database number of the shared Redis, flushed before and after."""
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
def private_redis_server(directory: Path) -> Iterator[str]:
    """A redis-server of the caller's own: the shared one is flushed by suites running in parallel."""
    from tests.processes import RedisServer

    if shutil.which("redis-server") is None:
        server_missing("redis-server", "the binary is not installed")
    server = RedisServer(directory)
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@contextmanager
def fresh_pg_database(prefix: str = "sco_test") -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of the caller's own, dropped afterwards."""
    import sqlalchemy as sa

    from adapters.db.engine import create_engine
    from adapters.db.migrate import upgrade

    if not port_open("127.0.0.1", 5432):
        server_missing("PostgreSQL", "nothing listens on 127.0.0.1:5432")
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
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
def moto_server(*, reset: bool = False) -> Iterator[str]:
    """moto in server mode on a free loopback port. Its backends live in this process, so a caller
    that must not see another suite's resources asks for a reset."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the environment
        if os.environ.get("CI"):
            pytest.fail(f"moto[server] is required in CI: {exc}")
        pytest.skip(f"moto[server] is not installed: {exc}")
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    try:
        if reset:
            with urllib.request.urlopen(urllib.request.Request(f"{url}/moto-api/reset", method="POST"), timeout=10):
                pass
        yield url
    finally:
        server.stop()


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A real Redis database number of its own, flushed before and after."""
    with redis_database(os.environ.get("SCO_TEST_REDIS_DB", "11")) as url:
        yield url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database of its own, dropped afterwards."""
    with fresh_pg_database() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A migrated SQLite database in a temporary directory (the embedded default)."""
    from adapters.db.engine import create_engine
    from adapters.db.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'store.sqlite'}"
    engine = create_engine(url)
    upgrade(engine)
    engine.dispose()
    return url
