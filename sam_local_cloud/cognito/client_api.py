"""Cognito's newer app-client operations of the `cognito-idp` JSON API, which moto 5.2.5 does not serve.

- `GetClientToken`: a machine (M2M) access token through the API, with no domain, for a client with a
  secret and `ALLOW_CLIENT_TOKEN_AUTH`; the very token `/oauth2/token` gives for `client_credentials`
  (one maker, sam_local_cloud/cognito/tokens.py: claims, scopes, signing key, and the V3_0 trigger).
- `AddUserPoolClientSecret`, `ListUserPoolClientSecrets`, `DeleteUserPoolClientSecret`: up to two
  secrets per client, for rotation without downtime; either one authenticates a client everywhere
  (sam_local_cloud/aws_apis/cognito_secrets.py keeps them on moto's client).
- `GetTokensFromRefreshToken`: a refresh that, for a client with `RefreshTokenRotation` ENABLED, also
  returns a new refresh token and retires the old one after the client's grace period.

Rules, errors and sources: docs/aws-behaviour.md §4.2. Errors are Cognito's shape, as the sign-in
API's (sam_local_cloud/cognito/sign_in_api.py), whose dispatch this reuses.
"""

from __future__ import annotations

from typing import Any

from sam_local_cloud.aws_apis.cognito_secrets import ClientSecrets
from sam_local_cloud.cognito.people import RefreshRefused, UserDirectory, UserTokens, rotation_grace
from sam_local_cloud.cognito.sign_in_api import ApiError, SignInApi, _result
from sam_local_cloud.cognito.tokens import (
    ClientDirectory,
    OAuthError,
    TokenEndpoint,
    granted_scopes,
    secret_matches,
)

OPERATIONS = (
    "GetClientToken",
    "GetTokensFromRefreshToken",
    "AddUserPoolClientSecret",
    "ListUserPoolClientSecrets",
    "DeleteUserPoolClientSecret",
)
CLIENT_TOKEN_FLOW = "ALLOW_CLIENT_TOKEN_AUTH"  # noqa: S105 - an auth flow's name
# A client without ExplicitAuthFlows has Cognito's defaults, ALLOW_REFRESH_TOKEN_AUTH among them.
_DEFAULT_FLOWS = ("ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH")


class ClientApi(SignInApi):
    operations = OPERATIONS

    def __init__(
        self,
        *,
        tokens: UserTokens,
        directory: UserDirectory,
        clients: ClientDirectory,
        machine_tokens: TokenEndpoint,
        secrets: ClientSecrets,
    ):
        super().__init__(tokens=tokens, directory=directory, clients=clients)
        self._machine_tokens = machine_tokens
        self._secrets = secrets

    # ------------------------------------------------------------ machine tokens

    def get_client_token(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        # The secret first: a caller without it learns nothing of the client's settings.
        if not client.get("ClientSecret") or not secret_matches(client, _string(body, "Secret")):
            raise _bad_secret(client)
        if CLIENT_TOKEN_FLOW not in (client.get("ExplicitAuthFlows") or ()):
            message = f"{CLIENT_TOKEN_FLOW} flow not enabled for this client"
            raise ApiError("InvalidParameterException", message)
        requested = body.get("Scopes")
        if requested is not None and (
            not isinstance(requested, list) or not all(isinstance(s, str) for s in requested)
        ):
            raise ApiError("SerializationException", "Scopes must be a list of strings")
        try:
            scopes = granted_scopes(client, requested)
        except OAuthError:
            raise ApiError("InvalidParameterException", "invalid_scope") from None
        token, lifetime = self._machine_tokens.machine_token(client, scopes, _metadata(body))
        result = {"AccessToken": token, "ExpiresIn": lifetime, "TokenType": "Bearer"}
        return {"ClientAuthenticationResult": result}

    # ------------------------------------------------------------ refresh, with rotation

    def get_tokens_from_refresh_token(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        if client.get("ClientSecret") and not secret_matches(client, _string(body, "ClientSecret")):
            raise _bad_secret(client)
        flows = client.get("ExplicitAuthFlows") or _DEFAULT_FLOWS
        if rotation_grace(client) is None and "ALLOW_REFRESH_TOKEN_AUTH" not in flows:
            raise ApiError("InvalidParameterException", "REFRESH_TOKEN_AUTH flow not enabled for this client")
        token = _string(body, "RefreshToken")
        if not token:
            raise ApiError("InvalidParameterException", "Missing required parameter RefreshToken")
        try:
            tokens = self._tokens.refresh(token, client, oauth=False, metadata=_metadata(body))
        except RefreshRefused as error:
            raise ApiError(error.kind, error.message) from None
        return {"AuthenticationResult": _result(tokens)["AuthenticationResult"]}

    # ------------------------------------------------------------ two secrets

    def add_user_pool_client_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        value = body.get("ClientSecret")
        descriptor = self._secrets.add(*_pool_and_client(body), str(value) if value is not None else None)
        self._clients.forget()
        return {"ClientSecretDescriptor": descriptor}

    def list_user_pool_client_secrets(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"ClientSecrets": self._secrets.listed(*_pool_and_client(body))}

    def delete_user_pool_client_secret(self, body: dict[str, Any]) -> dict[str, Any]:
        secret_id = _string(body, "ClientSecretId")
        if not secret_id:
            raise ApiError("InvalidParameterException", "Missing required parameter ClientSecretId")
        self._secrets.delete(*_pool_and_client(body), secret_id)
        self._clients.forget()
        return {}


def _bad_secret(client: dict[str, Any]) -> ApiError:
    return ApiError("NotAuthorizedException", f"Invalid client secret for client {client['ClientId']}.")


def _string(body: dict[str, Any], name: str) -> str:
    value = body.get(name)
    return value if isinstance(value, str) else ""


def _pool_and_client(body: dict[str, Any]) -> tuple[str, str]:
    pool_id, client_id = _string(body, "UserPoolId"), _string(body, "ClientId")
    for name, value in (("UserPoolId", pool_id), ("ClientId", client_id)):
        if not value:
            raise ApiError("InvalidParameterException", f"Missing required parameter {name}")
    return pool_id, client_id


def _metadata(body: dict[str, Any]) -> dict[str, str]:
    """The caller's ClientMetadata, which the pool's trigger receives as `request.clientMetadata`."""
    metadata = body.get("ClientMetadata") or {}
    if not isinstance(metadata, dict) or not all(isinstance(v, str) for v in metadata.values()):
        raise ApiError("SerializationException", "ClientMetadata must map names to strings")
    return metadata
