"""Fixtures of the real-peer tests: a group of processes per test, stopped afterwards, whose
logs are attached to the report of a failed test."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Iterator

import pytest

from peer_processes import PeerGroup, require_binary
from peer_stack import ControlledTarget

PEERS_KEY = pytest.StashKey[PeerGroup]()


@pytest.fixture(autouse=True)
def _real_peers_installed() -> None:
    """Skip (fail in CI) before starting anything when a peer's binary is missing."""
    require_binary("prometheus", "prometheus")
    require_binary("prometheus-alertmanager", "prometheus-alertmanager")
    require_binary("redis-server", "redis-server")


@pytest.fixture
def peers(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PeerGroup]:
    """The test's processes; all of them are stopped however the test ends."""
    log_dir = tmp_path / "logs"
    log_dir.mkdir()
    group = PeerGroup(log_dir)
    request.node.stash[PEERS_KEY] = group
    try:
        yield group
    finally:
        group.stop_all()


@pytest.fixture
def controlled_target() -> Iterator[ControlledTarget]:
    target = ControlledTarget()
    try:
        yield target
    finally:
        target.close()


@pytest.fixture
def webhook_token() -> str:
    return secrets.token_urlsafe(24)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> Iterator[None]:
    """On failure, show every peer's log tail under the test's report."""
    outcome = yield
    report = outcome.get_result()
    group = item.stash.get(PEERS_KEY, None)
    if report.failed and group is not None:
        for process in group.processes:
            report.sections.append(
                (f"log of {process.name} ({process.log_path})", process.log_tail())
            )
