"""Chat capacity of `smartcloudops up`, with where the CPU goes: CPU-seconds per 1,000 commands per process.

One `up` per source tree (this tree, and a baseline tree when given), in alternating rounds. Per run,
after a warm-up, a burst of commands through POST /v1/chat/command (bearer token), answered at a local
response_url sink:

- commands/s = commands / (last answer - first send); p50/p99 from send to the answer's arrival;
- CPU-seconds per 1,000 commands of the server, the chat worker, the other workers, the bench's
  client, the sink, PostgreSQL (all its processes) and Redis, from /proc (user + system);
- busy share of the machine's cores over the burst (1.0 = every core saturated).

`--paths queue,edge` (the default) runs both ways a read can be answered, on the same `up`, so the ratio is
same-run: `queue` names a response_url, so the line goes through the chat queue and a worker that posts the
answer there; `edge` waits for the answer with no response_url (`"wait": true`), so the server answers a read
itself in the response (SCO_CHAT_READS_AT_EDGE). The bench's lines are all reads (bench_up's CHAT_LINES).

Two ways to drive it: `--client threads --sink thread` is bench_up's chat_burst (sync httpx threads and a
ThreadingHTTPServer sink in the bench's own interpreter); `--client async --sink process` sends from one
asyncio loop and answers at a keep-alive sink in a process of its own, so the bench costs less.
`--conversations N` spreads the commands over N user/channel pairs (bench_up uses one).

    python -m benchmarks.bench_chat_capacity [--baseline REF|PATH] [--rounds 2] [--commands 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import redis

from benchmarks.answer_sink import ProcessSink
from benchmarks.bench_chat import AnswerSink
from benchmarks.bench_up import CHAT_LINES, TOKEN, _ready, baseline_tree, up_environment, wait_until
from benchmarks.harness import ROOT, drop_database, process_tree, pss_kb

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, float] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return comm, (int(fields[11]) + int(fields[12])) / TICKS


def _pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None and stat[0] == name:
            found.append(int(entry))
    return found


def _busy_jiffies() -> tuple[int, int]:
    cpu = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) for v in cpu]
    idle = values[3] + values[4]
    return sum(values) - idle, sum(values)


class CpuMeter:
    """CPU seconds of named groups of processes between start() and stop()."""

    def __init__(self, groups: dict[str, list[int]]) -> None:
        self.groups = groups

    def _read(self) -> dict[str, float]:
        out = {}
        for name, pids in self.groups.items():
            out[name] = sum(stat[1] for pid in pids if (stat := _stat(pid)) is not None)
        return out

    def start(self) -> None:
        self._before, self._jiffies = self._read(), _busy_jiffies()

    def stop(self) -> dict[str, Any]:
        after, (busy, total) = self._read(), _busy_jiffies()
        share = (busy - self._jiffies[0]) / max(1, total - self._jiffies[1])
        return {"cpu_s": {k: round(after[k] - self._before[k], 2) for k in after}, "busy_share": round(share, 2)}


def up_groups(up_pid: int) -> dict[str, list[int]]:
    """The server (`up` itself), the chat worker and the other workers, told apart by how `up` forks them."""
    # up forks, in order: the pipeline worker, the chat workers (SCO_CHAT_WORKERS), the metrics worker
    # (runtime.up_workers).
    children = sorted(pid for pid in process_tree(up_pid) if pid != up_pid and _ppid(pid) == up_pid)
    chat = children[1:1 + int(os.environ.get("SCO_CHAT_WORKERS", "1"))]
    chat_tree = [pid for worker in chat for pid in process_tree(worker)]
    others = [pid for pid in process_tree(up_pid) if pid != up_pid and pid not in chat_tree]
    return {"server": [up_pid], "chat_worker": chat_tree, "other_workers": others}


def thread_cpu(pid: int) -> dict[int, float]:
    """CPU seconds of each thread of `pid` (the main thread's id is the pid)."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / TICKS
    return out


def _ppid(pid: int) -> int:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return -1
    return int(raw[raw.rindex(")") + 2:].split()[1])


def command_body(index: int, conversations: int, response_url: str | None) -> dict[str, Any]:
    """A line answered at `response_url` by a worker; with None, a caller that waits for the answer in the response."""
    conversation = index % conversations
    # The bearer token's caller is the user; conversations differ by channel (a context per user and channel).
    body: dict[str, Any] = {"user": "api-token", "channel": "C0BENCH" if conversations == 1 else f"C{conversation:07d}",
                            "text": CHAT_LINES[index % len(CHAT_LINES)]}
    return body | ({"response_url": response_url} if response_url else {"wait": True})


def burst_threads(base: str, sink: Any, keys: list[str], conversations: int, concurrency: int,
                  sent: dict[str, float]) -> None:
    """bench_up's chat_burst: sync httpx clients, one a thread."""
    local = threading.local()

    def one(index: int) -> None:
        if not hasattr(local, "client"):
            local.client = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        sent[keys[index]] = time.perf_counter()
        answer = local.client.post("/v1/chat/command", json=command_body(index, conversations, sink.url(keys[index])))
        if answer.status_code != 202:
            raise SystemExit(f"/v1/chat/command answered {answer.status_code}: {answer.text}")

    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        list(pool.map(one, range(len(keys))))


def burst_async(base: str, sink: Any, keys: list[str], conversations: int, concurrency: int,
                sent: dict[str, float]) -> None:
    """The same requests from one asyncio loop over `concurrency` keep-alive connections."""

    async def run() -> None:
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30,
                                     limits=limits) as client:
            todo = iter(range(len(keys)))

            async def lane() -> None:
                for index in todo:
                    sent[keys[index]] = time.perf_counter()
                    answer = await client.post("/v1/chat/command",
                                               json=command_body(index, conversations, sink.url(keys[index])))
                    if answer.status_code != 202:
                        raise SystemExit(f"/v1/chat/command answered {answer.status_code}: {answer.text}")

            await asyncio.gather(*(lane() for _ in range(concurrency)))

    asyncio.run(run())


