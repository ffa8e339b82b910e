"""Cognito's newer app-client operations, through boto3's cognito-idp client (docs/aws-behaviour.md §4.2):
machine tokens from GetClientToken, two secrets per client for rotation, and refresh with rotation
(GetTokensFromRefreshToken and the template's RotateRefreshTokens). Each token they give is then taken
to the REST and HTTP APIs, which must accept it exactly for the scopes it carries.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests

from tests.e2e.sign_in import claims, scopes, sign_in
from tests.e2e.support import (
    API_KINDS,
    DEPLOYED,
    LOCAL_ONLY,
    Api,
    Client,
    Person,
    Stack,
    answer_of,
    concrete_path,
    local_stack,
    template_routes,
)
from tests.e2e.test_authorization_matrix import ALLOWED, Caller, expected_outcome
from tests.harness import narrowest_client, start_local_cloud

ROUTES = template_routes()
CLIENT_TOKEN_FLOW = "ALLOW_CLIENT_TOKEN_AUTH"


def _check_routes(api: Api, token: str) -> None:
    """Every route, with this access token: allowed exactly where it holds one of the route's scopes."""
    caller = Caller("token", lambda s, t: token, frozenset(scopes(token)), token_use="access")
    allowed = 0
    for rest_route in ROUTES:
        route = api.route(rest_route.method, rest_route.resource)
        body: dict[str, Any] | None = {} if route.method in ("POST", "PUT", "PATCH") else None
        response = api.call(route.method, concrete_path(route.resource), token=token, json=body)
        outcome = expected_outcome(route, caller, api.kind)
        if outcome is ALLOWED:
            allowed += 1
            assert response.status_code not in (401, 403), (route, response.text)
            assert response.status_code < 500, (route, response.text)
        else:
            assert answer_of(response) == outcome, route
    assert 0 < allowed < len(ROUTES), "the token should open some routes and not others"


def _error(call: Callable[[], Any]) -> str:
    """The Cognito error code a call is refused with."""
    with pytest.raises(Exception) as refused:  # noqa: PT011 - botocore's ClientError, checked by code
        call()
    return str(refused.value.response["Error"]["Code"])  # type: ignore[attr-defined]


def _oauth_token(stack: Stack, client_id: str, secret: str) -> requests.Response:
    return requests.post(
        stack.token_url, data={"grant_type": "client_credentials"}, auth=(client_id, secret), timeout=30
    )


# ---------------------------------------------------------------- machine tokens without a domain


@pytest.fixture
def token_client(stack: Stack) -> Iterator[Client]:
    """The template's narrowest machine client (in the HTTP API's audience) with ALLOW_CLIENT_TOKEN_AUTH,
    its only auth flow, for the test. The template cannot declare that flow yet (docs/decisions.md), so
    the test sets it on the local cloud's client, and puts the client's flows back after."""
    client = stack.clients[narrowest_client(stack.clients)]
    cognito = stack.cognito()
    before = cognito.describe_user_pool_client(UserPoolId=stack.user_pool_id, ClientId=client.client_id)
    flows = before["UserPoolClient"].get("ExplicitAuthFlows", [])
    cognito.update_user_pool_client(
        UserPoolId=stack.user_pool_id, ClientId=client.client_id, ExplicitAuthFlows=[CLIENT_TOKEN_FLOW]
    )
    try:
        yield client
    finally:
        cognito.update_user_pool_client(
            UserPoolId=stack.user_pool_id, ClientId=client.client_id, ExplicitAuthFlows=flows
        )


@LOCAL_ONLY
def test_get_client_token_gives_the_token_endpoints_client_credentials_token(
    stack: Stack, token_client: Client, token_for: Callable[..., str]
) -> None:
    result = stack.cognito().get_client_token(ClientId=token_client.client_id, Secret=token_client.secret)
    answer = result["ClientAuthenticationResult"]
    from_api, from_endpoint = answer["AccessToken"], token_for(token_client.logical_id)

    assert answer["TokenType"] == "Bearer"
    assert jwt.get_unverified_header(from_api) == jwt.get_unverified_header(from_endpoint)  # same key
    api_claims, endpoint_claims = claims(from_api), claims(from_endpoint)
    assert api_claims.keys() == endpoint_claims.keys()
    unique = {"jti", "iat", "exp", "auth_time"}
    assert {k: v for k, v in api_claims.items() if k not in unique} == {
        k: v for k, v in endpoint_claims.items() if k not in unique
    }
    assert api_claims["exp"] - api_claims["iat"] == answer["ExpiresIn"]
    assert set(api_claims["scope"].split()) == set(token_client.scopes)


