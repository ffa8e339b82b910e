"""The user pool's token endpoint, signing key and JWKS, as Amazon Cognito serves them.

`POST /oauth2/token` follows Cognito (docs/aws-behaviour.md §4): client authentication by HTTP Basic or in the
body, `grant_type=client_credentials`, an optional space-separated `scope` (default: every scope the client is
allowed), and errors as 400 `{"error": ...}`. People's grants, `authorization_code` and `refresh_token`, are
handed to sam_local_cloud/cognito/hosted.py once the client is authenticated. Clients are looked up with
DescribeUserPoolClient against the local AWS endpoint, once each (see ClientDirectory), so clients created or
changed at run time work too. Tokens name the pool's AWS issuer,
`https://cognito-idp.{region}.amazonaws.com/{userPoolId}`, as Cognito's do, so code that checks `iss` the AWS
way accepts them; only the keys are served locally.
"""

from __future__ import annotations

import base64
import binascii
import json
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.wrappers import Request, Response

from sam_local_cloud.cognito.errors import SignInError

_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_DEFAULT_ACCESS_TOKEN_SECONDS = 3600  # Cognito's default: 60 minutes
_GRANTS = ("client_credentials", "authorization_code", "refresh_token")


def aws_issuer(region: str, user_pool_id: str) -> str:
    """The `iss` of a user pool's tokens, always on AWS's host (docs/aws-behaviour.md §4)."""
    return f"https://cognito-idp.{region}.amazonaws.com/{user_pool_id}"


