"""API Gateway's COGNITO_USER_POOLS authorizer (docs/aws-behaviour.md §1-2).

A method with scopes takes an access token holding any one of them; a method without scopes takes
an ID token. Everything else is 401 `Unauthorized`, except an expired token, which says so.
Keys come from the pool's JWKS, parsed once and cached by `kid`, as API Gateway caches them.

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
from typing import Any

import jwt

_REMEMBERED_TOKENS = 4096  # any client can make up more: beyond this, the oldest is forgotten


class Denied(Exception):
    """API Gateway answers 401 Unauthorized."""


class Expired(Denied):
    """API Gateway answers 401 "The incoming token has expired"."""


class CognitoAuthorizer:
    def __init__(self, *, issuer: str, jwks: Mapping[str, Any], header: str = "Authorization"):
        self.issuer = issuer
        self.header = header
        self._keys = {k["kid"]: jwt.PyJWK(k, algorithm="RS256") for k in jwks["keys"]}
        self._verified: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

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
