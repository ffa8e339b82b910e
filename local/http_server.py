"""The local cloud's HTTP/1.1 server: keep-alive connections, one thread each, header names as sent.

h11 parses and frames HTTP/1.1 (keep-alive, chunked bodies, pipelining, `Expect: 100-continue`,
protocol errors); this module runs it on sockets and calls a WSGI application (PEP 3333) for each
request. Why not a ready-made server (figures in docs/performance.md, reasons in docs/decisions.md):
werkzeug's development server answers every request with `Connection: close`, and the production
servers measured either change the case of header names, which API Gateway passes to the function as
the client sent them (docs/aws-behaviour.md §3), or serve from a fixed pool of threads, which a
function's own AWS calls, coming back to this server while its caller holds a thread, can exhaust.
Here every connection has its own thread, so a request waiting for its function holds up no other.
"""

from __future__ import annotations

import io
import socket
import socketserver
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import h11
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from local import console

RAW_HEADERS = "local.raw_headers"  # environ key: the header list as the client sent it, names unchanged
_RECEIVE_BYTES = 64 * 1024
_FLUSH_BYTES = 64 * 1024
# An unread request body up to this size is read and dropped to keep the connection; a larger one
# closes it (the gateway refuses a body over 10 MB without reading it).
_DRAIN_BYTES = 64 * 1024

_ERROR_BODY = b'{"message": "Internal server error"}'
_INTERNAL_ERROR = (
    "500 Internal Server Error",
    [("Content-Type", "application/json"), ("Content-Length", str(len(_ERROR_BODY)))],
    [_ERROR_BODY],
)

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def raw_path(request: Request) -> str:
    """The path as the client sent it, percent-encoding kept (API Gateway matches and passes it so)."""
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    return urlsplit(raw).path if raw else request.path


def raw_target(request: Request) -> str:
    """The request target as sent, for the console: path and query, encoding kept."""
    raw = request.environ.get("RAW_URI") or request.full_path
    return raw.rstrip("?")


def _reason(code: int, given: str) -> bytes:
    """The reason phrase as AWS and HTTP write it (`401 Unauthorized`), not as werkzeug's `status` has
    it (`401 UNAUTHORIZED`); werkzeug's table, not Python's, whose phrases change between versions."""
    return HTTP_STATUS_CODES.get(code, given).encode("latin-1")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True  # a connection left open never keeps the process alive
    allow_reuse_address = True
    request_queue_size = 1024  # many clients connecting at once are queued, not refused

    def __init__(self, host: str, port: int, app: WsgiApp):
        self.app = app
        super().__init__((host, port), _Connection)


