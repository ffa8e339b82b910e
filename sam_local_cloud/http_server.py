"""The local cloud's HTTP/1.1 server: keep-alive connections, one thread each, header names as sent.

h11 parses and frames HTTP/1.1 (keep-alive, chunked bodies, pipelining, `Expect: 100-continue`,
protocol errors); this module runs it on sockets and calls a WSGI application (PEP 3333) for each
request. The common request (HTTP/1.1, a small Content-Length body or none, nothing to
negotiate) and the common answer (a Content-Length body) take a short path of their own, held to
h11's grammar and handed to h11 whenever anything is out of the ordinary: h11's state machine cost
a third of the cloud's CPU per request (docs/performance.md).

Why not a ready-made server (figures in docs/performance.md, reasons in docs/decisions.md):
werkzeug's development server answers every request with `Connection: close`, and the production
servers measured either change the case of header names, which API Gateway passes to the function as
the client sent them (docs/aws-behaviour.md §3), or serve from a fixed pool of threads, which a
function's own AWS calls, coming back to this server while its caller holds a thread, can exhaust.
Here every connection has its own thread, so a request waiting for its function holds up no other.
"""

from __future__ import annotations

import io
import re
import socket
import socketserver
import sys
import traceback
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import h11
from h11._headers import CONTENT_LENGTH_MAX_DIGITS, _field_name_re, _field_value_re
from h11._readers import request_line_re
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wrappers import Request

from sam_local_cloud import console

RAW_HEADERS = (
    "sam_local_cloud.raw_headers"  # environ key: the header list as the client sent it, names unchanged
)
_RECEIVE_BYTES = 64 * 1024
_FLUSH_BYTES = 64 * 1024
# An unread request body up to this size is read and dropped to keep the connection; a larger one
# closes it (the gateway refuses a body over 10 MB without reading it).
_DRAIN_BYTES = 64 * 1024
# The short path (module docstring): the largest body it reads whole before calling the application,
# and h11's own limit on a request head (a larger one is h11's to refuse, with 431).
_SHORT_BODY_BYTES = 1024 * 1024
_MAX_HEAD_BYTES = 16 * 1024
# Request headers that ask for more than the short path does: h11 serves such a request.
_NEGOTIATING = {b"transfer-encoding", b"expect", b"upgrade"}
_DIGITS = re.compile(rb"[0-9]+")
_NOT_IN_VALUES = re.compile(rb"[\x00\r\n\x0b\x0c]")  # h11's field_vchar is [^\x00\s]

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
        self._buffer = bytearray()  # received, not yet served
        self._closed = False  # the client has sent all it will send
        try:
            while self._serve_next():
                pass
        except (OSError, h11.LocalProtocolError):
            pass  # the client went away, or cannot be answered any more: drop the connection

    def _serve_next(self) -> bool:
        """Serve the next request, by the short path or by h11; False when the connection is to be closed."""
        end = self._buffer.find(b"\r\n\r\n")
        while end < 0:
            if self._closed or len(self._buffer) > _MAX_HEAD_BYTES or self._buffer[:1] in (b"\r", b"\n"):
                return self._serve_by_h11() if self._buffer else False
            chunk = self.request.recv(_RECEIVE_BYTES)
            if not chunk:
                self._closed = True
                continue
            searched = max(0, len(self._buffer) - 3)
            self._buffer += chunk
            end = self._buffer.find(b"\r\n\r\n", searched)
        head = bytes(self._buffer[: end + 4])
        request = _short_request(head)
        if request is None:
            return self._serve_by_h11()
        method, target, headers, length = request
        if length > _SHORT_BODY_BYTES:
            return self._serve_by_h11()
        del self._buffer[: end + 4]
        while len(self._buffer) < length:
            chunk = self.request.recv(_RECEIVE_BYTES)
            if not chunk:
                return False  # the client went away before its body ended
            self._buffer += chunk
        body = bytes(self._buffer[:length])
        del self._buffer[:length]
        environ = self._environ(method, target, b"1.1", headers, io.BytesIO(body))
        status, response_headers, response_body = self._answer(environ)
        wire, response_body = _short_response(method, status, response_headers, response_body)
        if wire is not None:
            self.request.sendall(b"".join(wire))
            return True
        # Anything out of the ordinary in the answer: h11 frames it, as for any other request.
        self.h11 = h11.Connection(h11.SERVER)
        self.h11.receive_data(head + body)
        event = self.h11.next_event()
        assert isinstance(event, h11.Request)  # the request served just now, parsed again
        while not isinstance(self.h11.next_event(), h11.EndOfMessage):
            pass
        self._respond(event, status, response_headers, response_body)
        return self.h11.our_state is h11.DONE

    def _serve_by_h11(self) -> bool:
        """Serve the next request with h11, from what was received so far; what h11 read past its end
        stays for the next request."""
        self.h11 = h11.Connection(h11.SERVER)
        self.h11.receive_data(bytes(self._buffer))
        if self._closed:
            self.h11.receive_data(b"")
        self._buffer = bytearray()
        if not self._serve_one():
            return False
        rest, closed = self.h11.trailing_data
        self._buffer, self._closed = bytearray(rest), closed
        return True

    # ------------------------------------------------------------ one request, by h11

    def _serve_one(self) -> bool:
        """Serve the next request; False when the connection is to be closed."""
        try:
            event = self._next_event()
        except h11.RemoteProtocolError as error:
            self._refuse(error)
            return False
        if not isinstance(event, h11.Request):
            return False  # the client closed the connection
        raw = list(event.headers.raw_items())
        environ = self._environ(
            event.method, event.target, event.http_version, raw, io.BufferedReader(_Body(self))
        )
        status, headers, body = self._answer(environ)
        self._respond(event, status, headers, body)
        self._finish_request_body()
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False  # `Connection: close`, HTTP/1.0, or a body left unread
        self.h11.start_next_cycle()
        return True

    def _answer(self, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], Iterable[bytes]]:
        try:
            return self._call(environ)
        except Exception:  # the application's own guard failed: answer this request, keep serving
            where = f"{environ['REQUEST_METHOD']} {environ['RAW_URI']}"
            console.say(f"local cloud error on {where}:", traceback.format_exc())
            return _INTERNAL_ERROR

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

    def _environ(
        self,
        method: bytes,
        target_bytes: bytes,
        http_version: bytes,
        headers: list[tuple[bytes, bytes]],
        body: Any,
    ) -> dict[str, Any]:
        target = target_bytes.decode("latin-1")
        path, _, query = target.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": method.decode("latin-1"),
            "SCRIPT_NAME": "",
            "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),  # PEP 3333: decoded, as latin-1
            "QUERY_STRING": query,
            "RAW_URI": target,  # as sent, percent-encoding kept (the gateway matches on it)
            "REQUEST_URI": target,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": f"HTTP/{http_version.decode('latin-1')}",
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_PORT": str(self.client_address[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.input_terminated": True,  # readers may read to the end: chunked bodies have no length
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        raw = [(n.decode("latin-1"), v.decode("latin-1")) for n, v in headers]
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


