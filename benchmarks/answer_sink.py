"""A cheap response_url stand-in in a process of its own: asyncio, HTTP/1.1 keep-alive, no thread per request.

The in-process `AnswerSink` (bench_chat.py) is a ThreadingHTTPServer speaking HTTP/1.0: a thread and a
TCP connection per answer, in the same interpreter (and GIL) as the bench's sending threads, so at a few
hundred answers a second the bench measures itself. This one runs apart; `POST /answer/<key>` notes the
arrival time (time.perf_counter: CLOCK_MONOTONIC, comparable across processes on Linux), and
`GET /count` how many arrived, `GET /arrived` every arrival so far as JSON.

    python -m benchmarks.answer_sink   # prints its port, then serves until killed
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time

import httpx

from benchmarks.harness import ROOT


class _Protocol(asyncio.Protocol):
    def __init__(self, arrived: dict[str, float]) -> None:
        self.arrived = arrived
        self.buffer = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].decode("latin-1")
            length = 0
            for line in head.split("\r\n")[1:]:
                name, _, value = line.partition(":")
                if name.strip().lower() == "content-length":
                    length = int(value)
            if len(self.buffer) < head_end + 4 + length:
                return
            self.buffer = self.buffer[head_end + 4 + length:]
            method, path = head.split(" ", 2)[:2]
            body = b""
            if method == "POST":
                self.arrived.setdefault(path.rsplit("/", 1)[1], time.perf_counter())
            elif path == "/count":
                body = str(len(self.arrived)).encode()
            else:
                body = json.dumps(self.arrived).encode()
            self.transport.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"  # type: ignore[attr-defined]
                                 b"content-length: %d\r\n\r\n%s" % (len(body), body))


async def _serve() -> None:
    arrived: dict[str, float] = {}
    server = await asyncio.get_running_loop().create_server(lambda: _Protocol(arrived), "127.0.0.1", 0)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


class ProcessSink:
    """The sink above as a child process, with AnswerSink's interface (url, wait, arrived)."""

    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "benchmarks.answer_sink"], cwd=ROOT,
                                        stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())  # type: ignore[union-attr]
        self.arrived: dict[str, float] = {}
        self._expected = 0
        self._client = httpx.Client(timeout=10)

    def url(self, key: str) -> str:
        return f"http://127.0.0.1:{self.port}/answer/{key}"

    def refresh(self) -> dict[str, float]:
        self.arrived = self._client.get(f"http://127.0.0.1:{self.port}/arrived").json()
        return self.arrived

    def wait(self, keys: list[str], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        self._expected += len(keys)  # keys are unique across waits
        while time.monotonic() < deadline:
            # Polling a count, not every arrival: the sink must stay cheap while answers pour in.
            if int(self._client.get(f"http://127.0.0.1:{self.port}/count").text) >= self._expected:
                if all(key in self.refresh() for key in keys):
                    return
            time.sleep(0.02)
        self.refresh()
        raise SystemExit(f"only {sum(k in self.arrived for k in keys)} of {len(keys)} answers arrived in {timeout:.0f}s")

    def close(self) -> None:
        self._client.close()
        self.process.kill()
        self.process.wait()


if __name__ == "__main__":
    asyncio.run(_serve())