def burst_raw(base: str, sink: Any, keys: list[str], conversations: int, concurrency: int,
              sent: dict[str, float], answered: dict[str, float] | None = None) -> None:
    """The same requests written as HTTP/1.1 bytes on `concurrency` asyncio streams: the cheapest client.

    With `answered`, each line waits for its answer in the response (200, no response_url) and its arrival
    is recorded there.
    """
    host, port = base.removeprefix("http://").split(":")
    expected = b"HTTP/1.1 200" if answered is not None else b"HTTP/1.1 202"

    async def lane(todo: Any) -> None:
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for index in todo:
                url = sink.url(keys[index]) if answered is None else None
                body = json.dumps(command_body(index, conversations, url)).encode()
                sent[keys[index]] = time.perf_counter()
                writer.write(b"POST /v1/chat/command HTTP/1.1\r\nhost: %s\r\nauthorization: Bearer %s\r\n"
                             b"content-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
                             % (host.encode(), TOKEN.encode(), len(body), body))
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next((line.split(b":", 1)[1] for line in head.split(b"\r\n")
                                   if line.lower().startswith(b"content-length:")), b"0"))
                answer = await reader.readexactly(length)
                if answered is not None:
                    answered[keys[index]] = time.perf_counter()
                if not head.startswith(expected):
                    raise SystemExit(f"/v1/chat/command answered {head[:40]!r}: {answer[:200]!r}")
        finally:
            writer.close()

    async def run() -> None:
        todo = iter(range(len(keys)))
        await asyncio.gather(*(lane(todo) for _ in range(concurrency)))

    asyncio.run(run())