class _Connection(socketserver.BaseRequestHandler):
    """One client connection: its requests one after the other, until either side closes it."""

    request: socket.socket
    server: Server

    def handle(self) -> None:
        # Nagle's algorithm would hold small writes back for the client's delayed ACK (40 ms).
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.h11 = h11.Connection(h11.SERVER)
        try:
            while self._serve_one():
                pass
        except (OSError, h11.LocalProtocolError):
            pass  # the client went away, or cannot be answered any more: drop the connection

    # ------------------------------------------------------------ one request

    def _serve_one(self) -> bool:
        """Serve the next request; False when the connection is to be closed."""
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as error:
            self._refuse(error)
            return False
        if not isinstance(event, h11.Request):
            return False  # the client closed the connection
        environ = self._environ(event)
        try:
            status, headers, body = self._call(environ)
        except Exception:  # the application's own guard failed: answer this request, keep serving
            where = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']}"
            console.say(f"local cloud error on {where}:", traceback.format_exc())
            status, headers, body = _INTERNAL_ERROR
        self._respond(event, status, headers, body)
        self._finish_request_body()
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False  # `Connection: close`, HTTP/1.0, or a body left unread
        self.h11.start_next_cycle()
        return True

    def _next_event(self) -> Any:
        while True:
            event = self.h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self.h11.they_are_waiting_for_100_continue:
                self._send(h11.InformationalResponse(status_code=100, headers=[]))
            self.h11.receive_data(self.request.recv(_RECEIVE_BYTES))

    def read_body(self) -> bytes:
        """The next piece of the request body as it arrived (b"" at its end), for wsgi.input."""
        if self.h11.their_state is not h11.SEND_BODY:
            # The body has ended: asking h11 again would wait on the socket for the next request,
            # which the client sends only after this answer (a reader that reads past the end hangs).
            return b""
        event = self._next_event()
        if isinstance(event, h11.Data):
            return bytes(event.data)
        return b""  # EndOfMessage

    def _environ(self, request: h11.Request) -> dict[str, Any]:
        target = request.target.decode("latin-1")
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": request.method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),  # PEP 3333: decoded, as latin-1
            "QUERY_STRING": query,
            "RAW_URI": target,  # as sent, percent-encoding kept (the gateway matches on it)
            "REQUEST_URI": target,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": f"HTTP/{request.http_version.decode('latin-1')}",
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BufferedReader(_Body(self)),
            "wsgi.input_terminated": True,  # readers may read to the end: chunked bodies have no length
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        raw = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in request.headers.raw_items()]
        environ[RAW_HEADERS] = raw
        for name, value in raw:
            if "_" in name:
                continue  # WSGI cannot tell X_Foo from X-Foo: such a header must not pass for the other
            key = name.upper().replace("-", "_")
            if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
                key = "HTTP_" + key
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def _call(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        started: list[Any] = []

        def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            started[:] = [status, headers]
            return lambda data: None  # the legacy write() callable: nothing here uses it

        body = self.server.app(environ, start_response)
        return started[0], started[1], body

    def _respond(
        self, request: h11.Request, status: str, headers: list[tuple[str, str]], body: Iterable[bytes]
    ) -> None:
        code = int(status.split(" ", 1)[0])
        wire = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in headers]
        response = h11.Response(status_code=code, headers=wire, reason=_reason(code, status[4:]))
        pending = [self.h11.send(response)]
        size = 0
        try:
            for chunk in body:
                if chunk and request.method != b"HEAD":
                    pending.append(self.h11.send(h11.Data(data=chunk)))
                    size += len(chunk)
                if size >= _FLUSH_BYTES:
                    self.request.sendall(b"".join(pending))
                    pending, size = [], 0
        finally:
            if hasattr(body, "close"):
                body.close()
        pending.append(self.h11.send(h11.EndOfMessage()))
        self.request.sendall(b"".join(pending))

    def _finish_request_body(self) -> None:
        """Read what is left of a small unread request body, so the connection can serve the next one."""
        read = 0
        while self.h11.their_state is h11.SEND_BODY and not self.h11.they_are_waiting_for_100_continue:
            if read > _DRAIN_BYTES:
                return
            event = self._next_event()
            if isinstance(event, h11.Data):
                read += len(event.data)

    def _refuse(self, error: h11.RemoteProtocolError) -> None:
        """A request that is not HTTP/1.1 gets a 400 (or h11's better status), and the connection closes."""
        first_line = bytes(self.h11.trailing_data[0]).split(b"\n", 1)[0].decode("latin-1")
        console.say(f"refused a malformed request ({error}): {first_line}")
        if self.h11.our_state not in (h11.IDLE, h11.SEND_RESPONSE):
            return
        body = b'{"message": "Bad Request"}'
        headers = [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
        code = error.error_status_hint
        response = h11.Response(status_code=code, headers=headers, reason=_reason(code, ""))
        self.request.sendall(self.h11.send(response) + self.h11.send(h11.Data(data=body)))

    def _send(self, event: Any) -> None:
        self.request.sendall(self.h11.send(event))


class _Body(io.RawIOBase):
    """The request body, read from the connection as the application asks for it."""

    def __init__(self, connection: _Connection):
        self._connection = connection
        self._left = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if not self._left:
            self._left = self._connection.read_body()
        size = min(len(buffer), len(self._left))
        buffer[:size] = self._left[:size]
        self._left = self._left[size:]
        return size
