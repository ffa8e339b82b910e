"""An HTTP API's JWT authorizer (docs/aws-behaviour.md, "HTTP APIs": the JWT authorizer).

It implements the `Authorizer` seam of sam_local_cloud/apigateway/authorizers.py, in API Gateway's documented
order: the token from the identity source (a header or a query parameter; the bare token or
`Bearer <token>`), its `kid` in the issuer's keys, an RSA algorithm and the signature, then the claims:
`iss` equal to the issuer, `aud` (or `client_id` only when there is no `aud`) in the audience, `exp`,
`nbf` and `iat`, and last the route's scopes, any one of which the token's `scp` or `scope` must hold.
`token_use` is not checked: an ID token passes a route without scopes.

A refusal is `TokenRefused` (401, with the `www-authenticate` value API Gateway sends) or
`ScopeMissing` (403). There is no result cache (AWS has none for JWT authorizers); what is remembered
is a token whose signature, issuer and audience were verified, with its claims, since those cannot
change. The time claims and the scopes are checked at every request, so every answer is the one a
fresh verification would give.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jwt
from werkzeug.wrappers import Request

from sam_local_cloud.apigateway.authorizers import Authorization, Denied
from sam_local_cloud.cloudformation.spec import Route

# Only RSA algorithms are supported by AWS; which of them is unsettled: RS256 (Cognito's), RS384, RS512.
ALGORITHMS = ("RS256", "RS384", "RS512")
_REMEMBERED_TOKENS = 4096  # any client can make up more: beyond this, the oldest is forgotten

# `error_description`s of the `www-authenticate` header. Only the segments and audience texts are on
# record from AWS; the others keep that form with a short reason of our own (unsettled).
NOT_A_JWT = "token contains an invalid number of segments"
BAD_AUDIENCE = "the token does not have a valid audience"
MALFORMED = "token is malformed"
BAD_ALGORITHM = "signing method is not supported"
UNKNOWN_KID = "the token's kid is not among the issuer's keys"
BAD_SIGNATURE = "signature is invalid"
BAD_ISSUER = "issuer does not match"
EXPIRED = "token is expired"
NOT_YET_VALID = "token is not valid yet"
ISSUED_IN_FUTURE = "token used before issued"


class TokenRefused(Denied):
    """401 `{"message":"Unauthorized"}`, with the `www-authenticate` header API Gateway adds."""

    def __init__(self, description: str | None):
        super().__init__(description or "missing: token not provided")
        self.description = description

    @property
    def www_authenticate(self) -> str:
        if self.description is None:  # no token at all
            return "Bearer"
        return f'Bearer scope="" error="invalid_token" error_description="{self.description}"'


class ScopeMissing(Denied):
    """403 `{"message":"Forbidden"}`: a valid token without any of the route's scopes."""

    def __init__(self, scopes: Sequence[str]):
        super().__init__("insufficient scope")
        self.scopes = tuple(scopes)

    @property
    def www_authenticate(self) -> str:
        # What AWS sends with the 403 is unsettled: the RFC 6750 form, naming the route's scopes.
        return f'Bearer scope="{" ".join(self.scopes)}" error="insufficient_scope"'


def token_scopes(claims: Mapping[str, Any]) -> list[str]:
    """The token's scopes: `scp` (a list or a space-separated string) when present, else `scope`.

    Which wins when a token has both is unsettled; `scp` does here.
    """
    value = claims["scp"] if "scp" in claims else claims.get("scope", "")
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return str(value).split()


class JwtAuthorizer:
    """One JWT authorizer of an HTTP API: its issuer's keys, its audience, its identity source."""

    def __init__(
        self,
        *,
        issuer: str,
        audience: Sequence[str],
        jwks: Mapping[str, Any],
        identity_source: str = "$request.header.Authorization",
        clock: Callable[[], float] = time.time,
    ):
        self.issuer = issuer
        self.audience = frozenset(audience)
        self._where, _, self._name = identity_source.removeprefix("$request.").partition(".")
        if self._where not in ("header", "querystring") or not self._name:
            raise ValueError(f"a JWT authorizer reads a header or a query parameter, not {identity_source!r}")
        self._keys = {k["kid"]: k for k in jwks.get("keys", []) if "kid" in k}
        self._clock = clock
        self._verified: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def check(self, request: Request, route: Route) -> Authorization:
        source = request.headers if self._where == "header" else request.args
        value = source.get(self._name)
        return Authorization(claims=self.authorize(value, route.scopes))

    def authorize(self, value: str | None, scopes: Sequence[str]) -> dict[str, Any]:
        """The token's claims, or TokenRefused (401) / ScopeMissing (403) as API Gateway answers."""
        token = token_from(value)
        claims = self._verified.get(token)
        if claims is None:
            claims = self._verify(token)
            with self._lock:
                if len(self._verified) >= _REMEMBERED_TOKENS:
                    self._verified.pop(next(iter(self._verified)), None)
                self._verified[token] = claims
        self._check_times(claims)
        if scopes and set(token_scopes(claims)).isdisjoint(scopes):
            raise ScopeMissing(scopes)
        return claims

    def _verify(self, token: str) -> dict[str, Any]:
        """Signature, issuer and audience: what a token keeps for its whole life."""
        if token.count(".") != 2:
            raise TokenRefused(NOT_A_JWT)
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRefused(MALFORMED) from None
        algorithm = header.get("alg")
        if algorithm not in ALGORITHMS:
            raise TokenRefused(BAD_ALGORITHM)
        jwk = self._keys.get(header.get("kid"))
        if jwk is None:
            raise TokenRefused(UNKNOWN_KID)
        try:
            claims = jwt.decode(
                token,
                jwt.PyJWK(jwk, algorithm=algorithm).key,
                algorithms=[algorithm],
                # Every claim is checked below, in AWS's order and without leeway.
                options={
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                    "verify_aud": False,
                    "verify_iss": False,
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRefused(BAD_SIGNATURE) from None
        except jwt.PyJWTError:
            raise TokenRefused(MALFORMED) from None
        if claims.get("iss") != self.issuer:
            raise TokenRefused(BAD_ISSUER)
        if not self._audience_matches(claims):
            raise TokenRefused(BAD_AUDIENCE)
        return claims

    def _audience_matches(self, claims: Mapping[str, Any]) -> bool:
        # `client_id` counts only when the token has no `aud` (access tokens); `aud` may be a list.
        if "aud" in claims:
            audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        else:
            audiences = [claims.get("client_id")]
        return any(isinstance(a, str) and a in self.audience for a in audiences)

    def _check_times(self, claims: Mapping[str, Any]) -> None:
        """`exp` must be after now; `nbf` and `iat`, when present, not after it (no clock skew)."""
        now = self._clock()
        expires = _number(claims.get("exp"))
        if expires is None or expires <= now:
            raise TokenRefused(EXPIRED)
        if "nbf" in claims and not _not_after(claims["nbf"], now):
            raise TokenRefused(NOT_YET_VALID)
        if "iat" in claims and not _not_after(claims["iat"], now):
            raise TokenRefused(ISSUED_IN_FUTURE)


def token_from(value: str | None) -> str:
    """The token in an identity source's value: bare, or after `Bearer` in any case and any spaces."""
    if value is None or not value.strip():
        raise TokenRefused(None)
    scheme, _, rest = value.strip().partition(" ")
    return rest.strip() if scheme.lower() == "bearer" and rest.strip() else value.strip()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _not_after(value: Any, now: float) -> bool:
    moment = _number(value)
    return moment is not None and moment <= now
