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

import json
import selectors
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any

_RECEIVE_BYTES = 64 * 1024


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


class _Client:
    """One client's connection and the answer it is reading."""

    def __init__(self, index: int):
        self.sent = index  # which of the requests it sends next (clients take them in turn)
        self.sock: socket.socket | None = None
        self.buffer = bytearray()
        self.begun = 0.0
        self.warming = False


def _response_end(buffer: bytearray) -> tuple[int, int, bool] | None:
    """(status, where the response ends, whether the server closes the connection) once the buffer
    holds a whole response; None until then."""
    head_end = buffer.find(b"\r\n\r\n")
    if head_end < 0:
        return None
    lines = bytes(buffer[:head_end]).decode("latin-1").split("\r\n")
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
    at = head_end + 4
    if not chunked:
        return (status, at + length, close) if len(buffer) >= at + length else None
    while True:
        line_end = buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        size = int(bytes(buffer[at:line_end]).split(b";")[0], 16)
        at = line_end + 2 + size + 2
        if len(buffer) < at:
            return None
        if size == 0:
            return status, at, close


def _run(spec: dict[str, Any]) -> dict[str, Any]:
    """The run, on blocking sockets watched by one selector: a client's answer is read once it has
    come, and its next request written at once (small enough never to block)."""
    address = (spec["host"], spec["port"])
    requests = [r.encode("latin-1") for r in spec["requests_bytes"]]
    expect = spec["expect"]
    left = spec["warmup"] + spec["requests"]
    warmup_left = spec["warmup"]
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + spec["seconds"]
    started: list[float] = []
    selector = selectors.DefaultSelector()

    def send_next(client: _Client) -> bool:
        nonlocal left, warmup_left
        if left <= 0 or time.perf_counter() >= deadline:
            return False
        left -= 1
        client.warming = warmup_left > 0
        if client.warming:
            warmup_left -= 1
        elif not started:
            started.append(time.perf_counter())
        request = requests[client.sent % len(requests)]
        client.sent += 1
        client.begun = time.perf_counter()
        if client.sock is None:
            client.sock = socket.create_connection(address)
            client.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            selector.register(client.sock, selectors.EVENT_READ, client)
        client.sock.sendall(request)
        return True

    def close(client: _Client) -> None:
        if client.sock is not None:
            selector.unregister(client.sock)
            client.sock.close()
            client.sock = None

    busy = 0
    for index in range(spec["clients"]):
        busy += send_next(_Client(index))
    while busy:
        for key, _ in selector.select():
            client: _Client = key.data
            assert client.sock is not None
            chunk = client.sock.recv(_RECEIVE_BYTES)
            if not chunk:
                raise ConnectionError("the server closed a connection before answering")
            client.buffer += chunk
            end = _response_end(client.buffer)
            if end is None:
                continue
            status, size, closes = end
            elapsed = (time.perf_counter() - client.begun) * 1000
            del client.buffer[:size]
            if closes:
                close(client)
            errors += status != expect
            if not client.warming:
                latencies.append(elapsed)
            if not send_next(client):
                close(client)
                busy -= 1
    ended = time.perf_counter()
    ordered = sorted(latencies)
    count = len(ordered)
    return {
        "clients": spec["clients"],
        "count": count,
        "seconds": ended - started[0] if started else 0.0,
        "p50_ms": ordered[count // 2] if count else 0.0,
        "p99_ms": ordered[min(count - 1, int(0.99 * count))] if count else 0.0,
        "errors": errors,
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
    print(json.dumps(_run(spec)))


if __name__ == "__main__":
    main()
