"""Every route of the template against every kind of token (docs/aws-behaviour.md §1-2).

The expectation is derived, not written down: a route takes an access token holding any one of its
scopes (an ID token when it has none); everything else is 401 with API Gateway's message.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from local.cloudformation.spec import Route
from local.cognito.tokens import client_credentials_claims
from tests.e2e.support import (
    DEPLOYED,
    Api,
    Stack,
    concrete_path,
    id_token_claims,
    template_clients,
    template_routes,
)
from tests.harness import widest_client

ROUTES = template_routes()
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
    from local.cloudformation.spec import read_spec
    from local.cloudformation.template import translate

    clients = read_spec(translate()).clients
    callers = [
        Caller("no Authorization header", lambda s, t: None),
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


def expected_outcome(route: Route, caller: Caller) -> str:
    """'allowed', 'expired' or 'unauthorized', by the rules of the COGNITO_USER_POOLS authorizer."""
    if caller.token_use is None:
        return "unauthorized"
    if caller.expired:
        return "expired"
    if route.scopes:
        return (
            "allowed"
            if caller.token_use == "access" and caller.scopes & set(route.scopes)
            else "unauthorized"
        )
    return "allowed" if caller.token_use == "id" else "unauthorized"


def _request(api: Api, route: Route, authorization: str | None) -> requests.Response:
    body: dict[str, Any] | None = {} if route.method in ("POST", "PUT", "PATCH") else None
    # An empty JSON body never creates anything: an authorized POST/PUT gets the handler's 4xx.
    return api.call(route.method, concrete_path(route.resource), authorization=authorization, json=body)


CALLERS = _callers()


@pytest.mark.parametrize("caller", CALLERS, ids=[c.name for c in CALLERS])
@pytest.mark.parametrize("route", ROUTES, ids=[f"{r.method} {r.resource}" for r in ROUTES])
def test_gateway_admits_exactly_the_tokens_holding_one_of_the_route_scopes(
    route: Route, caller: Caller, api: Api, stack: Stack, token_for: Callable[..., str]
) -> None:
    if caller.local_only and DEPLOYED:
        pytest.skip("needs a pool-signed expired or ID token: the local cloud's signing key")
    response = _request(api, route, caller.get_header(stack, token_for))

    outcome = expected_outcome(route, caller)
    if outcome == "allowed":
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text
    elif outcome == "expired":
        assert (response.status_code, response.json()) == (401, {"message": "The incoming token has expired"})
    else:
        assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})


def test_the_matrix_covers_every_route_and_allows_and_refuses_something() -> None:
    outcomes = {expected_outcome(r, c) for r in ROUTES for c in CALLERS}
    assert {"allowed", "unauthorized", "expired"} <= outcomes
    assert len(ROUTES) >= 5
