"""Who called: a typed caller built once from the authorizer's claims, in either payload format.

Both APIs pass the verified token's claims with every value a string, `scope` space-separated and
`auth_time` epoch seconds. The REST API's Cognito authorizer puts them in
`requestContext.authorizer.claims`; the HTTP API's JWT authorizer in
`requestContext.authorizer.jwt.claims`. `cognito:groups` is a plain name, or for several groups "a,b"
or "[a b]" (the HTTP API's rendering; REST's is not settled), or a JSON array: all are read. Nothing
else reads raw claims.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def parse_groups(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value if str(v))
    text = str(value).strip()
    if text.startswith('["'):
        try:
            return parse_groups(json.loads(text))
        except ValueError:
            pass  # "[a b]" whose first group starts with a quote: read below
    if text.startswith("[") and text.endswith("]"):
        parts = text[1:-1].replace(",", " ").split()
    else:
        parts = text.split(",")
    return frozenset(p.strip() for p in parts if p.strip())


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str
    token_use: str
    client_id: str | None
    username: str | None
    scopes: frozenset[str]
    groups: frozenset[str]
    email: str | None = None  # ID tokens only
    auth_time: int | None = None  # when the person (or client) authenticated, epoch seconds

    @classmethod
    def from_event(cls, event: Mapping[str, Any]) -> Caller:
        """The caller of a proxy event: REST's payload format 1.0 or the HTTP API's 2.0."""
        authorizer = (event.get("requestContext") or {}).get("authorizer") or {}
        if "jwt" in authorizer:
            jwt = authorizer["jwt"] or {}
            claims = dict(jwt.get("claims") or {})
            # `jwt.scopes` is null on a route without scopes even when the token has some: the
            # `scope` claim says the same on every route, so it is read first, as on REST.
            if "scope" not in claims and jwt.get("scopes"):
                claims["scope"] = " ".join(jwt["scopes"])
            return cls.from_claims(claims)
        return cls.from_claims(authorizer.get("claims") or {})

    @classmethod
    def from_claims(cls, claims: Mapping[str, Any]) -> Caller:
        return cls(
            subject=str(claims.get("sub", "")),
            token_use=str(claims.get("token_use", "")),
            # ID tokens name the client in `aud` and the user in `cognito:username`.
            client_id=claims.get("client_id") or claims.get("aud") or None,
            username=claims.get("username") or claims.get("cognito:username") or None,
            scopes=frozenset(str(claims.get("scope", "")).split()),
            groups=parse_groups(claims.get("cognito:groups")),
            email=claims.get("email") or None,
            auth_time=_epoch_seconds(claims.get("auth_time")),
        )

    @property
    def is_machine(self) -> bool:
        """A client_credentials token: its subject is the client itself."""
        return self.username is None

    @property
    def principal(self) -> str:
        """Who is recorded as created_by / updated_by: the username for people, the client id for machines."""
        return self.username or self.client_id or self.subject

    def has_any_scope(self, required: Iterable[str]) -> bool:
        return not self.scopes.isdisjoint(required)


def _epoch_seconds(value: Any) -> int | None:
    text = str(value).strip() if value is not None else ""
    return int(text) if text.isdigit() else None
