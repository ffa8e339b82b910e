"""The server stacks the local cloud could run on, each serving the same trivial app, on loopback.

    python -m venv /tmp/stacks && /tmp/stacks/bin/pip install werkzeug h11 waitress cheroot \\
        granian uvicorn httptools uvloop a2wsgi
    PYTHONPATH=. /tmp/stacks/bin/python -m bench.server_stacks     (not part of make bench)

Each server runs in a process of its own; bench/_http_clients.py sends 4000 GETs from 1 and from 16
keep-alive connections (a server that closes connections gets a new one per request). Servers that
are not installed are skipped. docs/performance.md has the figures and why the local cloud serves on
h11 (sam_local_cloud/http_server.py) nonetheless.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time

from bench import _http_clients as http_clients

BODY = json.dumps(
    {"id": "3f1c9a52-0000-4000-8000-000000000000", "name": "Espresso cup", "price": 12.5}
).encode()
STACKS = {  # name: the modules it needs
    "werkzeug (the local cloud's server before)": ("werkzeug",),
    "h11, a thread per connection (sam_local_cloud/http_server.py)": ("h11",),
    "waitress": ("waitress",),
    "cheroot": ("cheroot",),
    "uvicorn, ASGI app (httptools, uvloop)": ("uvicorn", "httptools", "uvloop"),
    "uvicorn, WSGI app through a2wsgi": ("uvicorn", "a2wsgi"),
    "granian, WSGI, one worker process": ("granian",),
}


def wsgi_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BODY)))])
    return [BODY]


async def asgi_app(scope, receive, send):
    if scope["type"] != "http":
        return
    while (await receive()).get("more_body"):
        pass
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(BODY)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": BODY})


def serve(name: str, port: int) -> None:
    if name.startswith("werkzeug"):
        from werkzeug.serving import WSGIRequestHandler, make_server

        class Quiet(WSGIRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_request(self, *args: object) -> None:
                pass

        make_server("127.0.0.1", port, wsgi_app, threaded=True, request_handler=Quiet).serve_forever()
    elif name.startswith("h11"):
        sys.path.insert(0, ".")
        from sam_local_cloud.http_server import Server

        Server("127.0.0.1", port, wsgi_app).serve_forever()
    elif name == "waitress":
        import logging

        import waitress

        logging.getLogger("waitress").setLevel(logging.ERROR)
        waitress.serve(wsgi_app, host="127.0.0.1", port=port, threads=8)
    elif name == "cheroot":
        from cheroot import wsgi

        wsgi.Server(("127.0.0.1", port), wsgi_app, numthreads=8).start()
    elif name.startswith("uvicorn"):
        import uvicorn

        app = asgi_app
        if "a2wsgi" in name:
            from a2wsgi import WSGIMiddleware

            app = WSGIMiddleware(wsgi_app, workers=8)
        uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", http="httptools", loop="uvloop")
    elif name.startswith("granian"):
        from granian import Granian

        Granian(
            "bench.server_stacks:wsgi_app", address="127.0.0.1", port=port, interface="wsgi", workers=1
        ).serve()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_answering(port: int) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/")
            connection.getresponse().read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def main() -> int:
    print(f"{'server stack':52} {'clients':>7} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for name, modules in STACKS.items():
        if not all(importlib.util.find_spec(m) for m in modules):
            print(f"{name:52} (not installed)")
            continue
        port = _free_port()
        # A group of its own: granian serves from a child process of its own.
        server = subprocess.Popen(
            [sys.executable, "-m", "bench.server_stacks", name, str(port)], start_new_session=True
        )
        try:
            _wait_until_answering(port)
            request = http_clients.http_request("GET", "/products/x", f"127.0.0.1:{port}")
            for clients in (1, 16):
                f = http_clients.run(
                    "127.0.0.1", port, [request], clients=clients, count=4000, seconds=10, warmup=100
                )
                print(
                    f"{name:52} {clients:7} {f.per_second:8.0f} {f.p50_ms:7.2f} {f.p99_ms:7.2f}", flush=True
                )
        finally:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    return 0


if __name__ == "__main__":
    if len(sys.argv) == 3:
        serve(sys.argv[1], int(sys.argv[2]))
    else:
        sys.exit(main())
