"""API Gateway behaviour around the functions: CORS, undefined routes, the Authorization header, events.

The REST API's own answers (gateway responses, its 403s for an undefined route) are tested on it
alone; undefined routes and request ids on both APIs, with the differences `api.kind` names."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable

import pytest

from tests.e2e.support import API_KINDS, Api, Stack
from tests.harness import narrowest_client


@pytest.fixture
def reader_token(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(narrowest_client(stack.clients))


def test_401_carries_the_gateway_responses_cors_headers(rest_api: Api) -> None:
    response = rest_api.call("GET", "/products", headers={"Origin": "https://example.com"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_cors_preflight_needs_no_token(rest_api: Api) -> None:
    response = rest_api.call(
        "OPTIONS",
        "/products",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "600"


UNDEFINED_ROUTES = [("GET", "/no-such-route"), ("PATCH", "/products"), ("GET", "/")]


@pytest.mark.parametrize("with_token", [False, True], ids=["no token", "a token"])
@pytest.mark.parametrize(("method", "path"), UNDEFINED_ROUTES)
def test_undefined_route_or_method_is_refused_before_any_authorizer(
    api: Api, reader_token: str, method: str, path: str, with_token: bool
) -> None:
    response = api.call(method, path, token=reader_token if with_token else None)
    assert response.status_code == api.kind.unknown_route_status, response.text
    if api.kind.unknown_route_status == 404:
        assert response.json() == {"message": "Not Found"}


@pytest.mark.parametrize("path", ["/products", "/no-such-route"], ids=["a route", "no route"])
def test_every_answer_carries_the_apis_request_id_header_and_not_the_other_apis(api: Api, path: str) -> None:
    response = api.call("GET", path)
    assert response.headers[api.kind.request_id_header]
    others = {kind.request_id_header.lower() for kind in API_KINDS} - {api.kind.request_id_header.lower()}
    assert not others & {name.lower() for name in response.headers}, dict(response.headers)


@pytest.mark.parametrize(("method", "path"), UNDEFINED_ROUTES)
def test_undefined_route_or_method_without_authorization_is_403_missing_authentication_token(
    rest_api: Api, method: str, path: str
) -> None:
    response = rest_api.call(method, path)
    assert (response.status_code, response.json()) == (403, {"message": "Missing Authentication Token"})
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(("method", "path"), UNDEFINED_ROUTES)
def test_undefined_route_or_method_with_a_bearer_token_is_403_incomplete_signature(
    rest_api: Api, reader_token: str, method: str, path: str
) -> None:
    response = rest_api.call(method, path, token=reader_token)
    # API Gateway reads the header as a SigV4 signature and names it by its SHA-256, base64-encoded.
    digest = base64.b64encode(hashlib.sha256(f"Bearer {reader_token}".encode()).digest()).decode()
    assert response.status_code == 403
    assert response.json() == {
        "message": "Invalid key=value pair (missing equal-sign) in Authorization header "
        f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
    }
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


@pytest.mark.parametrize(
    "scheme", ["Bearer ", "bearer ", "BEARER ", ""], ids=["Bearer", "bearer", "BEARER", "raw"]
)
def test_authorization_header_takes_a_raw_jwt_or_bearer_in_any_case(
    rest_api: Api, reader_token: str, scheme: str
) -> None:
    response = rest_api.call("GET", "/products", authorization=f"{scheme}{reader_token}")
    assert response.status_code == 200, response.text
