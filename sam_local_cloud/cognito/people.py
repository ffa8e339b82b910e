"""People in the local user pool: who they are, and the tokens Cognito gives them.

Users, passwords, status and groups live in the local Cognito (moto), read by
sam_local_cloud/aws_apis/cognito_users.py at every sign-in and every refresh. moto's own sign-in is never
used: it runs no trigger and signs with a key of its own.

Every token for a person passes through the pool's pre token generation trigger, found from the
pool's LambdaConfig at each sign-in: the template's own function, run by the local Lambda runner like
any other (its own worker, environment and logs), with Cognito's event; its answer is applied as
Cognito applies it (docs/aws-behaviour.md §6). A trigger that fails, times out or answers nonsense
fails the sign-in. For client_credentials it runs only with LambdaVersion V3_0, as in AWS.

The sign-in API (sign_in_api.py) and the domain's endpoints (hosted.py) both sign people in here;
refresh tokens are opaque and kept here, in memory, with what revokes them.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import secrets
import threading
import time
import uuid
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_local_cloud import console
from sam_local_cloud.aws_apis.cognito_users import Person, UserDirectory
from sam_local_cloud.cognito.errors import SignInError
from sam_local_cloud.cognito.events import event_attributes, pre_token_generation_event
from sam_local_cloud.cognito.tokens import SigningKey, user_access_token_claims, user_id_token_claims
from sam_local_cloud.lambda_.outcome import Failure, Result
from sam_local_cloud.lambda_.runner import Invocation, Runner

SIGN_IN_API_SCOPE = "aws.cognito.signin.user.admin"  # in every token of the sign-in API
TRIGGER_TIMEOUT_SECONDS = 5.0  # Cognito waits this long for a trigger, whatever its own Timeout
SIGN_IN_API = "TokenGeneration_Authentication"
AFTER_NEW_PASSWORD = "TokenGeneration_NewPasswordChallenge"  # noqa: S105 - a trigger source
HOSTED = "TokenGeneration_HostedAuth"
REFRESH = "TokenGeneration_RefreshTokens"
CLIENT_CREDENTIALS = "TokenGeneration_ClientCredentials"

# Claims a trigger cannot add, change or suppress (docs/aws-behaviour.md §6): Cognito keeps its own.
# Groups and scopes change only through groupOverrideDetails and scopesToAdd/scopesToSuppress.
PROTECTED_CLAIMS = frozenset(
    {
        "acr", "amr", "aud", "at_hash", "auth_time", "azp", "client_id", "cognito:groups",
        "cognito:preferred_role", "cognito:roles", "cognito:username", "event_id", "exp", "iat",
        "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "scope", "sub", "token_use",
        "username", "version",
    }
)  # fmt: skip

_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
# Cognito's defaults: access and ID tokens 60 minutes, refresh tokens 30 days.
_VALIDITY = {
    "AccessToken": ("AccessTokenValidity", 1, "hours"),
    "IdToken": ("IdTokenValidity", 1, "hours"),
    "RefreshToken": ("RefreshTokenValidity", 30, "days"),
}
_LAMBDA_VERSIONS = {"V1_0": "1", "V2_0": "2", "V3_0": "3"}


def token_seconds(client: dict[str, Any], kind: str) -> int:
    """How long an AccessToken, IdToken or RefreshToken of this app client lives."""
    field_name, default, default_unit = _VALIDITY[kind]
    value = client.get(field_name) or default
    unit = client.get("TokenValidityUnits", {}).get(kind, default_unit)
    return int(value) * _UNITS[unit]


# ---------------------------------------------------------------- errors


class TriggerFailed(SignInError):
    """The trigger failed, timed out or answered something Cognito cannot use."""


class RefreshRefused(SignInError):
    def __init__(self, message: str, kind: str = "NotAuthorizedException"):
        super().__init__(kind, message)


def rotation_grace(client: dict[str, Any]) -> float | None:
    """The seconds a rotated-out refresh token still works, when the client rotates refresh tokens
    (its RefreshTokenRotation is ENABLED); None when it does not."""
    rotation = client.get("RefreshTokenRotation") or {}
    if rotation.get("Feature") != "ENABLED":
        return None
    return float(rotation.get("RetryGracePeriodSeconds") or 0)


# ---------------------------------------------------------------- users


def check_sign_in(directory: UserDirectory, client: dict[str, Any], name: str, password: str) -> Person:
    """The person whose password this is, or Cognito's refusal (docs/aws-behaviour.md §5).

    A wrong password and, with PreventUserExistenceErrors, an unknown user get the same answer.
    """
    person = directory.find(name)
    if person is None:
        if client.get("PreventUserExistenceErrors") == "ENABLED":
            raise SignInError("NotAuthorizedException", "Incorrect username or password.")
        raise SignInError("UserNotFoundException", "User does not exist.")
    if not directory.password_matches(name, password):
        raise SignInError("NotAuthorizedException", "Incorrect username or password.")
    if not person.enabled:
        raise SignInError("NotAuthorizedException", "User is disabled.")
    if person.status == "UNCONFIRMED":
        raise SignInError("UserNotConfirmedException", "User is not confirmed.")
    if person.status == "RESET_REQUIRED":
        raise SignInError("PasswordResetRequiredException", "Password reset required for the user")
    return person


# ---------------------------------------------------------------- the trigger


@dataclass(frozen=True)
class PreTokenTrigger:
    function: str  # logical id of the template's function
    version: str  # the event version: "1", "2" or "3"


class Triggers:
    """Finds and runs the pool's pre token generation trigger, as its LambdaConfig names it now."""

    def __init__(self, directory: UserDirectory, runner: Runner):
        self._directory = directory
        self._runner = runner

    def pre_token(self) -> PreTokenTrigger | None:
        config = self._directory.lambda_config()
        if "PreTokenGenerationConfig" in config:
            arn = config["PreTokenGenerationConfig"].get("LambdaArn")
            version = _LAMBDA_VERSIONS.get(
                config["PreTokenGenerationConfig"].get("LambdaVersion", "V1_0"), "1"
            )
        elif "PreTokenGeneration" in config:
            arn, version = config["PreTokenGeneration"], "1"
        else:
            return None
        function = next((c.logical_id for c in self._runner.configs.values() if c.arn == arn), None)
        if function is None:
            # Fail closed: a trigger that cannot run here must not be skipped.
            raise TriggerFailed(
                "UnexpectedLambdaException",
                f"PreTokenGeneration invocation failed: {arn} is not a function of the template",
            )
        return PreTokenTrigger(function, version)

    def run(self, trigger: PreTokenTrigger, event: dict[str, Any]) -> dict[str, Any]:
        """The trigger's answer (the event it returned), or TriggerFailed as Cognito reports it."""
        started = time.perf_counter()
        future: Future[Invocation] = self._runner.submit(trigger.function, event)
        label = f"{event['triggerSource']} {trigger.function}"
        try:
            invocation = future.result(timeout=TRIGGER_TIMEOUT_SECONDS)
        except FutureTimeout:
            future.add_done_callback(lambda done: _log_late(label, done))
            console.say(f"PreTokenGeneration {label}: no answer within {TRIGGER_TIMEOUT_SECONDS:.0f} s")
            raise TriggerFailed(
                "UnexpectedLambdaException",
                "PreTokenGeneration invocation failed due to error "
                "Socket timeout while invoking Lambda function.",
            ) from None
        elapsed = (time.perf_counter() - started) * 1000
        cold = " (cold start)" if invocation.cold_start else ""
        logs = console.function_logs(invocation.logs)
        console.say(f"PreTokenGeneration {label} {elapsed:.1f} ms{cold}", *logs)
        outcome = invocation.outcome
        if not isinstance(outcome, Result):
            raise TriggerFailed(
                "UserLambdaValidationException",
                f"PreTokenGeneration failed with error {_message(outcome)}.",
            )
        if not isinstance(outcome.payload, dict):
            raise TriggerFailed("InvalidLambdaResponseException", "Unrecognizable lambda output")
        return outcome.payload


