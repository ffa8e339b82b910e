"""The HTTP server's short path (sam_local_cloud/http_server.py) serves exactly what h11 would serve the same
way.

Every head the short path takes, h11 parses to the same method, target, headers and body length, as a
keep-alive request with nothing to negotiate; everything else is left to h11. Every answer it writes
is byte for byte what h11 writes. Checked on hand-picked heads and on heads made at random from the
grammar's edges.
"""

from __future__ import annotations

import h11
import pytest
from h11._headers import get_comma_header
from hypothesis import given, settings
from hypothesis import strategies as st

from sam_local_cloud.http_server import _reason, _short_request, _short_response

TOKEN = "eyJhbGciOiJSUzI1NiJ9." + "a" * 400 + ".sig"
ORDINARY = (
    b"GET /v1/products/3f1c9a52?limit=2 HTTP/1.1\r\nHost: 127.0.0.1:3000\r\n"
    b"Authorization: Bearer " + TOKEN.encode() + b"\r\nX-Empty:\r\nX-Spaces: \t a  b \t\r\n\r\n"
)


def _by_h11(head: bytes) -> tuple[bytes, bytes, list[tuple[bytes, bytes]], int] | None:
    """What h11 makes of the head, if it is a request the short path may serve: None if h11 refuses
    it, or would frame it in another way (chunked, 100-continue, close, protocol switch)."""
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(head)
    try:
        event = connection.next_event()
    except h11.RemoteProtocolError:
        return None
    if not isinstance(event, h11.Request) or event.http_version != b"1.1" or event.method == b"CONNECT":
        return None
    names = {name.lower() for name, _ in event.headers.raw_items()}
    if names & {b"transfer-encoding", b"expect", b"upgrade"} or connection.our_state != h11.SEND_RESPONSE:
        return None
    length = [value for name, value in event.headers if name == b"content-length"]
    if b"close" in get_comma_header(event.headers, b"connection"):  # as h11 decides keep-alive
        return None
    return event.method, event.target, list(event.headers.raw_items()), int(length[0]) if length else 0


def test_an_ordinary_request_is_taken_as_h11_takes_it() -> None:
    taken = _short_request(ORDINARY)
    assert taken is not None
    assert taken == _by_h11(ORDINARY)
    assert (b"X-Spaces", b"a  b") in taken[2]


@pytest.mark.parametrize(
    "head",
    [
        b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",  # HTTP/1.0: h11 closes after it
        b"GET / HTTP/1.1\r\n\r\n",  # no Host: h11 refuses it
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: keep-alive, Close\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 5\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\n\r\n",
        b"CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Folded: a\r\n  b\r\n\r\n",  # obs-fold
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Bad : a\r\n\r\n",  # space before the colon
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Nul: a\x00b\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nX-Cr: a\rb\r\n\r\n",
        b"GET / HTTP/1.1\nHost: a\r\n\r\n",  # a bare LF ends the line for h11
        b"GET / HTTP/1.1\r\nHost: a\n\nX-After: b\r\n\r\n",  # ... and the head
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET /\x7f HTTP/1.1\r\nHost: a\r\n\r\n",
        b"G(T / HTTP/1.1\r\nHost: a\r\n\r\n",
    ],
)
def test_what_is_out_of_the_ordinary_is_left_to_h11(head: bytes) -> None:
    assert _short_request(head) is None


_HEADER_BYTES = st.sampled_from(
    [b"a", b"Z", b"-", b"_", b" ", b"\t", b":", b"\x00", b"\r", b"\n", b"\x7f", b"\xe9"]
)


