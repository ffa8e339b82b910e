"""The token endpoint answers as Cognito's /oauth2/token does (docs/aws-behaviour.md §4)."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable

import jwt
import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import DEPLOYED, Stack
from tests.harness import narrowest_client, widest_client


def _post(
    stack: Stack, data: dict[str, str], client: str | None = None, basic: bool = True
) -> requests.Response:
    headers = {}
    if client and basic:
        c = stack.clients[client]
        credentials = base64.b64encode(f"{c.client_id}:{c.secret}".encode()).decode()
        headers["Authorization"] = f"Basic {credentials}"
    return requests.post(stack.token_url, data=data, headers=headers, timeout=10)


def test_access_token_has_cognitos_claims_and_expiry(stack: Stack, token_for: Callable[..., str]) -> None:
    client = stack.clients[narrowest_client(stack.clients)]
    token = token_for(client.logical_id)
    header = jwt.get_unverified_header(token)
    key = jwt.PyJWKClient(stack.jwks_url).get_signing_key(header["kid"])
    claims = jwt.decode(token, key, algorithms=["RS256"], issuer=stack.issuer)

    assert header["alg"] == "RS256"
    assert claims["sub"] == claims["client_id"] == client.client_id
    assert claims["token_use"] == "access"
    assert claims["version"] == 2
    assert set(claims["scope"].split()) == set(client.scopes)
    assert {"auth_time", "exp", "iat", "jti"} <= claims.keys()
    assert "aud" not in claims
    assert 0 < claims["exp"] - time.time() <= 3600 * 24


def test_client_secret_in_the_body_works_like_http_basic(stack: Stack) -> None:
    c = stack.clients[narrowest_client(stack.clients)]
    data = {"grant_type": "client_credentials", "client_id": c.client_id, "client_secret": c.secret}
    response = _post(stack, data)
    assert response.status_code == 200, response.text
    assert response.json()["token_type"] == "Bearer"


def test_scope_narrows_the_token(stack: Stack) -> None:
    client = stack.clients[widest_client(stack.clients)]
    with OAuth2Session(client.client_id, client.secret, scope=client.scopes[0]) as session:
        token = session.fetch_token(stack.token_url, grant_type="client_credentials")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["scope"] == client.scopes[0]


def test_a_scope_the_client_is_not_allowed_is_invalid_scope(stack: Stack) -> None:
    reader = stack.clients[narrowest_client(stack.clients)]
    other = next(s for c in stack.clients.values() for s in c.scopes if s not in reader.scopes)
    with (
        OAuth2Session(reader.client_id, reader.secret, scope=other) as session,
        pytest.raises(OAuthError) as error,
    ):
        session.fetch_token(stack.token_url, grant_type="client_credentials")
    assert error.value.error == "invalid_scope"


@pytest.mark.parametrize(
    ("data", "with_client", "error"),
    [
        ({"grant_type": "client_credentials"}, False, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": "nope", "client_secret": "x"},
            False,
            "invalid_client",
        ),
        ({}, True, "invalid_request"),
        ({"grant_type": "password", "username": "a", "password": "b"}, True, "unsupported_grant_type"),
        ({"grant_type": "client_credentials", "scope": "product-api/no_such_scope"}, True, "invalid_scope"),
        ({"grant_type": "authorization_code", "code": "abc"}, True, "unauthorized_client"),
    ],
    ids=["no client", "unknown client", "no grant_type", "password grant", "unknown scope", "code grant"],
)
def test_token_errors_are_400_json(stack: Stack, data: dict[str, str], with_client: bool, error: str) -> None:
    response = _post(stack, data, client=narrowest_client(stack.clients) if with_client else None)
    assert response.status_code == 400
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"] == error


def test_wrong_secret_is_invalid_client(stack: Stack) -> None:
    c = stack.clients[narrowest_client(stack.clients)]
    with OAuth2Session(c.client_id, "wrong-secret") as session, pytest.raises(OAuthError) as error:
        session.fetch_token(stack.token_url, grant_type="client_credentials")
    assert error.value.error == "invalid_client"


@pytest.mark.skipif(DEPLOYED, reason="creates a client through the local AWS endpoint")
def test_a_client_created_later_through_the_aws_api_gets_tokens(stack: Stack) -> None:
    assert stack.aws_endpoint_url is not None
    cognito = stack.cognito()
    scope = next(iter(stack.clients.values())).scopes[0]
    client = cognito.create_user_pool_client(
        UserPoolId=stack.issuer.rsplit("/", 1)[1],
        ClientName="e2e-late-client",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=[scope],
    )["UserPoolClient"]
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as session:
        token = session.fetch_token(stack.token_url, grant_type="client_credentials")
    assert jwt.decode(token["access_token"], options={"verify_signature": False})["scope"] == scope
