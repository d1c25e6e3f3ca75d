"""A small HTTP/1.1 load client in Python (nothing to install): keep-alive connections, one request body.

Each connection sends the same pre-built request, reads the answer (status line, Content-Length body
or chunked), notes the latency, and sends again, until the duration is over. Run it in a process of
its own so it does not share an interpreter with what it measures:

    python -m benchmarks.loadgen --url http://127.0.0.1:8080/v1/alerts/alertmanager --body body.json \\
        --header 'Authorization: Bearer x' --connections 16 --duration 10

It prints one JSON line: requests, non-2xx answers, requests/s, p50/p99 latency in ms.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from urllib.parse import urlsplit


def build_request(url: str, body: bytes, headers: list[str]) -> tuple[str, int, bytes]:
    parts = urlsplit(url)
    lines = [f"POST {parts.path or '/'} HTTP/1.1", f"Host: {parts.netloc}", "Content-Type: application/json",
             f"Content-Length: {len(body)}", *headers]
    return parts.hostname or "127.0.0.1", parts.port or 80, ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def read_answer(reader: asyncio.StreamReader) -> int:
    """Read one answer; its status code."""
    head = await reader.readuntil(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    status = int(status_line.split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in header_lines if line)}
    if "content-length" in headers:
        await reader.readexactly(int(headers["content-length"]))
    elif headers.get("transfer-encoding", "").lower() == "chunked":
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    return status


async def run(url: str, body: bytes, headers: list[str], connections: int, duration: float) -> dict:
    host, port, request = build_request(url, body, headers)
    latencies: list[float] = []
    non2xx = 0
    deadline = time.perf_counter() + duration

    async def connection() -> None:
        nonlocal non2xx
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < deadline:
                sent = time.perf_counter()
                writer.write(request)
                status = await read_answer(reader)
                latencies.append(time.perf_counter() - sent)
                if not 200 <= status < 300:
                    non2xx += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    latencies.sort()
    n = len(latencies)
    return {"requests": n, "non2xx": non2xx, "rps": round(n / elapsed, 1),
            "p50_ms": round(latencies[n // 2] * 1000, 2) if n else None,
            "p99_ms": round(latencies[min(n - 1, int(n * 0.99))] * 1000, 2) if n else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--body", required=True, help="file holding the request body")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    with open(args.body, "rb") as handle:
        body = handle.read()
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    print(json.dumps(run_loop(run(args.url, body, args.header, args.connections, args.duration))))


if __name__ == "__main__":
    main()