def _log_late(label: str, future: Future[Invocation]) -> None:
    if not future.cancelled() and future.exception() is None:
        console.say(
            f"PreTokenGeneration {label} (answered too late)", *console.function_logs(future.result().logs)
        )


def _message(outcome: Failure) -> str:
    """The error's message, as Cognito quotes it (a timeout in Lambda's words)."""
    return outcome.message


@dataclass
class Overrides:
    """What a pre token generation trigger asked for, read as Cognito reads it."""

    id_claims: dict[str, Any] = field(default_factory=dict)
    id_suppress: set[str] = field(default_factory=set)
    access_claims: dict[str, Any] = field(default_factory=dict)
    access_suppress: set[str] = field(default_factory=set)
    scopes_to_add: list[str] = field(default_factory=list)
    scopes_to_suppress: set[str] = field(default_factory=set)
    groups: list[str] | None = None  # None: the groups stay as they are
    roles: list[str] | None = None
    preferred_role: str | None = None

    @classmethod
    def read(cls, answer: dict[str, Any], version: str) -> Overrides:
        """From the event the trigger returned. Version 1 changes the ID token and groups only.

        `groupOverrideDetails` replaces the groups: missing, null or empty, it leaves the token
        without groups (docs/aws-behaviour.md §6); a null answer as a whole changes nothing.
        """
        response = answer.get("response")
        key = "claimsOverrideDetails" if version == "1" else "claimsAndScopeOverrideDetails"
        details = response.get(key) if isinstance(response, dict) else None
        if details is None:
            return cls()
        if not isinstance(details, dict):
            raise _invalid(f"{key} must be an object")
        found = cls()
        if version == "1":
            found.id_claims, found.id_suppress = _claims_part(details)
        else:
            id_part = _object(details.get("idTokenGeneration"), "idTokenGeneration")
            access_part = _object(details.get("accessTokenGeneration"), "accessTokenGeneration")
            found.id_claims, found.id_suppress = _claims_part(id_part)
            found.access_claims, found.access_suppress = _claims_part(access_part)
            found.scopes_to_add = _strings(access_part.get("scopesToAdd"), "scopesToAdd")
            found.scopes_to_suppress = set(_strings(access_part.get("scopesToSuppress"), "scopesToSuppress"))
        groups = _object(details.get("groupOverrideDetails"), "groupOverrideDetails")
        found.groups = _strings(groups.get("groupsToOverride"), "groupsToOverride")
        found.roles = _strings(groups.get("iamRolesToOverride"), "iamRolesToOverride")
        found.preferred_role = groups.get("preferredRole") or None
        return found

    def scopes(self, asked: list[str]) -> list[str]:
        """The access token's scopes: asked for, plus added, minus suppressed (suppression wins)."""
        scopes = list(dict.fromkeys([*asked, *self.scopes_to_add]))
        return [s for s in scopes if s not in self.scopes_to_suppress]