@LOCAL_ONLY
def test_a_token_from_get_client_token_opens_exactly_the_routes_of_its_scopes(
    api: Api, stack: Stack, token_client: Client
) -> None:
    token = stack.cognito().get_client_token(ClientId=token_client.client_id, Secret=token_client.secret)
    _check_routes(api, token["ClientAuthenticationResult"]["AccessToken"])


@LOCAL_ONLY
def test_get_client_token_scopes_narrow_the_token_and_a_scope_not_allowed_is_refused(
    stack: Stack, token_client: Client
) -> None:
    cognito = stack.cognito()
    every = {s for c in stack.clients.values() for s in c.scopes}
    one = sorted(token_client.scopes)[0]

    token = cognito.get_client_token(
        ClientId=token_client.client_id, Secret=token_client.secret, Scopes=[one]
    )

    assert scopes(token["ClientAuthenticationResult"]["AccessToken"]) == {one}
    not_allowed = sorted(every - set(token_client.scopes))[0]
    assert (
        _error(
            lambda: cognito.get_client_token(
                ClientId=token_client.client_id, Secret=token_client.secret, Scopes=[not_allowed]
            )
        )
        == "InvalidParameterException"
    )


@LOCAL_ONLY
def test_get_client_token_needs_the_flow_the_secret_and_a_client(stack: Stack, token_client: Client) -> None:
    cognito = stack.cognito()
    others = [c for c in stack.clients.values() if c.client_id != token_client.client_id]

    without_flow = _error(
        lambda: cognito.get_client_token(ClientId=others[0].client_id, Secret=others[0].secret)
    )
    wrong_secret = _error(lambda: cognito.get_client_token(ClientId=token_client.client_id, Secret="x" * 51))
    no_client = _error(lambda: cognito.get_client_token(ClientId="a" * 26, Secret="x" * 51))

    assert (without_flow, wrong_secret, no_client) == (
        "InvalidParameterException",
        "NotAuthorizedException",
        "ResourceNotFoundException",
    )


# ---------------------------------------------------------------- two secrets, for rotation


@pytest.fixture
def secret_client(stack: Stack) -> Iterator[Client]:
    """A machine client made in the pool at run time (client_credentials and ALLOW_CLIENT_TOKEN_AUTH), with
    the narrowest template client's scopes; deleted after the test."""
    cognito = stack.cognito()
    allowed = stack.clients[narrowest_client(stack.clients)].scopes
    made = cognito.create_user_pool_client(
        UserPoolId=stack.user_pool_id,
        ClientName=f"e2e-rotation-{uuid.uuid4().hex[:8]}",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=list(allowed),
        ExplicitAuthFlows=[CLIENT_TOKEN_FLOW],
    )["UserPoolClient"]
    try:
        yield Client("rotation", made["ClientId"], made["ClientSecret"], tuple(allowed))
    finally:
        cognito.delete_user_pool_client(UserPoolId=stack.user_pool_id, ClientId=made["ClientId"])


def test_a_client_holds_two_secrets_and_either_gets_tokens_from_both_endpoints(
    stack: Stack, secret_client: Client, rest_api: Api
) -> None:
    cognito = stack.cognito()
    ids = {"UserPoolId": stack.user_pool_id, "ClientId": secret_client.client_id}
    (first,) = cognito.list_user_pool_client_secrets(**ids)["ClientSecrets"]

    added = cognito.add_user_pool_client_secret(**ids)["ClientSecretDescriptor"]
    listed = cognito.list_user_pool_client_secrets(**ids)["ClientSecrets"]

    assert first["ClientSecretId"].startswith(f"{secret_client.client_id}--")
    assert "ClientSecretValue" not in first
    assert added["ClientSecretValue"] != secret_client.secret  # a made secret is shown once, when added
    assert [s["ClientSecretId"] for s in listed] == [first["ClientSecretId"], added["ClientSecretId"]]
    assert not [s for s in listed if "ClientSecretValue" in s]  # never listed
    for secret in (secret_client.secret, added["ClientSecretValue"]):
        from_endpoint = _oauth_token(stack, secret_client.client_id, secret)
        assert from_endpoint.status_code == 200, from_endpoint.text
        from_api = cognito.get_client_token(ClientId=secret_client.client_id, Secret=secret)
        for token in (
            from_endpoint.json()["access_token"],
            from_api["ClientAuthenticationResult"]["AccessToken"],
        ):
            assert scopes(token) == set(secret_client.scopes)
            _check_routes(rest_api, token)  # the REST API takes any client of the pool (§1)


