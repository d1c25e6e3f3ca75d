"""Real SmartCloudOps processes for end-to-end tests: started with their own env, logs kept, always stopped."""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import httpx

from tests.conftest import free_port


@dataclass
class Proc:
    name: str
    popen: subprocess.Popen
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-6000:] if self.log.exists() else ""

    def printed(self, text: str) -> bool:
        """Whether the whole log holds `text` (its tail may have scrolled past it: a batch's log line
        names every event id)."""
        return self.log.exists() and text in self.log.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 20.0) -> None:
        if self.popen.poll() is not None:
            return
        os.killpg(self.popen.pid, sig)
        try:
            self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.popen.pid, signal.SIGKILL)
            self.popen.wait(timeout=10)

    def kill_hard(self) -> None:
        """SIGKILL the whole process group: the worker and its pool children, no shutdown of any kind."""
        os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


@dataclass
class Pipeline:
    """A server and workers sharing one environment (broker, database, token)."""

    env: dict[str, str]
    workdir: Path
    token: str = "e2e-token-0123456789abcdef"
    procs: list[Proc] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.port = free_port()
        self.env = {**os.environ, **self.env, "SCO_HTTP_HOST": "127.0.0.1", "SCO_HTTP_PORT": str(self.port),
                    # The tests' client ingests and reads: an admin API token; the webhook token differs.
                    "SCO_API_TOKEN": self.token, "SCO_API_TOKEN_ROLE": "admin",
                    "SCO_WEBHOOK_TOKEN": f"{self.token}-webhook", "SCO_DATA_DIR": str(self.workdir), "SCO_LOG_FORMAT": "json",
                    "PYTHONUNBUFFERED": "1"}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10.0, headers={"Authorization": f"Bearer {self.token}"})

    def run(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "smartcloudops", *args], env=self.env, capture_output=True,
                              text=True, timeout=timeout)

    def start(self, name: str, *args: str, extra_env: dict[str, str] | None = None) -> Proc:
        log = self.workdir / f"{name}-{len(self.procs)}.log"
        with log.open("w") as handle:  # the child keeps its own copy of the descriptor
            popen = subprocess.Popen([sys.executable, "-m", "smartcloudops", *args],
                                     env={**self.env, **(extra_env or {})}, stdout=handle, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        proc = Proc(name, popen, log)
        self.procs.append(proc)
        return proc

    def start_server(self) -> Proc:
        proc = self.start("serve", "serve")
        wait_for(lambda: _healthy(self.base_url), 60, f"server did not come up:\n{proc.output()}")
        return proc

    def start_worker(self, *args: str, extra_env: dict[str, str] | None = None) -> Proc:
        proc = self.start("worker", "worker", *args, extra_env=extra_env)
        wait_for(lambda: proc.printed("ready") or proc.popen.poll() is not None, 60,
                 "worker did not become ready")
        assert proc.popen.poll() is None, f"worker exited:\n{proc.output()}"
        return proc

    def stop_all(self) -> None:
        for proc in reversed(self.procs):
            proc.stop()

    def logs(self) -> str:
        return "\n".join(f"----- {p.name} ({p.log.name})\n{p.output()}" for p in self.procs)


def _healthy(base_url: str) -> bool:
    try:
        return httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def wait_for(condition: Callable[[], bool], timeout: float, message: str, interval: float = 0.2) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s: {message}")


class RedisServer:
    """A throw-away redis-server on a free port that a test can stop and start (broker outages)."""

    def __init__(self, workdir: Path, *, aof: bool = False) -> None:
        self.binary = shutil.which("redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.aof = aof  # as an operator runs it: every write in the append-only file, kept across restarts
        self.popen: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        assert self.binary, "redis-server is not installed"
        persistence = ["--appendonly", "yes", "--appendfsync", "always"] if self.aof else ["--appendonly", "no"]
        self.popen = subprocess.Popen([self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                                       *persistence, "--dir", str(self.workdir)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), 20, "private redis-server did not start")

    def stop(self) -> None:
        if self.popen and self.popen.poll() is None:
            self.popen.terminate()
            self.popen.wait(timeout=10)


def _pings(client) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001
        return False


class PostgresCluster:
    """A throw-away PostgreSQL cluster (Debian's initdb and pg_ctl) on a free port, to stop and start.

    As root, the cluster runs as the `postgres` user (PostgreSQL refuses root); its directory is a
    fresh one under the system temporary directory that user may enter.
    """

    def __init__(self) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.bin = Path(found[-1]).parent if found else None
        self.port = free_port()
        self.root: Path | None = None

    @property
    def available(self) -> bool:
        return self.bin is not None and (os.geteuid() != 0 or shutil.which("runuser") is not None)

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/sco"

    def init(self) -> PostgresCluster:
        self.root = Path(tempfile.mkdtemp(prefix="sco-pg-"))
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        self.start()
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "sco")
        return self

    @property
    def data(self) -> Path:
        assert self.root is not None
        return self.root / "data"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root} -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w",
                  "-t", "60", "start")

    def stop(self) -> None:
        """Fast shutdown: every session is cut, as when the database host goes away."""
        if self.root is not None and (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "-t", "60", "stop")

    def destroy(self) -> None:
        self.stop()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *args: str) -> None:
        assert self.bin is not None
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)
        assert done.returncode == 0, f"{tool} failed: {done.stdout}\n{done.stderr}"
