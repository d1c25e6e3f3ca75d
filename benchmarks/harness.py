"""What the end-to-end benchmarks share: a fresh PostgreSQL database, and real processes started and stopped."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("SCO_TEST_PG_ADMIN_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def fresh_database(prefix: str = "sco_bench", *, migrate: bool = False) -> tuple[str, str]:
    """Create a database of its own (migrated when asked); return its name and URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    if migrate:
        from adapters.db.engine import create_engine
        from adapters.db.migrate import upgrade

        engine = create_engine(url)
        upgrade(engine)
        engine.dispose()
    return name, url


def drop_database(name: str) -> None:
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(args: list[str], env: dict[str, str], log: Path | None = None) -> subprocess.Popen:
    """`smartcloudops ARGS` in its own process group, its output to `log` (or nowhere)."""
    command = [sys.executable, "-m", "smartcloudops", *args]
    if log is None:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
    with log.open("w") as handle:
        return subprocess.Popen(command, env=env, cwd=ROOT, stdout=handle, stderr=subprocess.STDOUT,
                                start_new_session=True)


def stop(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, SIGKILL it if it lingers."""
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def bench_redis_url(default_db: int = 12) -> str:
    """The Redis database the benchmarks may flush: SCO_BENCH_REDIS_DB, else `default_db`."""
    return f"redis://127.0.0.1:6379/{os.environ.get('SCO_BENCH_REDIS_DB', default_db)}"


def results_dir() -> Path:
    """Where results go: .bench/ (untracked), or SCO_BENCH_RESULTS; the committed files are left alone."""
    path = Path(os.environ.get("SCO_BENCH_RESULTS", ROOT / ".bench"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def process_tree(pid: int) -> list[int]:
    """`pid` and every descendant, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo.extend(children.get(current, []))
    return tree


def pss_kb(pid: int) -> int:
    """Proportional set size of one process (shared pages divided among their sharers), in kB; 0 if gone."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of one process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def group_cpu_seconds(pgid: int) -> float:
    """CPU seconds (user + system, with reaped children's) of every process in a process group.

    A rate per CPU-second does not move when other work shares the machine, as wall-clock
    rates on a loaded box do; Linux only (/proc).
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()  # after "pid (comm) "
        if int(fields[2]) == pgid:  # pgrp
            total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / ticks