def run_one(tree: Path, label: str, path: str, args: argparse.Namespace) -> dict[str, Any]:
    database, url, work, port, env = up_environment(tree, "sco_bench_chatcap")
    redis_url = env["SCO_BROKER_URL"]
    base = f"http://127.0.0.1:{port}"
    with (work / "up.log").open("w") as log:
        up = subprocess.Popen([sys.executable, "-m", "smartcloudops", "up"], env=env, cwd=tree, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    sink = ProcessSink() if args.sink == "process" else AnswerSink()
    burst = {"threads": burst_threads, "async": burst_async, "raw": burst_raw}[args.client]
    try:
        wait_until(lambda: _ready(base, up), 180, f"{label}: up to answer /readyz (see {work / 'up.log'})")
        warm = [f"{label}-warm-{i}" for i in range(40)]
        burst_threads(base, sink, warm, args.conversations, 4, {})
        sink.wait(warm, timeout=120)
        time.sleep(2)
        groups = up_groups(up.pid)
        groups["bench_client"] = [os.getpid()]
        if isinstance(sink, ProcessSink):
            groups["sink"] = [sink.process.pid]
        pss_mb = {name: round(sum(pss_kb(pid) for pid in groups[name]) / 1024, 1)
                  for name in ("server", "chat_worker", "other_workers")}
        groups["postgres"] = _pids_named("postgres")
        groups["redis"] = _pids_named("redis-server")
        meter = CpuMeter(groups)
        keys = [f"{label}-{time.monotonic_ns()}-{i}" for i in range(args.commands)]
        sent: dict[str, float] = {}
        chat_pid = groups["chat_worker"][0]  # the first chat worker's threads
        answered: dict[str, float] | None = {} if path == "edge" else None
        threads_before = thread_cpu(chat_pid)
        meter.start()
        started = time.perf_counter()
        if args.profile:
            profiler = subprocess.Popen([str(Path(sys.executable).parent / "py-spy"), "record", "-d", str(args.profile), "-r", "200", "-f", "raw",
                                         "-o", str(ROOT / ".bench" / f"chat-{label}.txt"), "--pid", str(chat_pid),
                                         "--gil"],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        if answered is not None:
            burst_raw(base, sink, keys, args.conversations, args.concurrency, sent, answered)
        else:
            burst(base, sink, keys, args.conversations, args.concurrency, sent)
            sink.wait(keys, timeout=300)
        cpu = meter.stop()
        threads_after = thread_cpu(chat_pid)
        main_thread = threads_after.get(chat_pid, 0) - threads_before.get(chat_pid, 0)
        busiest = sorted((v - threads_before.get(t, 0) for t, v in threads_after.items() if t != chat_pid), reverse=True)
        if args.profile:
            profiler.wait()
        arrived = sink.arrived if answered is None else answered
        last = max(arrived[k] for k in keys)
        latencies = sorted((arrived[k] - sent[k]) * 1000 for k in keys)
        per_1000 = {k: round(v * 1000 / args.commands, 2) for k, v in cpu["cpu_s"].items()}
        return {"tree": label, "path": path, "commands": args.commands, "commands_per_s": round(args.commands / (last - started), 1),
                "p50_ms": round(statistics.median(latencies), 1),
                "p99_ms": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))], 1),
                "cpu_s_per_1000": per_1000, "busy_share": cpu["busy_share"], "pss_after_warm_up_mb": pss_mb,
                "chat_worker_threads_cpu_s_per_1000": {"main": round(main_thread * 1000 / args.commands, 2),
                                                       "others": [round(v * 1000 / args.commands, 2) for v in busiest[:8]]},
                "load_average": [round(x, 2) for x in os.getloadavg()]}
    finally:
        up.send_signal(signal.SIGTERM)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(up.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        up.wait()
        if isinstance(sink, ProcessSink):
            sink.close()
        else:
            sink.server.shutdown()
        drop_database(database)
        redis.Redis.from_url(redis_url).flushdb()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="", help="git ref or directory of a baseline tree ('' for none)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--commands", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--conversations", type=int, default=1)
    parser.add_argument("--client", choices=("threads", "async", "raw"), default="threads")
    parser.add_argument("--sink", choices=("thread", "process"), default="thread")
    parser.add_argument("--profile", type=int, default=0, help="py-spy the chat worker for this many seconds")
    parser.add_argument("--paths", default="queue,edge",
                        help="queue (a worker answers at a response_url), edge (the server answers a read), or both")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    trees = [("this", ROOT)]
    if args.baseline:
        path = Path(args.baseline)
        trees.insert(0, ("baseline", path if path.is_dir() else baseline_tree(args.baseline)))
    paths = [p for p in args.paths.split(",") if p]
    if not set(paths) <= {"queue", "edge"}:
        parser.error(f"--paths takes queue and/or edge, got {args.paths!r}")
    runs: list[dict[str, Any]] = []
    for _ in range(args.rounds):
        for label, tree in trees:
            for path in paths:
                runs.append(run_one(tree, label, path, args))
                print(json.dumps(runs[-1]), flush=True)
    summary = {}
    for label, _ in trees:
        for path in paths:
            mine = [r for r in runs if r["tree"] == label and r["path"] == path]
            name = f"{label}/{path}"
            summary[name] = {key: statistics.median(r[key] for r in mine) for key in ("commands_per_s", "p50_ms", "p99_ms")}
            summary[name]["cpu_s_per_1000"] = {k: round(statistics.median(r["cpu_s_per_1000"][k] for r in mine), 2)
                                               for k in mine[0]["cpu_s_per_1000"]}
    if {"queue", "edge"} <= set(paths):
        for label, _ in trees:
            summary[f"{label}: edge / queue commands/s"] = round(
                summary[f"{label}/edge"]["commands_per_s"] / summary[f"{label}/queue"]["commands_per_s"], 2)
    result = {"summary": summary, "runs": runs, "args": vars(args) | {"json": None}}
    print(json.dumps(summary, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
