"""The user pool's public host (sam_local_cloud/cognito/public_host.py) and how an execution environment
reaches it (sam_local_cloud/lambda_/worker.py `route_public_hosts`)."""

from __future__ import annotations

import json
import socket
import ssl
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from sam_local_cloud.cognito.public_host import HOSTS_VARIABLE, PublicHost
from sam_local_cloud.lambda_ import worker

REGION = "eu-west-1"
POOL = "eu-west-1_AbCdEfGhI"


@pytest.fixture
def host() -> Iterator[PublicHost]:
    host = PublicHost(REGION)
    host.serve(
        POOL, {"keys": [{"kid": "k1"}]}, {"issuer": f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}"}
    )
    yield host
    host.stop()


@pytest.fixture
def routed(host: PublicHost, monkeypatch: pytest.MonkeyPatch) -> PublicHost:
    """This process resolves the host as an execution environment does, and trusts what it trusts."""
    monkeypatch.setattr(socket, "getaddrinfo", socket.getaddrinfo)  # undone after the test
    worker.route_public_hosts(host.environment()[HOSTS_VARIABLE])
    return host


def _get(url: str, host: PublicHost) -> urllib.request.http.client.HTTPResponse:  # type: ignore[name-defined]
    context = ssl.create_default_context(cafile=str(host.trusted))
    return urllib.request.urlopen(url, context=context, timeout=5)  # noqa: S310 - AWS's host, here local


def test_the_pools_keys_are_served_under_aws_host_name_with_a_certificate_that_checks(
    routed: PublicHost,
) -> None:
    with _get(f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}/.well-known/jwks.json", routed) as reply:
        assert json.load(reply) == {"keys": [{"kid": "k1"}]}


def test_anything_but_the_pools_documents_is_not_found(routed: PublicHost) -> None:
    with pytest.raises(urllib.error.HTTPError) as error:
        _get(f"https://cognito-idp.{REGION}.amazonaws.com/other_pool/.well-known/jwks.json", routed)
    assert error.value.code == 404


def test_only_the_named_host_on_https_is_routed(host: PublicHost, monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[tuple[object, object]] = []
    monkeypatch.setattr(socket, "getaddrinfo", lambda h, p, *a, **k: asked.append((h, p)) or [])
    worker.route_public_hosts(host.environment()[HOSTS_VARIABLE])
    port = int(host.address.rsplit(":", 1)[1])
    socket.getaddrinfo(f"COGNITO-IDP.{REGION}.amazonaws.com", 443)
    socket.getaddrinfo(f"cognito-idp.{REGION}.amazonaws.com", 80)
    socket.getaddrinfo("cognito-idp.us-east-1.amazonaws.com", 443)
    assert asked == [
        ("127.0.0.1", port),
        (f"cognito-idp.{REGION}.amazonaws.com", 80),
        ("cognito-idp.us-east-1.amazonaws.com", 443),
    ]


def test_another_authority_is_not_trusted_for_the_name(routed: PublicHost) -> None:
    """The certificate is checked as usual: a client that trusts only the usual authorities refuses it."""
    with pytest.raises(urllib.error.URLError) as error:
        urllib.request.urlopen(
            f"https://cognito-idp.{REGION}.amazonaws.com/{POOL}/.well-known/jwks.json",
            context=ssl.create_default_context(),
            timeout=5,
        )
    assert isinstance(error.value.reason, ssl.SSLCertVerificationError)
