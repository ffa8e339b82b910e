"""API Gateway behaviour around the functions: CORS, undefined routes, the Authorization header, events."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from aws_lambda_powertools.utilities.parser.models import APIGatewayProxyEventModel

from tests.e2e.support import LOCAL_ONLY, Api, Stack, concrete_path, template_routes


@pytest.fixture
def reader_token(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(min(stack.clients, key=lambda c: len(stack.clients[c].scopes)))


def test_401_carries_the_gateway_responses_cors_headers(api: Api) -> None:
    response = api.call("GET", "/products", headers={"Origin": "https://example.com"})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "Authorization" in response.headers["Access-Control-Allow-Headers"]


def test_cors_preflight_needs_no_token(api: Api) -> None:
    response = api.call(
        "OPTIONS",
        "/products",
        headers={"Origin": "https://example.com", "Access-Control-Request-Method": "POST"},
    )
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in response.headers["Access-Control-Allow-Methods"]
    assert response.headers["Access-Control-Max-Age"] == "600"


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/no-such-route"), ("PATCH", "/products"), ("GET", "/")]
)
def test_undefined_route_or_method_is_403_missing_authentication_token(
    api: Api, reader_token: str, method: str, path: str
) -> None:
    response = api.call(method, path, token=reader_token)
    assert (response.status_code, response.json()) == (403, {"message": "Missing Authentication Token"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


@pytest.mark.parametrize(
    "scheme", ["Bearer ", "bearer ", "BEARER ", ""], ids=["Bearer", "bearer", "BEARER", "raw"]
)
def test_authorization_header_takes_a_raw_jwt_or_bearer_in_any_case(
    api: Api, reader_token: str, scheme: str
) -> None:
    response = api.call("GET", "/products", authorization=f"{scheme}{reader_token}")
    assert response.status_code == 200, response.text


@LOCAL_ONLY
def test_every_event_the_gateway_sends_is_a_valid_powertools_proxy_event(
    api: Api, stack: Stack, token_for: Callable[..., str]
) -> None:
    admin = token_for(max(stack.clients, key=lambda c: len(stack.clients[c].scopes)))
    routes = template_routes()
    for route in routes:
        api.call(
            route.method,
            concrete_path(route.resource),
            token=admin,
            params=[("q", "a"), ("q", "b")],
            headers={"X-Custom": "yes"},
            json={} if route.method in ("POST", "PUT") else None,
        )
    assert stack.hooks_dir is not None
    events = [json.loads(line) for line in (stack.hooks_dir / "events.jsonl").read_text().splitlines()]
    assert {(e["httpMethod"], e["resource"]) for e in events} >= {(r.method, r.resource) for r in routes}
    for event in events:
        parsed = APIGatewayProxyEventModel.model_validate(event)
        claims = event["requestContext"]["authorizer"]["claims"]
        assert all(isinstance(v, str) for v in claims.values()), claims
        assert parsed.requestContext.stage == stack.api_url.rsplit("/", 1)[1]
    with_query = [e for e in events if e["multiValueQueryStringParameters"]]
    assert any(e["multiValueQueryStringParameters"].get("q") == ["a", "b"] for e in with_query)
