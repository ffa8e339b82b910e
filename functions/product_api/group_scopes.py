"""Which product scopes a person's access token carries, decided from their groups.

The mapping of groups to scopes is declared once, in template.yaml: the GROUP_SCOPES variable of
the pre token generation function, a JSON object of group name -> list of resource-server scopes.
It is parsed once, at cold start; a malformed one stops the function, and so every sign-in (fails
closed).

The rules (docs/decisions.md §9):
- a person gets at most the scopes their groups grant; every other scope of the same resource
  servers is suppressed, even one the client asked for;
- the OAuth endpoints (the hosted sign-in's code flow) name the scopes they want: the token gets
  those of them the groups grant, and no product scope when only openid, email or profile are asked;
- the sign-in API (InitiateAuth, RespondToAuthChallenge) cannot name scopes: its tokens get every
  scope the groups grant;
- a refresh keeps the kind of its sign-in, told apart by `aws.cognito.signin.user.admin`: Cognito
  puts it in every token from the sign-in API, and the user client cannot ask for it over OAuth.
  Groups are read again at every refresh, so a change of groups counts from the next refresh;
- identity scopes (openid, email, profile) and everything else pass through untouched.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from product_api.settings import SettingsError

# Cognito's scope for the user's own API calls (GetUser...): in every token from the sign-in API.
SIGN_IN_API_SCOPE = "aws.cognito.signin.user.admin"
# Trigger sources of tokens from the sign-in API: password or SRP, a new password, a remembered device.
SIGN_IN_API_SOURCES = frozenset(
    {
        "TokenGeneration_Authentication",
        "TokenGeneration_NewPasswordChallenge",
        "TokenGeneration_AuthenticateDevice",
    }
)
REFRESH_SOURCE = "TokenGeneration_RefreshTokens"


@dataclass(frozen=True, slots=True)
class GroupScopes:
    """Group name -> the scopes its members get."""

    by_group: Mapping[str, frozenset[str]]

    @classmethod
    def from_json(cls, text: str) -> GroupScopes:
        try:
            data = json.loads(text)
        except ValueError:
            raise SettingsError("GROUP_SCOPES is not JSON") from None
        if not isinstance(data, dict) or not data:
            raise SettingsError("GROUP_SCOPES must be a JSON object: group name -> list of scopes")
        by_group = {}
        for group, scopes in data.items():
            if not group or not isinstance(scopes, list) or not all(_is_resource_scope(s) for s in scopes):
                raise SettingsError(
                    f"GROUP_SCOPES[{group!r}] must be a list of resource-server scopes (identifier/name)"
                )
            by_group[group] = frozenset(scopes)
        return cls(by_group)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> GroupScopes:
        if not env.get("GROUP_SCOPES", "").strip():
            raise SettingsError("missing environment variables: GROUP_SCOPES")
        return cls.from_json(env["GROUP_SCOPES"])

    @property
    def scopes(self) -> frozenset[str]:
        """Every scope some group grants."""
        return self.granted(self.by_group)

    @property
    def resource_servers(self) -> frozenset[str]:
        """The identifiers of the resource servers whose scopes this mapping governs."""
        return frozenset(scope.split("/", 1)[0] for scope in self.scopes)

    def governs(self, scope: str) -> bool:
        return _is_resource_scope(scope) and scope.split("/", 1)[0] in self.resource_servers

    def granted(self, groups: Iterable[str]) -> frozenset[str]:
        """Every scope the groups grant together; a group the mapping does not name grants nothing."""
        return frozenset().union(*(self.by_group.get(g, frozenset()) for g in groups))


@dataclass(frozen=True, slots=True)
class ScopeDecision:
    scopes: frozenset[str]  # the product scopes the access token ends up with
    add: tuple[str, ...]
    suppress: tuple[str, ...]

    def override_details(self, group_configuration: Mapping[str, Any]) -> dict[str, Any]:
        """The V2_0 response's `claimsAndScopeOverrideDetails`. The ID token is left as it is, and the
        groups are passed back unchanged: an empty or missing groupOverrideDetails would drop them."""
        return {
            "accessTokenGeneration": {"scopesToAdd": list(self.add), "scopesToSuppress": list(self.suppress)},
            "groupOverrideDetails": dict(group_configuration),
        }


def takes_every_granted_scope(trigger_source: str, requested: Collection[str]) -> bool:
    """True for tokens of the sign-in API (which cannot name scopes), first or refreshed."""
    if trigger_source in SIGN_IN_API_SOURCES:
        return True
    if trigger_source == REFRESH_SOURCE:
        return SIGN_IN_API_SCOPE in requested
    return False  # TokenGeneration_HostedAuth, and any source not known here: only what was asked for


def decide(
    mapping: GroupScopes, trigger_source: str, groups: Iterable[str], requested: Iterable[str]
) -> ScopeDecision:
    requested = frozenset(requested)
    granted = mapping.granted(groups)
    # The sign-in API cannot ask: every granted scope. OAuth asked: only what it asked for.
    scopes = granted if takes_every_granted_scope(trigger_source, requested) else granted & requested
    asked_for = {s for s in requested if mapping.governs(s)}
    return ScopeDecision(
        scopes=scopes,
        add=tuple(sorted(scopes - requested)),
        suppress=tuple(sorted((mapping.scopes | asked_for) - scopes)),
    )


def _is_resource_scope(scope: Any) -> bool:
    """`identifier/name`: how custom (resource-server) scopes appear in tokens."""
    if not isinstance(scope, str):
        return False
    identifier, slash, name = scope.partition("/")
    return bool(identifier and slash and name and not any(c.isspace() for c in scope))