def _invalid(why: str) -> TriggerFailed:
    return TriggerFailed("InvalidLambdaResponseException", f"Invalid lambda function output : {why}")


def _object(value: Any, name: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _invalid(f"{name} must be an object")
    return value


def _strings(value: Any, name: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{name} must be a list of strings")
    return list(value)


def _claims_part(part: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    claims = _object(part.get("claimsToAddOrOverride"), "claimsToAddOrOverride")
    return claims, set(_strings(part.get("claimsToSuppress"), "claimsToSuppress"))


def overridden(claims: dict[str, Any], add: dict[str, Any], suppress: set[str]) -> dict[str, Any]:
    """Claims added or overridden, then suppressed (suppression wins); protected claims untouched."""
    result = {**claims, **{k: v for k, v in add.items() if k not in PROTECTED_CLAIMS}}
    return {k: v for k, v in result.items() if k in PROTECTED_CLAIMS or k not in suppress}


# ---------------------------------------------------------------- tokens


@dataclass
class Session:
    """What a refresh token stands for: one sign-in of one person through one app client."""

    client_id: str
    username: str
    scopes: tuple[str, ...]  # asked for at sign-in: the trigger's request.scopes at every refresh
    auth_time: int
    origin_jti: str
    event_id: str
    expires_at: float
    revoked: bool = False
    rotated_until: float | None = None  # rotated out: it works until then (the client's grace period)


@dataclass(frozen=True)
class Tokens:
    access_token: str
    id_token: str | None
    refresh_token: str | None
    expires_in: int
    access_claims: dict[str, Any]


class UserTokens:
    """Issues, refreshes and revokes people's tokens, through the pool's trigger."""

    def __init__(
        self,
        *,
        issuer: str,
        key: SigningKey,
        directory: UserDirectory,
        triggers: Triggers,
        region: str,
    ):
        self.issuer = issuer
        self._key = key
        self._directory = directory
        self._triggers = triggers
        self._region = region
        self._sessions: dict[str, Session] = {}
        self._revoked_origins: set[str] = set()
        self._lock = threading.Lock()
        self.changes = 0  # sign-ins and revocations so far: a snapshot of the sessions is due when it moved

    # ------------------------------------------------------------ sign-in, refresh, revocation

    def sign_in(
        self,
        person: Person,
        client: dict[str, Any],
        *,
        source: str,
        scopes: list[str],
        with_id_token: bool = True,
        nonce: str | None = None,
        auth_time: int | None = None,
        oauth: bool = False,
    ) -> Tokens:
        """A person's first tokens: access, ID (unless told not to) and a new refresh token.

        `oauth`: issued by the domain's endpoints, whose ID tokens carry `at_hash` (and `nonce`).
        """
        session = Session(
            client_id=client["ClientId"],
            username=person.username,
            scopes=tuple(scopes),
            auth_time=auth_time or int(time.time()),
            origin_jti=str(uuid.uuid4()),
            event_id=str(uuid.uuid4()),
            expires_at=time.time() + token_seconds(client, "RefreshToken"),
        )
        tokens = self._issue(
            person, client, session, source, with_id_token=with_id_token, nonce=nonce, oauth=oauth
        )
        refresh_token = _opaque_token()
        with self._lock:
            self._sessions[refresh_token] = session
            self.changes += 1
        return dataclasses.replace(tokens, refresh_token=refresh_token)

    def refresh(
        self,
        refresh_token: str,
        client: dict[str, Any],
        *,
        oauth: bool,
        metadata: dict[str, str] | None = None,
    ) -> Tokens:
        """New access and ID tokens for a refresh token of this client, with the groups of now.

        Through the OAuth endpoints (`oauth`), an ID token only when the sign-in asked for `openid`.
        A client that rotates refresh tokens (RefreshTokenRotation) also gets a new refresh token, and
        the one given stops working after the client's grace period (RefreshTokenReuseException then).
        """
        now = time.time()
        with self._lock:
            session = self._sessions.get(refresh_token)
        if session is None or session.client_id != client["ClientId"]:
            raise RefreshRefused("Invalid Refresh Token")
        if session.revoked:
            raise RefreshRefused("Refresh Token has been revoked")
        if session.rotated_until is not None and now >= session.rotated_until:
            raise RefreshRefused("Refresh Token has been rotated", "RefreshTokenReuseException")
        if now >= session.expires_at:
            raise RefreshRefused("Refresh Token has expired")
        person = self._directory.find(session.username)
        if person is None:
            raise RefreshRefused("Refresh Token has been revoked")  # the user was deleted
        if not person.enabled:
            raise SignInError("NotAuthorizedException", "User is disabled.")
        with_id_token = not oauth or "openid" in session.scopes
        tokens = self._issue(
            person, client, session, REFRESH, with_id_token=with_id_token, oauth=oauth, metadata=metadata
        )
        grace = rotation_grace(client)
        if grace is None:
            return tokens
        # The same sign-in (auth_time, origin_jti: revoking the new token still ends it), a new lifetime.
        rotated = dataclasses.replace(
            session, expires_at=now + token_seconds(client, "RefreshToken"), rotated_until=None
        )
        new_token = _opaque_token()
        with self._lock:
            self._sessions[new_token] = rotated
            if session.rotated_until is None:
                session.rotated_until = now + grace
        return dataclasses.replace(tokens, refresh_token=new_token)

    def username_of(self, refresh_token: str) -> str | None:
        """Whom a refresh token was issued to, if it is one of ours."""
        with self._lock:
            session = self._sessions.get(refresh_token)
        return session.username if session is not None else None

    def revoke(self, refresh_token: str, client_id: str) -> None:
        """Revokes a refresh token of this client and the access tokens issued from it, with every
        refresh token rotated from the same sign-in.

        Anything else (another client's token, an unknown one) is ignored, as Cognito answers 200.
        """
        with self._lock:
            session = self._sessions.get(refresh_token)
            if session is not None and session.client_id == client_id:
                for other in self._sessions.values():
                    if other.origin_jti == session.origin_jti:
                        other.revoked = True
                self._revoked_origins.add(session.origin_jti)
                self.changes += 1

    def saved(self) -> tuple[dict[str, Session], set[str]]:
        """The refresh tokens' sessions and the revoked sign-ins, as copies (kept across restarts)."""
        with self._lock:
            sessions = {token: dataclasses.replace(s) for token, s in self._sessions.items()}
            return sessions, set(self._revoked_origins)

    def restore(self, sessions: dict[str, Session], revoked_origins: set[str]) -> None:
        """What `saved` gave before a restart: refresh tokens issued then work until they expire."""
        now = time.time()
        with self._lock:
            self._sessions.update({t: s for t, s in sessions.items() if s.expires_at > now})
            self._revoked_origins |= revoked_origins

    def is_revoked(self, origin_jti: str | None) -> bool:
        with self._lock:
            return origin_jti in self._revoked_origins

    # ------------------------------------------------------------ machines (V3_0 only)

    def client_credentials_claims(
        self, client: dict[str, Any], claims: dict[str, Any], metadata: dict[str, str] | None = None
    ) -> dict[str, Any]:
        """A machine token's claims (/oauth2/token, GetClientToken) after the trigger, which runs for
        them only with V3_0; TriggerFailed when it fails."""
        trigger = self._triggers.pre_token()
        if trigger is None or trigger.version != "3":
            return claims
        event = pre_token_generation_event(
            trigger_source=CLIENT_CREDENTIALS,
            region=self._region,
            user_pool_id=self._directory.user_pool_id,
            username=client["ClientId"],
            client_id=client["ClientId"],
            user_attributes={},
            groups=[],
            scopes=str(claims.get("scope", "")).split(),
            version="3",
            client_metadata=metadata,
        )
        found = Overrides.read(self._triggers.run(trigger, event), "3")
        claims = overridden(claims, found.access_claims, found.access_suppress)
        return {**claims, "scope": " ".join(found.scopes(str(claims.get("scope", "")).split()))}

    # ------------------------------------------------------------ the tokens themselves

    def _issue(
        self,
        person: Person,
        client: dict[str, Any],
        session: Session,
        source: str,
        *,
        with_id_token: bool,
        nonce: str | None = None,
        oauth: bool = False,
        metadata: dict[str, str] | None = None,
    ) -> Tokens:
        groups, roles, preferred_role = list(person.groups), list(person.roles), None
        scopes = list(session.scopes)
        found = Overrides()
        trigger = self._triggers.pre_token()
        if trigger is not None:
            event = pre_token_generation_event(
                trigger_source=source,
                region=self._region,
                user_pool_id=self._directory.user_pool_id,
                username=person.username,
                client_id=client["ClientId"],
                user_attributes=event_attributes(person.attributes, person.status),
                groups=groups,
                iam_roles=roles,
                scopes=scopes,
                version=trigger.version,
                client_metadata=metadata,
            )
            found = Overrides.read(self._triggers.run(trigger, event), trigger.version)
            if found.groups is not None:
                groups, roles, preferred_role = found.groups, found.roles or [], found.preferred_role
        common = {
            "sub": person.sub,
            "client_id": client["ClientId"],
            "groups": groups,
            "issuer": self.issuer,
            "auth_time": session.auth_time,
            "origin_jti": session.origin_jti,
            "event_id": session.event_id,
        }
        access_lifetime = token_seconds(client, "AccessToken")
        access = user_access_token_claims(
            username=person.username, scopes=found.scopes(scopes), lifetime=access_lifetime, **common
        )
        access = overridden(access, found.access_claims, found.access_suppress)
        access_token = self._key.sign(access)
        id_token = None
        if with_id_token:
            claims = user_id_token_claims(
                username=person.username,
                attributes=_readable(person.attributes, client),
                lifetime=token_seconds(client, "IdToken"),
                **common,
            )
            if roles:
                claims["cognito:roles"] = roles
            if preferred_role:
                claims["cognito:preferred_role"] = preferred_role
            if oauth:
                claims["at_hash"] = at_hash(access_token)
            if nonce:
                claims["nonce"] = nonce
            id_token = self._key.sign(overridden(claims, found.id_claims, found.id_suppress))
        return Tokens(access_token, id_token, None, access_lifetime, access)


def _readable(attributes: dict[str, str], client: dict[str, Any]) -> dict[str, str]:
    """The attributes the app client may read (all of them when it does not say)."""
    readable = client.get("ReadAttributes")
    return {k: v for k, v in attributes.items() if not readable or k in readable or k == "sub"}


def _opaque_token() -> str:
    """A refresh token shaped like Cognito's (an encrypted JWT: five dot-separated parts)."""
    header = base64.urlsafe_b64encode(
        json.dumps({"cty": "JWT", "enc": "A256GCM", "alg": "RSA-OAEP"}, separators=(",", ":")).encode()
    )
    parts = [header.rstrip(b"=").decode(), *(secrets.token_urlsafe(n) for n in (256, 12, 600, 16))]
    return ".".join(parts)


def at_hash(access_token: str) -> str:
    """OIDC's `at_hash`: the left half of the access token's SHA-256, base64url (RS256)."""
    digest = hashlib.sha256(access_token.encode()).digest()
    return base64.urlsafe_b64encode(digest[: len(digest) // 2]).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    """PKCE's S256 code challenge of a code verifier (RFC 7636 §4.2)."""
    return base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()


# ---------------------------------------------------------------- users from a file


@dataclass(frozen=True)
class SampleUser:
    username: str  # what the person signs in with (their email, in a pool with email usernames)
    password: str
    groups: tuple[str, ...]
    attributes: dict[str, str]

    def output(self) -> dict[str, Any]:
        return {"Username": self.username, "Password": self.password, "Groups": list(self.groups)}


def read_users(path: Path) -> list[SampleUser]:
    """Users to create at start-up from a JSON file (`--users FILE`): entries as `users_from` reads them."""
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"--users {path}: cannot read it: {error}") from None
    return users_from(data, f"--users {path}")


def users_from(data: Any, source: str) -> list[SampleUser]:
    """Users from a list of {"Username", "Password", "Groups", "Attributes"} (a JSON file, local-cloud.toml).

    `Groups` (names of the template's groups) and `Attributes` (name -> value) are optional.
    """
    if not isinstance(data, list):
        raise SystemExit(f"{source}: expected a JSON list of users")
    users = []
    for number, entry in enumerate(data, 1):
        where = f"{source}, user {number}"
        if not isinstance(entry, dict) or not {"Username", "Password"} <= entry.keys():
            raise SystemExit(f"{where}: needs Username and Password")
        unknown = set(entry) - {"Username", "Password", "Groups", "Attributes"}
        if unknown:
            raise SystemExit(f"{where}: unknown keys {sorted(unknown)}")
        groups, attributes = entry.get("Groups", []), entry.get("Attributes", {})
        if not isinstance(groups, list) or not all(isinstance(g, str) for g in groups):
            raise SystemExit(f"{where}: Groups must be a list of group names")
        if not isinstance(attributes, dict) or not all(isinstance(v, str) for v in attributes.values()):
            raise SystemExit(f"{where}: Attributes must map attribute names to strings")
        users.append(SampleUser(str(entry["Username"]), str(entry["Password"]), tuple(groups), attributes))
    return users
