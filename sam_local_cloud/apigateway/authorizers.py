"""API Gateway's authorizers: the seam every kind implements, and the COGNITO_USER_POOLS authorizer.

The gateway asks a route's authorizer about a request (`Authorizer.check`) and gets back one shape,
whichever kind ran (`Authorization`: the claims of a token, or a principal and a context as a Lambda
authorizer returns them), or a refusal (`Denied` and its kinds). A JWT authorizer (HTTP APIs,
jwt_authorizer.py) and Lambda authorizers (lambda_authorizer.py) are further implementations of the
same seam. What a Lambda authorizer needs beyond the request (the matched path and its parameters) the
gateway leaves on the request (`remember_match`).

The Cognito user pool authorizer (docs/aws-behaviour.md §1-2): a method with scopes takes an access
token holding any one of them; a method without scopes takes an ID token. Everything else is 401
`Unauthorized`, except an expired token, which says so. Keys come from the pool's JWKS, parsed once
and cached by `kid`, as API Gateway caches them.

A token that passed verification is remembered with its claims, so the next request with it skips
the RS256 check and the parsing (0.1 ms of CPU, against 1 µs). Nothing else is skipped: the expiry is
checked at every request, as PyJWT checks it, and the scopes against each route. Only `exp` can turn
a verified token's answer over time (its `iat` and `nbf` were in the past when it was verified), so
every answer is the one a fresh verification would give.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import jwt
from werkzeug.wrappers import Request

from sam_local_cloud.cloudformation.spec import Route

_REMEMBERED_TOKENS = 4096  # any client can make up more: beyond this, the oldest is forgotten


class Denied(Exception):
    """API Gateway answers 401 Unauthorized."""


class Expired(Denied):
    """API Gateway answers 401 "The incoming token has expired"."""


@dataclass(frozen=True)
class Authorization:
    """What an authorizer lets through, in one shape for every kind (the event's `authorizer`)."""

    claims: dict[str, Any] | None = None  # a verified token's claims (Cognito, JWT)
    principal_id: str | None = None  # a Lambda authorizer's principalId
    context: dict[str, Any] | None = None  # a Lambda authorizer's context (None: it ran none)
    usage_identifier_key: str | None = None  # the API key a Lambda authorizer names (key source AUTHORIZER)
    latency_ms: int = 0  # how long the Lambda authorizer ran for this request (0: a cached answer)


@dataclass(frozen=True)
class Matched:
    """What the gateway knows of a request once its route matched, for authorizers that need more than
    the request (a Lambda authorizer's event and method ARN)."""

    path: str  # in the stage: as sent on a REST API, decoded on an HTTP API
    path_parameters: dict[str, str]
    request_id: str


_MATCHED = "sam_local_cloud.apigateway.matched"


def remember_match(request: Request, matched: Matched) -> None:
    request.environ[_MATCHED] = matched


def matched_of(request: Request) -> Matched:
    matched = request.environ.get(_MATCHED)
    if not isinstance(matched, Matched):
        raise LookupError("the gateway did not remember the route it matched")
    return matched


class Authorizer(Protocol):
    def check(self, request: Request, route: Route) -> Authorization:
        """The request's authorization for the route, or Denied (Expired) with API Gateway's answer."""
        ...


class CognitoAuthorizer:
    """COGNITO_USER_POOLS: the pool's tokens, from one header, with the route's scopes."""

    def __init__(self, *, issuer: str, jwks: Mapping[str, Any], header: str = "Authorization"):
        self.issuer = issuer
        self.header = header
        self._keys = {k["kid"]: jwt.PyJWK(k, algorithm="RS256") for k in jwks["keys"]}
        self._verified: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def check(self, request: Request, route: Route) -> Authorization:
        return Authorization(claims=self.authorize(request.headers.get(self.header), route.scopes))

    def authorize(self, header_value: str | None, scopes: Sequence[str]) -> dict[str, Any]:
        """The verified token's claims, or Denied with the message API Gateway would send."""
        token = _token_from(header_value)
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            with self._lock:
                if len(self._verified) >= _REMEMBERED_TOKENS:
                    del self._verified[next(iter(self._verified))]
                self._verified[token] = claims
        elif int(claims["exp"]) <= time.time():  # PyJWT's test, without leeway
            with self._lock:
                self._verified.pop(token, None)
            raise Expired
        kind = claims["token_use"]
        if scopes:
            granted = set(str(claims.get("scope", "")).split())
            if kind != "access" or granted.isdisjoint(scopes):
                raise Denied
        elif kind != "id":
            raise Denied
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        try:
            key = self._keys.get(jwt.get_unverified_header(token).get("kid"))
            if key is None:
                raise Denied
            claims = jwt.decode(
                token,
                key,
                algorithms=["RS256"],
                issuer=self.issuer,
                options={"require": ["exp", "iss", "token_use"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Expired from None
        except jwt.PyJWTError:
            raise Denied from None
        return claims


def _token_from(header_value: str | None) -> str:
    if not header_value or not header_value.strip():
        raise Denied
    scheme, _, rest = header_value.strip().partition(" ")
    # Both the raw JWT and "Bearer <jwt>" are accepted, "Bearer" in any case (docs/aws-behaviour.md §1).
    return rest.strip() if scheme.lower() == "bearer" and rest else header_value.strip()