def test_a_third_secret_is_refused_a_deleted_one_stops_and_the_last_cannot_go(
    stack: Stack, secret_client: Client
) -> None:
    cognito = stack.cognito()
    ids = {"UserPoolId": stack.user_pool_id, "ClientId": secret_client.client_id}
    (first,) = cognito.list_user_pool_client_secrets(**ids)["ClientSecrets"]
    chosen = "Chosen" + uuid.uuid4().hex  # a secret of the caller's own: accepted, and not echoed
    second = cognito.add_user_pool_client_secret(**ids, ClientSecret=chosen)["ClientSecretDescriptor"]

    third = _error(lambda: cognito.add_user_pool_client_secret(**ids))
    cognito.delete_user_pool_client_secret(**ids, ClientSecretId=first["ClientSecretId"])
    old_at_endpoint = _oauth_token(stack, secret_client.client_id, secret_client.secret)
    old_at_api = _error(
        lambda: cognito.get_client_token(ClientId=secret_client.client_id, Secret=secret_client.secret)
    )
    new_at_endpoint = _oauth_token(stack, secret_client.client_id, chosen)
    last = _error(
        lambda: cognito.delete_user_pool_client_secret(**ids, ClientSecretId=second["ClientSecretId"])
    )
    unknown = _error(
        lambda: cognito.delete_user_pool_client_secret(**ids, ClientSecretId=f"{secret_client.client_id}--1")
    )

    assert "ClientSecretValue" not in second
    assert third == "LimitExceededException"
    assert (old_at_endpoint.status_code, old_at_endpoint.json()) == (400, {"error": "invalid_client"})
    assert old_at_api == "NotAuthorizedException"
    assert new_at_endpoint.status_code == 200, new_at_endpoint.text
    assert (last, unknown) == ("InvalidParameterException", "ResourceNotFoundException")
    assert [s["ClientSecretId"] for s in cognito.list_user_pool_client_secrets(**ids)["ClientSecrets"]] == [
        second["ClientSecretId"]
    ]


# ---------------------------------------------------------------- refresh, with and without rotation