def _short_request(head: bytes) -> tuple[bytes, bytes, list[tuple[bytes, bytes]], int] | None:
    """Method, target, headers (as sent) and body length of a request head (ending in a blank line)
    that the short path serves: what h11 would accept and serve the same way. None hands it to h11,
    which refuses what is malformed and frames what is not ordinary."""
    # A bare LF (which h11 takes for a line end, and may end the head sooner) stays inside a line
    # here, where the grammar below refuses it.
    lines = head[:-4].split(b"\r\n")
    line = request_line_re.fullmatch(lines[0])
    if line is None or line["http_version"] != b"1.1" or line["method"] == b"CONNECT":
        return None
    headers: list[tuple[bytes, bytes]] = []
    hosts, length = 0, None
    for raw in lines[1:]:
        # h11's header_field grammar, checked without its regular expression (the longest part of the
        # request's CPU on a long token): a token, a colon, the value between optional spaces and
        # tabs, with no NUL or other whitespace in it.
        name, colon, rest = raw.partition(b":")
        if not colon or not _field_name_re.fullmatch(name):
            return None  # malformed, or folded onto the line before
        value = rest.strip(b" \t")
        if _NOT_IN_VALUES.search(value):
            return None
        lower = name.lower()
        if lower in _NEGOTIATING:
            return None
        if lower == b"host":
            hosts += 1
        elif lower == b"content-length":
            if length is not None or not _DIGITS.fullmatch(value) or len(value) > CONTENT_LENGTH_MAX_DIGITS:
                return None
            length = int(value)
        elif lower == b"connection" and b"close" in [v.strip().lower() for v in value.split(b",")]:
            return None
        headers.append((name, value))
    if hosts != 1:
        return None
    return line["method"], line["target"], headers, length or 0


def _short_response(
    method: bytes, status: str, headers: list[tuple[str, str]], body: Iterable[bytes]
) -> tuple[list[bytes] | None, Iterable[bytes]]:
    """The answer on the wire as h11 would write it, when it is an ordinary one: a status with a body,
    one Content-Length that the body fills, valid header names and values, no framing or connection
    headers; and the body, read (a list) or as it was. No wire leaves the answer to h11."""
    code = int(status[:3])
    if method == b"HEAD" or code in (204, 304) or not 200 <= code < 1000:
        return None, body
    wire = [b"HTTP/1.1 %d " % code + _reason(code, status[4:]) + b"\r\n"]
    length = None
    for name, value in headers:
        name_bytes, value_bytes = name.encode("latin-1"), value.encode("latin-1")
        if not _field_name_re.fullmatch(name_bytes) or not _field_value_re.fullmatch(value_bytes):
            return None, body
        lower = name_bytes.lower()
        if lower == b"content-length":
            if length is not None or not _DIGITS.fullmatch(value_bytes):
                return None, body
            length = int(value_bytes)
        elif lower in (b"transfer-encoding", b"connection"):
            return None, body
        wire.append(name_bytes + b": " + value_bytes + b"\r\n")
    if length is None:
        return None, body
    try:
        chunks = [bytes(chunk) for chunk in body if chunk]
    finally:
        if hasattr(body, "close"):
            body.close()
    if sum(len(chunk) for chunk in chunks) != length:
        return None, chunks
    wire.append(b"\r\n")
    wire.extend(chunks)
    return wire, chunks


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
