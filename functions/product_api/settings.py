"""Settings read once from the function's environment (set in template.yaml)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


class SettingsError(RuntimeError):
    """The function's environment is incomplete: a deployment problem, not a caller's."""


@dataclass(frozen=True, slots=True)
class Settings:
    table_name: str
    # The route's scopes, as in its AuthorizationScopes; any one of them lets the caller in. Empty
    # (declared, but with no scope) for a route without scopes, which takes an ID token instead.
    required_scopes: frozenset[str]
    cors_allow_origin: str
    # Only the function that creates products has one (product_api/idempotency.py).
    idempotency_table_name: str | None = None

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        missing = [] if env.get("TABLE_NAME", "").strip() else ["TABLE_NAME"]
        if "REQUIRED_SCOPES" not in env:  # declared even when empty: a route that forgot it fails closed
            missing.append("REQUIRED_SCOPES")
        if missing:
            raise SettingsError(f"missing environment variables: {', '.join(missing)}")
        return cls(
            table_name=env["TABLE_NAME"],
            required_scopes=frozenset(env["REQUIRED_SCOPES"].split()),
            cors_allow_origin=env.get("CORS_ALLOW_ORIGIN", "*"),
            idempotency_table_name=env.get("IDEMPOTENCY_TABLE_NAME") or None,
        )

    @property
    def takes_id_token(self) -> bool:
        """A route without scopes: the Cognito authorizer takes an ID token there, never an access token."""
        return not self.required_scopes