@pytest.fixture(scope="module")
def rotating(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A local cloud of the template with RotateRefreshTokens=true: its user client rotates."""
    if DEPLOYED:
        pytest.skip("starts a local cloud of its own, with RotateRefreshTokens=true")
    cloud = start_local_cloud(
        Path(tmp_path_factory.mktemp("rotating")), "--parameter-overrides", "RotateRefreshTokens=true"
    )
    try:
        yield local_stack(cloud)
    finally:
        cloud.stop()


def _person_with_scopes(stack: Stack) -> Person:
    """A sample person of one group: their tokens' scopes (from the trigger) open some routes, not all."""
    return next(p for p in stack.people if len(p.groups) == 1)


def test_with_rotation_a_refresh_returns_a_new_refresh_token_and_the_trigger_still_applies(
    rotating: Stack,
) -> None:
    cognito = rotating.cognito()
    person = _person_with_scopes(rotating)
    signed_in = sign_in(rotating, person)

    first = cognito.get_tokens_from_refresh_token(
        ClientId=rotating.user_client_id, RefreshToken=signed_in.refresh_token
    )["AuthenticationResult"]
    again = cognito.get_tokens_from_refresh_token(  # within the template's 10 s of grace: still good
        ClientId=rotating.user_client_id, RefreshToken=signed_in.refresh_token
    )["AuthenticationResult"]
    after = cognito.get_tokens_from_refresh_token(
        ClientId=rotating.user_client_id, RefreshToken=first["RefreshToken"]
    )["AuthenticationResult"]

    assert (
        len({signed_in.refresh_token, first["RefreshToken"], again["RefreshToken"], after["RefreshToken"]})
        == 4
    )
    assert {"AccessToken", "IdToken", "ExpiresIn", "TokenType"} <= first.keys()
    # The same sign-in: its origin and auth_time stay; its groups' scopes come from the trigger again.
    for key in ("origin_jti", "auth_time", "username"):
        assert claims(after["AccessToken"])[key] == claims(signed_in.access_token)[key]
    assert scopes(after["AccessToken"]) == scopes(signed_in.access_token)
    for kind in API_KINDS:
        _check_routes(Api(rotating, kind), after["AccessToken"])


def test_with_rotation_initiate_auth_refresh_is_refused(rotating: Stack) -> None:
    cognito = rotating.cognito()
    signed_in = sign_in(rotating, _person_with_scopes(rotating))

    refused = _error(
        lambda: cognito.initiate_auth(
            ClientId=rotating.user_client_id,
            AuthFlow="REFRESH_TOKEN_AUTH",
            AuthParameters={"REFRESH_TOKEN": signed_in.refresh_token},
        )
    )

    assert refused == "InvalidParameterException"


@LOCAL_ONLY
def test_a_rotated_out_refresh_token_is_refused_after_the_grace_period(stack: Stack) -> None:
    cognito = stack.cognito()
    made = cognito.create_user_pool_client(
        UserPoolId=stack.user_pool_id,
        ClientName=f"e2e-rotating-{uuid.uuid4().hex[:8]}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 1},
    )["UserPoolClient"]
    try:
        person = stack.people[0]
        result = cognito.initiate_auth(
            ClientId=made["ClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": person.username, "PASSWORD": person.password},
        )["AuthenticationResult"]
        refreshed = cognito.get_tokens_from_refresh_token(
            ClientId=made["ClientId"], RefreshToken=result["RefreshToken"]
        )["AuthenticationResult"]
        time.sleep(1.2)
        reused = _error(
            lambda: cognito.get_tokens_from_refresh_token(
                ClientId=made["ClientId"], RefreshToken=result["RefreshToken"]
            )
        )
        newest = cognito.get_tokens_from_refresh_token(
            ClientId=made["ClientId"], RefreshToken=refreshed["RefreshToken"]
        )["AuthenticationResult"]
    finally:
        cognito.delete_user_pool_client(UserPoolId=stack.user_pool_id, ClientId=made["ClientId"])

    assert reused == "RefreshTokenReuseException"
    assert newest["RefreshToken"] != refreshed["RefreshToken"]


def test_without_rotation_get_tokens_from_refresh_token_keeps_the_refresh_token(stack: Stack) -> None:
    if not stack.people:
        pytest.skip("needs the local cloud's sample people")
    person = _person_with_scopes(stack)
    signed_in = sign_in(stack, person)

    result = stack.cognito().get_tokens_from_refresh_token(
        ClientId=stack.user_client_id, RefreshToken=signed_in.refresh_token
    )["AuthenticationResult"]
    again = stack.cognito().get_tokens_from_refresh_token(
        ClientId=stack.user_client_id, RefreshToken=signed_in.refresh_token
    )["AuthenticationResult"]

    assert "RefreshToken" not in result
    assert scopes(result["AccessToken"]) == scopes(signed_in.access_token)
    assert claims(again["AccessToken"])["origin_jti"] == claims(signed_in.access_token)["origin_jti"]


# ---------------------------------------------------------------- the Python client


@LOCAL_ONLY
def test_the_python_client_gets_its_token_from_get_client_token_once(
    stack: Stack, token_client: Client
) -> None:
    from product_api_client import ProductApiClient, Settings

    settings = Settings(
        stack.api_url, stack.token_url, token_client.client_id, token_client.secret, stack.api_key
    )
    client = ProductApiClient(settings, token_api=stack.cognito())

    pages = [client.list_products(limit=1) for _ in range(3)]

    assert client.token_requests == 1
    assert all("items" in page for page in pages)
    assert scopes(client.session.token["access_token"]) == set(token_client.scopes)


def test_the_python_clients_rotation_helpers_swap_a_secret_without_downtime(
    stack: Stack, secret_client: Client
) -> None:
    from product_api_client import add_client_secret, delete_other_client_secrets

    cognito = stack.cognito()
    secret_id, value = add_client_secret(cognito, stack.user_pool_id, secret_client.client_id)
    both = [
        _oauth_token(stack, secret_client.client_id, s).status_code for s in (secret_client.secret, value)
    ]

    deleted = delete_other_client_secrets(
        cognito, stack.user_pool_id, secret_client.client_id, keep=secret_id
    )

    assert both == [200, 200]
    assert len(deleted) == 1
    assert secret_id not in deleted
    assert _oauth_token(stack, secret_client.client_id, secret_client.secret).status_code == 400
    assert _oauth_token(stack, secret_client.client_id, value).status_code == 200
