"""The user pool's token endpoint, signing key and JWKS, as Amazon Cognito serves them.

`POST /oauth2/token` follows Cognito (reference notes §4): client authentication by HTTP Basic or
in the body, `grant_type=client_credentials`, an optional space-separated `scope` (default: every
scope the client is allowed), and errors as 400 `{"error": ...}`. Clients are looked up with
DescribeUserPoolClient against the local AWS endpoint, so clients created at run time work too.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from werkzeug.wrappers import Request, Response

_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
_DEFAULT_ACCESS_TOKEN_SECONDS = 3600  # Cognito's default: 60 minutes
_GRANTS = ("client_credentials", "authorization_code", "refresh_token")
# Test-only form parameters, honoured only when the cloud runs with --test-hooks: they let the
# e2e suite get correctly signed tokens that are expired or ID-token shaped, which no client can
# obtain from Cognito by itself.
TEST_EXPIRES_IN = "x_test_expires_in"
TEST_TOKEN_USE = "x_test_token_use"  # noqa: S105 - a form field name, not a secret


@dataclass(frozen=True)
class SigningKey:
    """An RS256 key made at start-up; its public half is published in the pool's JWKS."""

    kid: str
    private_key: rsa.RSAPrivateKey

    @classmethod
    def generate(cls) -> SigningKey:
        return cls(kid=str(uuid.uuid4()), private_key=rsa.generate_private_key(65537, 2048))

    def public_jwk(self) -> dict[str, str]:
        jwk = json.loads(RSAAlgorithm.to_jwk(self.private_key.public_key()))
        return {"alg": "RS256", "e": jwk["e"], "kid": self.kid, "kty": "RSA", "n": jwk["n"], "use": "sig"}

    def sign(self, claims: dict[str, Any]) -> str:
        # Cognito's header is {"kid", "alg"}: no "typ".
        return jwt.encode(claims, self.private_key, algorithm="RS256", headers={"kid": self.kid, "typ": None})


class OAuthError(Exception):
    def __init__(self, code: str):
        super().__init__(code)
        self.code = code


class ClientDirectory:
    """App clients of one user pool, read from the local Cognito (moto) on every request."""

    def __init__(self, cognito: Any, user_pool_id: str):
        self._cognito = cognito
        self._user_pool_id = user_pool_id

    def find(self, client_id: str) -> dict[str, Any] | None:
        try:
            return self._cognito.describe_user_pool_client(UserPoolId=self._user_pool_id, ClientId=client_id)[
                "UserPoolClient"
            ]
        except self._cognito.exceptions.ResourceNotFoundException:
            return None
        except self._cognito.exceptions.InvalidParameterException:
            return None


def access_token_seconds(client: dict[str, Any]) -> int:
    validity = client.get("AccessTokenValidity")
    if validity is None:
        return _DEFAULT_ACCESS_TOKEN_SECONDS
    unit = client.get("TokenValidityUnits", {}).get("AccessToken", "hours")
    return int(validity) * _UNITS[unit]


class TokenEndpoint:
    def __init__(self, issuer: str, key: SigningKey, clients: ClientDirectory, *, test_hooks: bool = False):
        self.issuer = issuer
        self._key = key
        self._clients = clients
        self._test_hooks = test_hooks

    def __call__(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status=405, headers={"Allow": "POST"})
        try:
            return _json(200, self._token(request))
        except OAuthError as error:
            return _json(400, {"error": error.code})

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
            self._refuse_user_grant(client, grant, form)
        if "client_credentials" not in client.get("AllowedOAuthFlows", []) or not client.get(
            "AllowedOAuthFlowsUserPoolClient"
        ):
            raise OAuthError("unauthorized_client")
        scopes = _granted_scopes(client, form.get("scope"))
        lifetime = access_token_seconds(client)
        kind = "access"
        if self._test_hooks:
            try:
                lifetime = int(form.get(TEST_EXPIRES_IN, lifetime))
            except ValueError:
                raise OAuthError("invalid_request") from None
            kind = form.get(TEST_TOKEN_USE, kind)
        claims = self.access_claims(client["ClientId"], scopes, lifetime)
        if kind == "id":
            claims = self.id_claims(client["ClientId"], lifetime)
        return {"access_token": self._key.sign(claims), "expires_in": lifetime, "token_type": "Bearer"}

    def _authenticate(self, request: Request) -> dict[str, Any]:
        client_id, secret = _basic_credentials(request)
        if client_id is None:
            client_id, secret = request.form.get("client_id"), request.form.get("client_secret")
        if not client_id:
            raise OAuthError("invalid_client")
        client = self._clients.find(client_id)
        if client is None or client.get("ClientSecret", None) != secret:
            raise OAuthError("invalid_client")
        return client

    @staticmethod
    def _refuse_user_grant(client: dict[str, Any], grant: str, form: Any) -> None:
        """The local pool has no users and no hosted login, so it never issues codes or refresh tokens."""
        if grant == "authorization_code" and "code" not in client.get("AllowedOAuthFlows", []):
            raise OAuthError("unauthorized_client")
        if not form.get("code" if grant == "authorization_code" else "refresh_token"):
            raise OAuthError("invalid_request")
        raise OAuthError("invalid_grant")

    def access_claims(self, client_id: str, scopes: list[str], lifetime: int) -> dict[str, Any]:
        return client_credentials_claims(client_id, scopes, self.issuer, lifetime)

    def id_claims(self, client_id: str, lifetime: int) -> dict[str, Any]:
        now = int(time.time())
        subject = str(uuid.uuid4())
        return {
            "sub": subject,
            "aud": client_id,
            "token_use": "id",
            "cognito:username": subject,
            "email": "test-user@example.com",
            "email_verified": True,
            "auth_time": now,
            "iss": self.issuer,
            "exp": now + lifetime,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "origin_jti": str(uuid.uuid4()),
            "event_id": str(uuid.uuid4()),
        }


def _granted_scopes(client: dict[str, Any], requested: str | None) -> list[str]:
    allowed = client.get("AllowedOAuthScopes", [])
    if requested is None or not requested.strip():
        # Without `scope`, Cognito grants every custom (resource-server) scope of the client.
        granted = [s for s in allowed if "/" in s]
    else:
        granted = list(dict.fromkeys(requested.split()))
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


def openid_configuration(issuer: str, token_url: str) -> dict[str, Any]:
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "token_endpoint": token_url,
        "response_types_supported": ["code", "token"],
        "grant_types_supported": ["client_credentials"],
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
