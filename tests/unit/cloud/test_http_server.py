"""The server's status lines carry the reason phrase as HTTP and AWS write it (`401 Unauthorized`),
whatever case the application's status has (werkzeug's is upper case)."""

from __future__ import annotations

import http.client
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.wrappers import Response

from sam_local_cloud.http_server import Server


def answer_with_the_status_in_the_path(environ: dict[str, Any], start_response: Any) -> Any:
    """`GET /401` answers 401, as the gateways do: a werkzeug Response (status "401 UNAUTHORIZED")."""
    return Response("{}", status=int(environ["PATH_INFO"].strip("/")))(environ, start_response)


@pytest.fixture(scope="module")
def port() -> Iterator[int]:
    server = Server("127.0.0.1", 0, answer_with_the_status_in_the_path)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize(
    ("status", "reason"),
    [
        (200, "OK"),
        (400, "Bad Request"),
        (401, "Unauthorized"),
        (403, "Forbidden"),
        (429, "Too Many Requests"),
        (502, "Bad Gateway"),
        (504, "Gateway Timeout"),
    ],
)
def test_the_status_line_has_the_reason_phrase_as_http_writes_it(port: int, status: int, reason: str):
    assert Response(status=status).status == f"{status} {reason.upper()}"  # what the application says
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", f"/{status}")

    response = connection.getresponse()

    assert (response.status, response.reason) == (status, reason)
    connection.close()


def test_a_malformed_request_is_refused_with_its_reason_phrase(port: int):
    with socket.create_connection(("127.0.0.1", port), timeout=10) as connection:
        connection.sendall(b"NOT HTTP AT ALL\r\n\r\n")
        status_line = connection.makefile("rb").readline()

    assert status_line == b"HTTP/1.1 400 Bad Request\r\n"
