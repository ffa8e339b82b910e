"""The people of a local user pool, read from moto's Cognito models: the one reader of them.

Users, passwords, status and groups live in moto, where the admin API (AdminCreateUser,
AdminSetUserPassword, AdminAddUserToGroup, AdminDisableUser...) puts them. They are read here at every
sign-in and every refresh, so a change counts from the next one; moto's own sign-in is never used.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sam_local_cloud.cognito.errors import SignInError


@dataclass(frozen=True)
class Person:
    username: str  # Cognito's username: a UUID (the sub) when people sign in with their email
    attributes: dict[str, str]
    groups: tuple[str, ...]  # by precedence, as Cognito lists them
    roles: tuple[str, ...]
    status: str  # CONFIRMED, FORCE_CHANGE_PASSWORD, ...
    enabled: bool

    @property
    def sub(self) -> str:
        return self.attributes.get("sub", self.username)


class UserDirectory:
    """The users of one pool, read from the local Cognito (moto, in this process) at every call."""

    def __init__(self, *, account_id: str, region: str, user_pool_id: str):
        self.account_id = account_id
        self.region = region
        self.user_pool_id = user_pool_id

    def _backend(self) -> Any:
        from moto.cognitoidp.models import cognitoidp_backends

        return cognitoidp_backends[self.account_id][self.region]

    def _pool(self) -> Any:
        return self._backend().user_pools[self.user_pool_id]

    def _user(self, name: str | None) -> Any:
        # By username, or by a username attribute (email) when the pool signs people in with it.
        return self._pool()._get_user(name) if name else None

    def find(self, name: str | None) -> Person | None:
        user = self._user(name)
        if user is None:
            return None
        groups = sorted(user.groups, key=lambda g: (g.precedence is None, g.precedence or 0, g.group_name))
        return Person(
            username=user.username,
            attributes={a["Name"]: str(a["Value"]) for a in user.attributes},
            groups=tuple(g.group_name for g in groups),
            roles=tuple(g.role_arn for g in groups if g.role_arn),
            status=str(getattr(user.status, "value", user.status)),
            enabled=bool(user.enabled),
        )

    def password_matches(self, name: str, password: str) -> bool:
        user = self._user(name)
        return (
            user is not None
            and user.password is not None
            and secrets.compare_digest(str(user.password).encode(), password.encode())
        )

    def set_password(self, username: str, password: str) -> None:
        """A new permanent password (after NEW_PASSWORD_REQUIRED), checked against the pool's policy."""
        from moto.cognitoidp.exceptions import InvalidPasswordException

        try:
            self._backend().admin_set_user_password(self.user_pool_id, username, password, permanent=True)
        except InvalidPasswordException:
            raise SignInError(
                "InvalidPasswordException", "Password does not conform to policy: " + self.policy_text()
            ) from None

    def policy_text(self) -> str:
        policy = self._pool().extended_config.get("Policies", {}).get("PasswordPolicy", {})
        needs = [f"at least {policy.get('MinimumLength', 8)} characters"]
        needs += [
            words
            for key, words in (
                ("RequireUppercase", "an upper-case letter"),
                ("RequireLowercase", "a lower-case letter"),
                ("RequireNumbers", "a number"),
                ("RequireSymbols", "a symbol"),
            )
            if policy.get(key)
        ]
        return ", ".join(needs)

    def lambda_config(self) -> dict[str, Any]:
        return dict(self._pool().extended_config.get("LambdaConfig") or {})
