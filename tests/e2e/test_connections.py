"""Connections are kept open (HTTP/1.1 keep-alive) by the API, the token endpoint and the AWS APIs, and
the functions' own boto3 clients keep theirs: a request costs no new TCP connection.
"""

from __future__ import annotations

import base64
import http.client
import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.support import LOCAL_ONLY, Api, Stack, new_product
from tests.harness import widest_client

_TCP_STATES = {"01": "ESTABLISHED", "06": "TIME_WAIT"}


def _connection(url: str) -> http.client.HTTPConnection:
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    return kind(parts.netloc, timeout=30)


def _same_socket_for_each(connection: http.client.HTTPConnection, requests: list[tuple]) -> list[int]:
    """Sends each (method, path, body, headers) on one connection; the statuses. Fails on a reconnect."""
    statuses, sockets = [], set()
    for method, path, body, headers in requests:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
        assert response.getheader("Connection", "").lower() != "close"
        sockets.add(id(connection.sock))
        statuses.append(response.status)
    assert len(sockets) == 1, "the server closed the connection between requests"
    return statuses


@pytest.fixture
def admin(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(widest_client(stack.clients))


def test_one_connection_serves_many_api_requests(stack: Stack, admin: str) -> None:
    path = urlsplit(stack.api_url).path + "/products?limit=1"
    headers = {"Authorization": f"Bearer {admin}", **({"x-api-key": stack.api_key} if stack.api_key else {})}
    statuses = _same_socket_for_each(_connection(stack.api_url), [("GET", path, None, headers)] * 5)
    assert statuses == [200] * 5


def test_one_connection_serves_many_token_requests(stack: Stack) -> None:
    client = next(iter(stack.clients.values()))
    basic = base64.b64encode(f"{client.client_id}:{client.secret}".encode()).decode()
    headers = {"Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"}
    request = ("POST", urlsplit(stack.token_url).path, "grant_type=client_credentials", headers)
    assert _same_socket_for_each(_connection(stack.token_url), [request] * 3) == [200] * 3


@LOCAL_ONLY
def test_one_connection_serves_many_aws_api_calls(stack: Stack) -> None:
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.ListTables",
        "Content-Type": "application/x-amz-json-1.0",
        "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20250101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host;x-amz-target, Signature=0",
    }
    assert stack.aws_endpoint_url is not None
    requests = [("POST", "/", "{}", headers)] * 3
    assert _same_socket_for_each(_connection(stack.aws_endpoint_url), requests) == [200] * 3


def _tcp_states(port: int) -> Counter[str]:
    """The local cloud's own end of each TCP connection on its port, by state (Linux)."""
    states: Counter[str] = Counter()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        path = Path(table)
        for line in path.read_text().splitlines()[1:] if path.exists() else []:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port:
                states[_TCP_STATES.get(fields[3], fields[3])] += 1
    return states


@LOCAL_ONLY
def test_the_functions_boto3_clients_keep_their_connections(rest_api: Api, stack: Stack, admin: str) -> None:
    """Each GET is a GetItem by the function: with keep-alive, one connection per environment serves them all.

    The local cloud closing a connection leaves its end in TIME_WAIT, so that count grows by one for
    every connection it did not keep.
    """
    if not Path("/proc/net/tcp").exists():
        pytest.skip("reads the TCP table of Linux's /proc")
    port = urlsplit(stack.api_url).port
    assert port is not None
    created = rest_api.call("POST", "/products", token=admin, json=new_product())
    assert created.status_code == 201, created.text
    path = f"/products/{created.json()['id']}"
    assert rest_api.call("GET", path, token=admin).status_code == 200  # the function's environment is warm
    before = _tcp_states(port)
    for _ in range(20):
        assert rest_api.call("GET", path, token=admin).status_code == 200
    after = _tcp_states(port)
    assert after["TIME_WAIT"] - before["TIME_WAIT"] < 5, json.dumps({"before": before, "after": after})