@dataclass(frozen=True)
class SigningKey:
    """An RS256 key made at start-up; its public half is published in the pool's JWKS."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=str(uuid.uuid4()), private_key=rsa.generate_private_key(65537, 2048))

    @classmethod
    def from_pem(cls, pem: bytes) -> SigningKey:
        """A key kept in a file, so tokens outlive a restart; its kid is derived from the key."""
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("the signing key must be an RSA private key (PEM)")
        public = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(kid=str(uuid.uuid5(uuid.NAMESPACE_OID, public.hex())), private_key=key)

    def to_pem(self) -> bytes:
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def public_jwk(self) -> dict[str, str]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {"alg": "RS256", "e": jwk["e"], "kid": self.kid, "kty": "RSA", "n": jwk["n"], "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        # Cognito's header is {"kid", "alg"}: no "typ".
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": None})


class OAuthError(Exception):
    def __init__(self, code: str, description: str | None = None):
        super().__init__(code)
        self.code = code
        self.description = description


class ClientDirectory:
    """App clients of one user pool, described by the local Cognito (moto) once and then kept.

    Kept until `forget()`, which the local cloud calls after every Cognito call that may change a
    client (sam_local_cloud/aws_apis/app.py), so a client created or changed through the API counts at once.
    """

    def __init__(self, cognito: Any, user_pool_id: str, secrets: Callable[[str], list[str]] | None = None):
        self._cognito = cognito
        self._user_pool_id = user_pool_id
        # client id -> its active secrets (up to two: sam_local_cloud/aws_apis/cognito_secrets.py)
        self._secrets = secrets
        self._known: dict[str, dict[str, Any]] = {}
        self._generation = 0  # counts forget()s: a description read before one is not kept after it
        self._lock = threading.Lock()

    def find(self, client_id: str) -> dict[str, Any] | None:
        known = self._known.get(client_id)
        if known is not None:
            return known
        generation = self._generation
        client = self._describe(client_id)
        if client is not None:
            with self._lock:
                if generation == self._generation:
                    self._known[client_id] = client
        return client

    def forget(self) -> None:
        with self._lock:
            self._generation += 1
            self._known = {}

    def _describe(self, client_id: str) -> dict[str, Any] | None:
        try:
            client = dict(
                self._cognito.describe_user_pool_client(UserPoolId=self._user_pool_id, ClientId=client_id)[
                    "UserPoolClient"
                ]
            )
        except self._cognito.exceptions.ResourceNotFoundException:
            return None
        except self._cognito.exceptions.InvalidParameterException:
            return None
        if self._secrets is not None and client.get("ClientSecret"):
            client[ACTIVE_SECRETS] = self._secrets(client_id)
        return client


# Where a described client carries every secret it may prove itself with (Cognito's two, in rotation).
ACTIVE_SECRETS = "local:ActiveSecrets"


def secret_matches(client: dict[str, Any], secret: str | None) -> bool:
    """Whether `secret` is one of the client's active secrets (either of two, while one is rotated out).
    A public client has none, and no secret proves anything for it."""
    if not secret:
        return False
    actives = (client.get(ACTIVE_SECRETS) or [client["ClientSecret"]]) if client.get("ClientSecret") else []
    return any(secrets.compare_digest(secret.encode(), active.encode()) for active in actives)


def access_token_seconds(client: dict[str, Any]) -> int:
    validity = client.get("AccessTokenValidity")
    if validity is None:
        return _DEFAULT_ACCESS_TOKEN_SECONDS
    unit = client.get("TokenValidityUnits", {}).get("AccessToken", "hours")
    return int(validity) * _UNITS[unit]


# People's grants (sam_local_cloud/cognito/hosted.py): (client, grant, form) -> the token response's body.
UserGrants = Callable[[dict[str, Any], str, Any], dict[str, Any]]
# The pre token generation trigger for client_credentials (V3_0 only): (client, claims, client metadata)
# -> claims; raises SignInError when the trigger fails.
MachineTrigger = Callable[[dict[str, Any], dict[str, Any], dict[str, str]], dict[str, Any]]


class TokenEndpoint:
    def __init__(
        self,
        issuer: str,
        key: SigningKey,
        clients: ClientDirectory,
        user_grants: UserGrants | None = None,
        machine_trigger: MachineTrigger | None = None,
    ):
        self.issuer = issuer
        self._key = key
        self._clients = clients
        self._user_grants = user_grants
        self._machine_trigger = machine_trigger

    def __call__(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status=405, headers={"Allow": "POST"})
        try:
            return _json(200, self._token(request))
        except OAuthError as error:
            description = {"error_description": error.description} if error.description else {}
            return _json(400, {"error": error.code, **description})

    def _token(self, request: Request) -> dict[str, Any]:
        if request.mimetype != "application/x-www-form-urlencoded":
            raise OAuthError("invalid_request")
        form = request.form
        client = self._authenticate(request)
        grant = form.get("grant_type")
        if not grant:
            raise OAuthError("invalid_request")
        if grant not in _GRANTS:
            raise OAuthError("unsupported_grant_type")
        if grant != "client_credentials":
            if self._user_grants is None:
                self._refuse_user_grant(client, grant, form)
            else:
                return self._user_grants(client, grant, form)
        if "client_credentials" not in client.get("AllowedOAuthFlows", []) or not client.get(
            "AllowedOAuthFlowsUserPoolClient"
        ):
            raise OAuthError("unauthorized_client")
        requested = form.get("scope")
        scopes = granted_scopes(client, requested.split() if requested else None)
        try:
            token, lifetime = self.machine_token(client, scopes)
        except SignInError as error:  # the trigger failed: a 400 naming the failure
            raise OAuthError("invalid_request", error.message) from None
        return {"access_token": token, "expires_in": lifetime, "token_type": "Bearer"}

    def machine_token(
        self, client: dict[str, Any], scopes: list[str], metadata: dict[str, str] | None = None
    ) -> tuple[str, int]:
        """A client_credentials access token and its lifetime: one maker for /oauth2/token and the API's
        GetClientToken (sam_local_cloud/cognito/client_api.py), so their tokens are the same (claims, scopes,
        key, the trigger). Raises the trigger's failure (SignInError)."""
        lifetime = access_token_seconds(client)
        claims = client_credentials_claims(client["ClientId"], scopes, self.issuer, lifetime)
        if self._machine_trigger is not None:
            claims = self._machine_trigger(client, claims, metadata or {})
        return self._key.sign(claims), lifetime

    def _authenticate(self, request: Request) -> dict[str, Any]:
        return authenticate_client(request, self._clients)

    @staticmethod
    def _refuse_user_grant(client: dict[str, Any], grant: str, form: Any) -> None:
        """Without people's grants (no hosted sign-in), no code or refresh token is ever valid."""
        if grant == "authorization_code" and "code" not in client.get("AllowedOAuthFlows", []):
            raise OAuthError("unauthorized_client")
        if not form.get("code" if grant == "authorization_code" else "refresh_token"):
            raise OAuthError("invalid_request")
        raise OAuthError("invalid_grant")


def authenticate_client(request: Request, clients: ClientDirectory) -> dict[str, Any]:
    """The app client of a request to the token or revocation endpoint: HTTP Basic, or in the body
    (a public client sends only its `client_id`)."""
    client_id, secret = _basic_credentials(request)
    if client_id is None:
        client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
    if not client_id:
        raise OAuthError("invalid_client")
    client = clients.find(client_id)
    if client is None:
        raise OAuthError("invalid_client")
    if client.get("ClientSecret") is None:
        if secret is not None:  # a public client sends no secret
            raise OAuthError("invalid_client")
    elif not secret_matches(client, secret):
        raise OAuthError("invalid_client")
    return client


