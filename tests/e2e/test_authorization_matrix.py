"""Every route of the template against every kind of token, on both APIs (docs/aws-behaviour.md §1-2
for the REST API, §9.1-9.2 for the HTTP API).

The expectation is derived, not written down: a route takes an access token holding any one of its
scopes (an ID token when it has none); everything else is refused, with the answer of the API's
authorizer (`ApiKind`: 401 on REST; 403 for a valid token without the scope on the HTTP API, whose
unscoped route lets an access token through to the function's own check). People, one per group,
route by route with their access and ID tokens from the sign-in API; and a client of the pool
outside the JWT authorizer's audience (401 on the HTTP API whatever its scopes).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from cryptography.hazmat.primitives.asymmetric import rsa

from sam_local_cloud.cloudformation.spec import Route
from sam_local_cloud.cognito.tokens import client_credentials_claims
from tests.e2e.sign_in import SIGN_IN_API_SCOPE, SignedIn, claims, sign_in
from tests.e2e.support import (
    API_KINDS,
    DEPLOYED,
    UNAUTHORIZED,
    Answer,
    Api,
    ApiKind,
    Client,
    Person,
    Stack,
    answer_of,
    concrete_path,
    id_token_claims,
    template_clients,
    template_routes,
)
from tests.harness import widest_client

ROUTES = template_routes()
NO_HEADER = "no Authorization header"
CLIENTS = template_clients()
OTHER_KEY = rsa.generate_private_key(65537, 2048)


@dataclass(frozen=True)
class Caller:
    """A kind of credential, and the scopes (or token use) it would prove if the gateway accepted it."""

    name: str
    get_header: Callable[[Stack, Callable[..., str]], str | None]
    scopes: frozenset[str] = frozenset()
    token_use: str | None = None  # None: not a token of this pool at all
    expired: bool = False
    local_only: bool = False


def _forged(stack: Stack, *, issuer: str, kid: str) -> str:
    """An access token with every scope, signed by a key that is not the pool's."""
    now = int(time.time())
    scopes = sorted({s for c in stack.clients.values() for s in c.scopes})
    claims = {
        "sub": "forged",
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        "iss": issuer,
        "exp": now + 3600,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": "forged",
    }
    return "Bearer " + jwt.encode(claims, OTHER_KEY, algorithm="RS256", headers={"kid": kid})


def _pool_kid(stack: Stack) -> str:
    return requests.get(stack.jwks_url, timeout=10).json()["keys"][0]["kid"]


def _callers() -> list[Caller]:
    from sam_local_cloud.cloudformation.spec import read_spec
    from sam_local_cloud.cloudformation.template import translate

    clients = read_spec(translate()).clients
    callers = [
        Caller(NO_HEADER, lambda s, t: None),
        Caller("garbage", lambda s, t: "Bearer not-a-jwt"),
        Caller(
            "another pool's token",
            lambda s, t: _forged(
                s, issuer="https://cognito-idp.us-east-1.amazonaws.com/us-east-1_AnotherPool", kid="another"
            ),
        ),
        Caller(
            "the pool's kid with a bad signature", lambda s, t: _forged(s, issuer=s.issuer, kid=_pool_kid(s))
        ),
    ]
    admin = widest_client(clients)
    admin_scopes = frozenset(clients[admin]["AllowedOAuthScopes"])
    callers += [
        Caller(
            f"expired {admin} token",
            lambda s, t: (
                "Bearer "
                + s.sign(
                    client_credentials_claims(s.clients[admin].client_id, admin_scopes, s.issuer, lifetime=-5)
                )
            ),
            scopes=admin_scopes,
            token_use="access",
            expired=True,
            local_only=True,
        ),
        Caller(
            f"ID token of {admin}",
            lambda s, t: "Bearer " + s.sign(id_token_claims(s.issuer, s.clients[admin].client_id)),
            token_use="id",
            local_only=True,
        ),
    ]
    for client in CLIENTS:
        allowed = clients[client]["AllowedOAuthScopes"]
        callers.append(
            Caller(
                f"{client} token",
                lambda s, t, c=client: f"Bearer {t(c)}",
                frozenset(allowed),
                token_use="access",
            )
        )
        callers += [
            Caller(
                f"{client} token narrowed to {scope}",
                lambda s, t, c=client, sc=scope: f"Bearer {t(c, scope=sc)}",
                frozenset([scope]),
                token_use="access",
            )
            for scope in allowed
        ]
    return callers


ALLOWED = None  # the function answers for itself


def expected_outcome(route: Route, caller: Caller, kind: ApiKind) -> Answer | None:
    """ALLOWED, or the answer refusing the caller, by the rules of the API's authorizer."""
    if caller.token_use is None:
        return UNAUTHORIZED
    if caller.expired:
        return kind.expired
    if route.scopes:
        holds_a_scope = caller.token_use == "access" and caller.scopes & set(route.scopes)
        return ALLOWED if holds_a_scope else kind.missing_scope
    return ALLOWED if caller.token_use == "id" else kind.access_token_on_unscoped_route


def _request(api: Api, route: Route, authorization: str | None) -> requests.Response:
    body: dict[str, Any] | None = {} if route.method in ("POST", "PUT", "PATCH") else None
    # An empty JSON body never creates anything: an authorized POST/PUT gets the handler's 4xx.
    return api.call(route.method, concrete_path(route.resource), authorization=authorization, json=body)


