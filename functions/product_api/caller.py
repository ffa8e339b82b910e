"""Who called: a typed caller built once from the Cognito authorizer's claims.

API Gateway passes `requestContext.authorizer.claims` with every value a string: `scope` is
space-separated, `auth_time` is epoch seconds, and `cognito:groups` is a plain name, or for several
groups either "a,b" or "[a b]" (AWS's rendering is not settled, so both are read). Nothing else
reads raw claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


def parse_groups(value: Any) -> frozenset[str]:
    if not value:
        return frozenset()
    if isinstance(value, list | tuple):
        return frozenset(str(v) for v in value if str(v))
    text = str(value).strip()
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