def granted_scopes(client: dict[str, Any], requested: list[str] | None) -> list[str]:
    """The scopes of a machine token: those asked for, each allowed, or every custom scope the client
    is allowed (OAuthError invalid_scope otherwise)."""
    allowed = client.get("AllowedOAuthScopes", [])
    if not requested:
        # Without `scope`, Cognito grants every custom (resource-server) scope of the client.
        granted = [s for s in allowed if "/" in s]
    else:
        granted = list(dict.fromkeys(requested))
        if any(scope not in allowed for scope in granted):
            raise OAuthError("invalid_scope")
    if not granted:
        raise OAuthError("invalid_scope")
    return granted


def _basic_credentials(request: Request) -> tuple[str | None, str | None]:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_request") from None
    client_id, sep, secret = decoded.partition(":")
    if not sep:
        raise OAuthError("invalid_request")
    return unquote(client_id), unquote(secret)


def jwks_document(keys: list[SigningKey]) -> dict[str, Any]:
    return {"keys": [k.public_jwk() for k in keys]}


def openid_configuration(
    issuer: str, jwks_url: str, token_url: str, domain_url: str | None = None
) -> dict[str, Any]:
    """The pool's discovery document; with `domain_url`, the hosted sign-in's endpoints too."""
    people = (
        {
            "authorization_endpoint": f"{domain_url}/oauth2/authorize",
            "userinfo_endpoint": f"{domain_url}/oauth2/userInfo",
            "scopes_supported": ["openid", "email", "phone", "profile"],
        }
        if domain_url
        else {}
    )
    return {
        "issuer": issuer,
        **people,
        "jwks_uri": jwks_url,
        "token_endpoint": token_url,
        "response_types_supported": ["code", "token"],
        "grant_types_supported": list(_GRANTS if domain_url else ("client_credentials",)),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
    }


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        mimetype="application/json",
        headers={"Cache-Control": "no-store", "Pragma": "no-cache"},
    )


def client_credentials_claims(
    client_id: str, scopes: Iterable[str], issuer: str, lifetime: int = 3600
) -> dict[str, Any]:
    """The claims of a Cognito client_credentials access token: its subject is the client itself."""
    now = int(time.time())
    return {
        "sub": client_id,
        "token_use": "access",
        "scope": " ".join(scopes),
        "auth_time": now,
        "iss": issuer,
        "exp": now + lifetime,
        "iat": now,
        "version": 2,
        "jti": str(uuid.uuid4()),
        "client_id": client_id,
    }


# ---------------------------------------------------------------- a person's tokens

# Attributes Cognito puts in ID tokens as booleans (the user pool stores them as "true"/"false").
_BOOLEAN_ATTRIBUTES = ("email_verified", "phone_number_verified")


def user_access_token_claims(
    *,
    sub: str,
    username: str,
    client_id: str,
    groups: Iterable[str],
    scopes: Iterable[str],
    issuer: str,
    auth_time: int,
    origin_jti: str,
    event_id: str,
    lifetime: int = 3600,
    now: int | None = None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claims of a person's access token, in Cognito's order (docs/aws-behaviour.md §5): no `aud`,
    `cognito:groups` only when there are groups."""
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {"sub": sub}
    if groups:
        claims["cognito:groups"] = list(groups)
    claims.update(
        {
            "iss": issuer,
            "version": 2,
            "client_id": client_id,
            "origin_jti": origin_jti,
            "event_id": event_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "auth_time": auth_time,
            "exp": now + lifetime,
            "iat": now,
            "jti": jti or str(uuid.uuid4()),
            "username": username,
        }
    )
    return claims


def user_id_token_claims(
    *,
    sub: str,
    username: str,
    client_id: str,
    groups: Iterable[str],
    attributes: Mapping[str, str],
    issuer: str,
    auth_time: int,
    origin_jti: str,
    event_id: str,
    lifetime: int = 3600,
    now: int | None = None,
    jti: str | None = None,
) -> dict[str, Any]:
    """The claims of a person's ID token, in Cognito's order: the user's attributes (`email`,
    `email_verified` as a boolean, custom ones) beside `aud`, `cognito:username` and `cognito:groups`."""
    now = int(time.time()) if now is None else now
    claims: dict[str, Any] = {"sub": sub}
    for name in _BOOLEAN_ATTRIBUTES:
        if name in attributes:
            claims[name] = str(attributes[name]).lower() == "true"
    if groups:
        claims["cognito:groups"] = list(groups)
    claims.update(
        {
            "iss": issuer,
            "cognito:username": username,
            "origin_jti": origin_jti,
            "aud": client_id,
            "event_id": event_id,
            "token_use": "id",
            "auth_time": auth_time,
            "exp": now + lifetime,
            "iat": now,
            "jti": jti or str(uuid.uuid4()),
        }
    )
    claims.update({k: v for k, v in attributes.items() if k != "sub" and k not in _BOOLEAN_ATTRIBUTES})
    return claims
