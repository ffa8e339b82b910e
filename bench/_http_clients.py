"""A bounded HTTP/1.1 load run on loopback: N clients, each on its own keep-alive connection.

    python -m bench._http_clients < spec.json      (bench/local_cloud.py runs it; it prints one JSON line)

Runs in a process of its own, so that its work does not share an interpreter lock with what it
measures. Each client sends its next request as soon as the previous answer is read, until the run
has made `requests` requests or `seconds` have passed, whichever comes first. A server that answers
`Connection: close` gets a new connection for the next request, as any client would make.
Per request it records the latency from writing the request to reading the whole answer.
The spec: {"host", "port", "clients", "requests", "seconds", "warmup", "expect",
"requests_bytes": [request as latin-1 text, ...]} (clients take the requests in turn).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Figures:
    clients: int
    count: int
    seconds: float
    p50_ms: float
    p99_ms: float
    errors: int

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0


def http_request(
    method: str, path: str, host: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """The status of one response, and whether the server closes the connection after it."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip().lower()
        if name == "content-length":
            length = int(value)
        elif name == "transfer-encoding" and "chunked" in value:
            chunked = True
        elif name == "connection" and value == "close":
            close = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _run(spec: dict[str, Any]) -> dict[str, Any]:
    host, port = spec["host"], spec["port"]
    requests = [r.encode("latin-1") for r in spec["requests_bytes"]]
    expect = spec["expect"]
    budget = {"left": spec["warmup"] + spec["requests"]}
    warmup_left = {"left": spec["warmup"]}
    latencies: list[float] = []
    errors = [0]
    deadline = time.perf_counter() + spec["seconds"]
    started: list[float] = []

    async def client(index: int) -> None:
        reader = writer = None
        sent = index
        while budget["left"] > 0 and time.perf_counter() < deadline:
            budget["left"] -= 1
            warming = warmup_left["left"] > 0
            if warming:
                warmup_left["left"] -= 1
            elif not started:
                started.append(time.perf_counter())
            request = requests[sent % len(requests)]
            sent += 1
            begun = time.perf_counter()
            if writer is None:
                reader, writer = await asyncio.open_connection(host, port)
            assert reader is not None
            writer.write(request)
            status, close = await _read_response(reader)
            elapsed = (time.perf_counter() - begun) * 1000
            if close:
                writer.close()
                reader = writer = None
            if status != expect:
                errors[0] += 1
            if not warming:
                latencies.append(elapsed)
        if writer is not None:
            writer.close()

    await asyncio.gather(*(client(i) for i in range(spec["clients"])))
    ended = time.perf_counter()
    ordered = sorted(latencies)
    count = len(ordered)
    return {
        "clients": spec["clients"],
        "count": count,
        "seconds": ended - started[0] if started else 0.0,
        "p50_ms": ordered[count // 2] if count else 0.0,
        "p99_ms": ordered[min(count - 1, int(0.99 * count))] if count else 0.0,
        "errors": errors[0],
    }


def run(
    host: str,
    port: int,
    requests: list[bytes],
    *,
    clients: int,
    count: int,
    seconds: float,
    warmup: int = 0,
    expect: int = 200,
) -> Figures:
    """One bounded run, in a child process; `requests` are taken in turn."""
    spec = {
        "host": host,
        "port": port,
        "clients": clients,
        "requests": count,
        "seconds": seconds,
        "warmup": warmup,
        "expect": expect,
        "requests_bytes": [r.decode("latin-1") for r in requests],
    }
    done = subprocess.run(
        [sys.executable, "-m", "bench._http_clients"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    )
    return Figures(**json.loads(done.stdout))


def main() -> None:
    spec = json.load(sys.stdin)
    print(json.dumps(asyncio.run(_run(spec))))


if __name__ == "__main__":
    main()