CALLERS = _callers()


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
@pytest.mark.parametrize("rest_route", ROUTES, ids=[f"{r.method} {r.resource}" for r in ROUTES])
def test_gateway_admits_exactly_the_tokens_holding_one_of_the_route_scopes(
    rest_route: Route, caller: Caller, api: Api, stack: Stack, token_for: Callable[..., str]
) -> None:
    if caller.local_only and DEPLOYED:
        pytest.skip("needs a pool-signed expired or ID token: the local cloud's signing key")
    route = api.route(rest_route.method, rest_route.resource)
    response = _request(api, route, caller.get_header(stack, token_for))

    outcome = expected_outcome(route, caller, api.kind)
    if outcome is ALLOWED:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
        return
    assert answer_of(response) == outcome
    if outcome.status == 401 and api.kind.bearer_challenge:
        challenge = response.headers["www-authenticate"]
        if caller.name == NO_HEADER:
            assert challenge == "Bearer"
        else:
            assert 'error="invalid_token"' in challenge, challenge


def test_the_matrix_covers_every_route_and_allows_and_refuses_something() -> None:
    for kind in API_KINDS:
        outcomes = {expected_outcome(r, c, kind) for r in ROUTES for c in CALLERS}
        assert {ALLOWED, UNAUTHORIZED, kind.expired, kind.missing_scope} <= outcomes, kind.name
        assert kind.access_token_on_unscoped_route in outcomes, kind.name
    assert len({API_KINDS[0].missing_scope, API_KINDS[1].missing_scope}) == 2  # the APIs do differ
    assert len(ROUTES) >= 5


# ---------------------------------------------------------------- people, route by route


def _template_groups() -> list[str]:
    from events.generate import group_scopes
    from sam_local_cloud.cloudformation.template import translate

    return sorted(group_scopes(translate()))


GROUPS = _template_groups()


@pytest.fixture(scope="module")
def signed_in(stack: Stack, people: dict[tuple[str, ...], Person]) -> Callable[[str], SignedIn]:
    """The tokens of the person in one group, from the sign-in API (boto3 initiate_auth), once each."""
    tokens: dict[str, SignedIn] = {}

    def of(group: str) -> SignedIn:
        if group not in tokens:
            tokens[group] = sign_in(stack, people[(group,)])
        return tokens[group]

    return of


@pytest.mark.usefixtures("password_sign_in")
@pytest.mark.parametrize("token_use", ["access", "id"])
@pytest.mark.parametrize("group", GROUPS)
@pytest.mark.parametrize("rest_route", ROUTES, ids=[f"{r.method} {r.resource}" for r in ROUTES])
def test_a_person_in_each_group_gets_what_the_groups_scopes_allow_route_by_route(
    rest_route: Route,
    group: str,
    token_use: str,
    api: Api,
    signed_in: Callable[[str], SignedIn],
    template_groups: dict[str, frozenset[str]],
) -> None:
    tokens = signed_in(group)
    token = tokens.access_token if token_use == "access" else tokens.id_token
    route = api.route(rest_route.method, rest_route.resource)
    # What the template grants the group (the sign-in API adds its own scope), not what the token says.
    granted = template_groups[group] | {SIGN_IN_API_SCOPE} if token_use == "access" else frozenset()
    person = Caller(f"{group} {token_use} token", lambda s, t: token, granted, token_use=token_use)

    response = _request(api, route, f"Bearer {token}")

    outcome = expected_outcome(route, person, api.kind)
    if outcome is ALLOWED:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    else:
        assert answer_of(response) == outcome


# ---------------------------------------------------------------- the audience


@pytest.fixture
def outsider(stack: Stack) -> Iterator[Client]:
    """A machine client made in the pool at run time, allowed every product scope, but not one of the
    clients the HTTP API's JWT authorizer names as its audience; deleted after the test."""
    cognito = stack.cognito()
    scopes = sorted({s for c in stack.clients.values() for s in c.scopes})
    made = cognito.create_user_pool_client(
        UserPoolId=stack.user_pool_id,
        ClientName=f"e2e-outside-the-audience-{uuid.uuid4().hex[:8]}",
        GenerateSecret=True,
        AllowedOAuthFlowsUserPoolClient=True,
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=scopes,
    )["UserPoolClient"]
    try:
        yield Client("outsider", made["ClientId"], made["ClientSecret"], tuple(scopes))
    finally:
        cognito.delete_user_pool_client(UserPoolId=stack.user_pool_id, ClientId=made["ClientId"])


def test_a_client_outside_the_audience_gets_401_on_every_route_of_the_http_api_only(
    api: Api, stack: Stack, outsider: Client
) -> None:
    with OAuth2Session(outsider.client_id, outsider.secret) as session:
        token = session.fetch_token(stack.token_url, grant_type="client_credentials")["access_token"]
    # Every product scope: a refusal cannot be for a missing one.
    assert set(claims(token)["scope"].split()) == set(outsider.scopes)
    caller = Caller("outsider", lambda s, t: token, frozenset(outsider.scopes), token_use="access")

    for rest_route in ROUTES:
        route = api.route(rest_route.method, rest_route.resource)
        response = _request(api, route, f"Bearer {token}")

        if not api.kind.checks_audience:  # any client of the pool, as the audience's own
            outcome = expected_outcome(route, caller, api.kind)
            if outcome is ALLOWED:
                assert response.status_code not in (401, 403), response.text
            else:
                assert answer_of(response) == outcome, route.key
            continue
        assert answer_of(response) == UNAUTHORIZED, route.key
        assert response.headers["www-authenticate"] == (
            'Bearer scope="" error="invalid_token" '
            'error_description="the token does not have a valid audience"'
        )
