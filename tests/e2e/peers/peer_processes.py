"""Real processes for end-to-end tests: started in their own session, logged, always stopped."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, TypeVar

import pytest

T = TypeVar("T")
LOG_TAIL_CHARS = 6000


def require_binary(name: str, package: str) -> str:
    """The binary's path; skip without it on a laptop, fail in CI where it must be installed."""
    path = shutil.which(name)
    if path is None:
        reason = f"{name} is not installed (Debian package {package})"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the real-peer tests", pytrace=False)
        pytest.skip(reason)
    return path


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(
    probe: Callable[[], T], *, timeout_s: float, what: str, interval_s: float = 0.25
) -> T:
    """Poll `probe` until it returns something truthy; fail naming `what` after `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = probe()
        except AssertionError:
            raise  # a probe that asserts has seen a definite failure (a peer died): stop waiting
        except Exception as exc:  # noqa: BLE001 - a peer still starting refuses connections
            last = exc
        if last and not isinstance(last, Exception):
            return last  # type: ignore[return-value]
        time.sleep(interval_s)
    raise AssertionError(
        f"timed out after {timeout_s:.0f}s waiting for {what}; last probe gave {last!r}"
    )


class PeerProcess:
    """One child process with its output in a log file, stoppable with its whole process group."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        log_path: Path,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.name, self.argv, self.log_path = name, argv, log_path
        self.env, self.cwd = env, cwd
        self._process: subprocess.Popen | None = None

    def start(self) -> PeerProcess:
        with self.log_path.open("ab") as log:
            log.write(f"$ {' '.join(self.argv)}\n".encode())
            log.flush()
            # A session of its own, so stop() reaches the children too (`up` forks a worker).
            self._process = subprocess.Popen(
                self.argv,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env,
                cwd=self.cwd,
                start_new_session=True,
            )
        return self

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM to the process group, SIGKILL after `timeout_s`."""
        if self._process is None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self._process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self._signal_group(signal.SIGKILL)
            self._process.wait(timeout=timeout_s)
        # Children outlive a parent killed first; the group id is still theirs.
        self._signal_group(signal.SIGKILL)
        self._process = None

    def _signal_group(self, signum: int) -> None:
        try:
            os.killpg(self._process.pid, signum)
        except ProcessLookupError:
            pass

    def log_tail(self) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else "(no log)"
        return text[-LOG_TAIL_CHARS:]

    def assert_running(self) -> None:
        assert self.running, f"{self.name} exited early:\n{self.log_tail()}"


class PeerGroup:
    """The processes of one test; the fixture stops them all, newest first."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.processes: list[PeerProcess] = []

    def start(
        self, name: str, argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None
    ) -> PeerProcess:
        process = PeerProcess(name, argv, self.log_dir / f"{name}.log", env=env, cwd=cwd)
        self.processes.append(process)
        return process.start()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            process.stop()