@st.composite
def heads(draw: st.DrawFn) -> bytes:
    """A request head near the grammar's edges: mostly valid, with odd bytes in names and values."""
    method = draw(st.sampled_from([b"GET", b"POST", b"G T", b"CONNECT"]))
    version = draw(st.sampled_from([b"1.1", b"1.1", b"1.0", b"2.0"]))
    lines = [method + b" /p" + draw(st.sampled_from([b"", b"?q=1", b" x", b"\x00"])) + b" HTTP/" + version]
    for _ in range(draw(st.integers(0, 4))):
        name = draw(st.sampled_from([b"Host", b"Content-Length", b"Connection", b"X-A", b"Expect", b""]))
        name += b"".join(draw(st.lists(_HEADER_BYTES, max_size=2)))
        value = b"".join(
            draw(st.lists(_HEADER_BYTES | st.sampled_from([b"5", b"close", b"chunked"]), max_size=6))
        )
        lines.append(name + b":" + value)
    return b"\r\n".join(lines) + b"\r\n\r\n"


@settings(max_examples=600, deadline=None, derandomize=True)
@given(heads())
def test_the_short_path_takes_a_head_as_h11_does_or_leaves_it_to_h11(head: bytes) -> None:
    taken, expected = _short_request(head), _by_h11(head)
    if taken is not None:
        assert taken == expected
    elif expected is not None:
        # What h11 takes and the short path leaves to it: a bare LF, or Content-Length said twice.
        lengths = [line for line in head.lower().split(b"\n") if line.startswith(b"content-length")]
        assert head.count(b"\n") != head.count(b"\r\n") or len(lengths) > 1 or b"," in b"".join(lengths)


def _by_h11_response(method: bytes, status: str, headers: list[tuple[str, str]], body: list[bytes]) -> bytes:
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(method + b" / HTTP/1.1\r\nHost: a\r\n\r\n")
    connection.next_event()
    connection.next_event()
    wire = [(n.encode("latin-1"), v.encode("latin-1")) for n, v in headers]
    code = int(status[:3])
    out = connection.send(h11.Response(status_code=code, headers=wire, reason=_reason(code, status[4:])))
    for chunk in body:
        out += connection.send(h11.Data(data=chunk))
    return out + connection.send(h11.EndOfMessage())


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        ("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")], [b"{}"]),
        ("404 NOT FOUND", [("content-length", "0"), ("X-Amzn-RequestId", "r-1")], []),
        ("502 Bad Gateway", [("Content-Length", "6"), ("X-Many", "a, b")], [b"abc", b"", b"def"]),
    ],
)
def test_an_ordinary_answer_is_written_as_h11_writes_it(
    status: str, headers: list[tuple[str, str]], body: list[bytes]
) -> None:
    wire, _ = _short_response(b"GET", status, headers, iter(body))
    assert wire is not None
    assert b"".join(wire) == _by_h11_response(b"GET", status, headers, body)


@pytest.mark.parametrize(
    ("method", "status", "headers", "body"),
    [
        (b"HEAD", "200 OK", [("Content-Length", "2")], [b"{}"]),
        (b"GET", "204 No Content", [("Content-Length", "0")], []),
        (b"GET", "304 Not Modified", [], []),
        (b"GET", "200 OK", [], [b"no length"]),  # h11 chunks it
        (b"GET", "200 OK", [("Content-Length", "3")], [b"too long"]),  # h11 refuses it
        (b"GET", "200 OK", [("Content-Length", "2"), ("Content-Length", "2")], [b"{}"]),
        (b"GET", "200 OK", [("Content-Length", "2"), ("Connection", "close")], [b"{}"]),
        (b"GET", "200 OK", [("Content-Length", "2"), ("X-Bad", "a\r\nInjected: 1")], [b"{}"]),
        (b"GET", "200 OK", [("Content-Length", "2"), ("X Bad", "a")], [b"{}"]),
        (b"GET", "200 OK", [("Transfer-Encoding", "chunked")], [b"{}"]),
    ],
)
def test_an_answer_out_of_the_ordinary_is_left_to_h11(
    method: bytes, status: str, headers: list[tuple[str, str]], body: list[bytes]
) -> None:
    wire, read = _short_response(method, status, headers, iter(body))
    assert wire is None
    assert b"".join(read) == b"".join(body)  # whatever was read is handed on whole
