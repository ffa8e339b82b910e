"""The operations of the `cognito-idp` JSON API that sign people in, served here instead of by moto.

`InitiateAuth` (USER_PASSWORD_AUTH, REFRESH_TOKEN_AUTH), `AdminInitiateAuth` (ADMIN_USER_PASSWORD_AUTH,
REFRESH_TOKEN_AUTH), `RespondToAuthChallenge` (NEW_PASSWORD_REQUIRED) and `RevokeToken`, so that unchanged
boto3 code (`boto3.client("cognito-idp", endpoint_url=...)`) signs people in and gets tokens that went through
the pool's trigger (sam_local_cloud/cognito/people.py). Every other operation (AdminCreateUser,
AdminAddUserToGroup, ...) stays with moto. Errors are Cognito's: 400, `{"__type", "message"}` and
`x-amzn-ErrorType` (docs/aws-behaviour.md §5). SRP and custom authentication are refused by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
import uuid
from typing import Any

from werkzeug.wrappers import Request, Response

from sam_local_cloud import console
from sam_local_cloud.cognito.people import (
    AFTER_NEW_PASSWORD,
    SIGN_IN_API,
    SIGN_IN_API_SCOPE,
    RefreshRefused,
    SignInError,
    Tokens,
    UserDirectory,
    UserTokens,
    check_sign_in,
    rotation_grace,
)
from sam_local_cloud.cognito.tokens import ACTIVE_SECRETS, ClientDirectory, secret_matches

TARGET_PREFIX = "AWSCognitoIdentityProviderService."
OPERATIONS = ("InitiateAuth", "AdminInitiateAuth", "RespondToAuthChallenge", "RevokeToken")
CHALLENGE_SECONDS = 180  # a challenge's Session lives 3 minutes
_AUTH_FLOWS = (
    "USER_SRP_AUTH", "REFRESH_TOKEN_AUTH", "REFRESH_TOKEN", "CUSTOM_AUTH", "ADMIN_NO_SRP_AUTH",
    "USER_PASSWORD_AUTH", "ADMIN_USER_PASSWORD_AUTH", "USER_AUTH",
)  # fmt: skip
# ExplicitAuthFlows that allow each flow (ALLOW_... and its legacy name).
_ENABLED_BY = {
    "USER_PASSWORD_AUTH": {"ALLOW_USER_PASSWORD_AUTH", "USER_PASSWORD_AUTH"},
    "ADMIN_USER_PASSWORD_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "ADMIN_NO_SRP_AUTH": {"ALLOW_ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"},
    "REFRESH_TOKEN_AUTH": {"ALLOW_REFRESH_TOKEN_AUTH"},
    "REFRESH_TOKEN": {"ALLOW_REFRESH_TOKEN_AUTH"},
    "USER_SRP_AUTH": {"ALLOW_USER_SRP_AUTH"},
    "CUSTOM_AUTH": {"ALLOW_CUSTOM_AUTH", "CUSTOM_AUTH_FLOW_ONLY"},
    "USER_AUTH": {"ALLOW_USER_AUTH"},
}
# A client without ExplicitAuthFlows gets Cognito's defaults.
_DEFAULT_FLOWS = {"ALLOW_USER_SRP_AUTH", "ALLOW_CUSTOM_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}


class ApiError(Exception):
    def __init__(self, kind: str, message: str, status: int = 400):
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.status = status


class SignInApi:
    """Serves its `operations` for one user pool; `targets()` maps their X-Amz-Target values to it."""

    operations: tuple[str, ...] = OPERATIONS

    def __init__(self, *, tokens: UserTokens, directory: UserDirectory, clients: ClientDirectory):
        self._tokens = tokens
        self._directory = directory
        self._clients = clients
        self._challenges: dict[str, tuple[str, str, float]] = {}  # Session -> (username, client id, expiry)
        self._lock = threading.Lock()

    def targets(self) -> dict[str, Any]:
        return {TARGET_PREFIX + operation: self for operation in self.operations}

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        operation = request.headers.get("X-Amz-Target", "").removeprefix(TARGET_PREFIX)
        try:
            try:
                body = json.loads(request.get_data() or b"{}")
            except ValueError:
                raise ApiError("SerializationException", "the request body is not JSON") from None
            if not isinstance(body, dict):
                raise ApiError("SerializationException", "the request body must be a JSON object")
            if operation not in self.operations:
                raise ApiError("UnknownOperationException", f"{operation} is not served here")
            response = _answer(200, getattr(self, _method(operation))(body))
        except SignInError as error:
            response = _error(ApiError(error.kind, error.message))
        except ApiError as error:
            response = _error(error)
        elapsed = (time.perf_counter() - started) * 1000
        console.request_line(
            request.method, f"{request.path} {operation}", response.status_code, None, elapsed
        )
        return response

    # ------------------------------------------------------------ operations

    def initiate_auth(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        flow = self._flow(body, client, admin=False)
        parameters = _parameters(body)
        if flow == "USER_PASSWORD_AUTH":
            return self._password(client, parameters)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self._refresh(client, parameters)
        raise _not_served(flow)

    def admin_initiate_auth(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("UserPoolId") != self._directory.user_pool_id:
            raise ApiError("ResourceNotFoundException", f"User pool {body.get('UserPoolId')} does not exist.")
        client = self._client(body)
        flow = self._flow(body, client, admin=True)
        parameters = _parameters(body)
        if flow in ("ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH"):
            return self._password(client, parameters)
        if flow in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            return self._refresh(client, parameters)
        raise _not_served(flow)

    def respond_to_auth_challenge(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        name = body.get("ChallengeName")
        if name != "NEW_PASSWORD_REQUIRED":
            raise ApiError(
                "InvalidParameterException",
                f"The local cloud answers NEW_PASSWORD_REQUIRED only, not {name}",
            )
        responses = body.get("ChallengeResponses") or {}
        session = str(body.get("Session") or "")
        with self._lock:
            username, client_id, expires_at = self._challenges.get(session, ("", "", 0.0))
        if client_id != client["ClientId"] or time.time() > expires_at:
            raise ApiError("NotAuthorizedException", "Invalid session for the user, session is expired.")
        if not responses.get("NEW_PASSWORD"):
            raise ApiError("InvalidParameterException", "Missing required parameter NEW_PASSWORD")
        self._check_secret_hash(client, str(responses.get("USERNAME", username)), responses)
        self._directory.set_password(username, str(responses["NEW_PASSWORD"]))  # a weak one: try again
        with self._lock:
            self._challenges.pop(session, None)  # answered: the session is spent
        person = self._directory.find(username)
        assert person is not None
        return self._authenticated(person, client, AFTER_NEW_PASSWORD)

    def revoke_token(self, body: dict[str, Any]) -> dict[str, Any]:
        client = self._client(body)
        if client.get("ClientSecret") and not secret_matches(client, str(body.get("ClientSecret", ""))):
            raise ApiError("NotAuthorizedException", "Client is not authorized to revoke this token")
        if not client.get("EnableTokenRevocation", True):
            raise ApiError("UnsupportedOperationException", "Token revocation is not enabled for this client")
        token = str(body.get("Token") or "")
        if not token:
            raise ApiError("InvalidParameterException", "Missing required parameter Token")
        if token.count(".") == 2:  # a JWT: an access or ID token, which cannot be revoked
            raise ApiError("UnsupportedTokenTypeException", "The token is not a refresh token")
        self._tokens.revoke(token, client["ClientId"])
        return {}

    # ------------------------------------------------------------ steps

    def _client(self, body: dict[str, Any]) -> dict[str, Any]:
        client_id = body.get("ClientId")
        client = self._clients.find(str(client_id)) if client_id else None
        if client is None:
            raise ApiError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client

    @staticmethod
    def _flow(body: dict[str, Any], client: dict[str, Any], *, admin: bool) -> str:
        flow = str(body.get("AuthFlow", ""))
        if flow not in _AUTH_FLOWS:
            raise ApiError(
                "InvalidParameterException",
                f"1 validation error detected: Value '{flow}' at 'authFlow' failed to satisfy constraint: "
                f"Member must satisfy enum value set: [{', '.join(_AUTH_FLOWS)}]",
            )
        if flow.startswith("ADMIN_") != admin and flow not in ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN"):
            raise ApiError("InvalidParameterException", "Initiate Auth method not supported")
        allowed = set(client.get("ExplicitAuthFlows") or _DEFAULT_FLOWS)
        if not allowed & _ENABLED_BY[flow]:
            message = (
                "Auth flow not enabled for this client"
                if admin
                else f"{flow} flow not enabled for this client"
            )
            raise ApiError("InvalidParameterException", message)
        return flow

    def _password(self, client: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        username, password = parameters.get("USERNAME"), parameters.get("PASSWORD")
        for name, value in (("USERNAME", username), ("PASSWORD", password)):
            if not value:
                raise ApiError("InvalidParameterException", f"Missing required parameter {name}")
        self._check_secret_hash(client, str(username), parameters)
        person = check_sign_in(self._directory, client, str(username), str(password))
        if person.status == "FORCE_CHANGE_PASSWORD":
            session = secrets.token_urlsafe(96)
            with self._lock:
                self._challenges[session] = (
                    person.username,
                    client["ClientId"],
                    time.time() + CHALLENGE_SECONDS,
                )
            attributes = {k: v for k, v in person.attributes.items() if k not in ("sub", "email_verified")}
            return {
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": session,
                "ChallengeParameters": {
                    "USER_ID_FOR_SRP": person.username,
                    "requiredAttributes": "[]",
                    "userAttributes": json.dumps(attributes),
                },
            }
        return self._authenticated(person, client, SIGN_IN_API)

    def _authenticated(self, person: Any, client: dict[str, Any], source: str) -> dict[str, Any]:
        # The sign-in API cannot ask for scopes: its tokens ask for aws.cognito.signin.user.admin only.
        tokens = self._tokens.sign_in(person, client, source=source, scopes=[SIGN_IN_API_SCOPE])
        return _result(tokens)

    def _refresh(self, client: dict[str, Any], parameters: dict[str, Any]) -> dict[str, Any]:
        token = parameters.get("REFRESH_TOKEN")
        if not token:
            raise ApiError("InvalidParameterException", "Missing required parameter REFRESH_TOKEN")
        if rotation_grace(client) is not None:
            raise ApiError(
                "InvalidParameterException",
                "Refresh token rotation is enabled for this client: refresh with GetTokensFromRefreshToken",
            )
        owner = self._tokens.username_of(str(token))
        if owner is not None:  # an unknown token is refused by refresh() as Cognito words it
            # SECRET_HASH over the username the token was issued to: Cognito's, not what was typed.
            self._check_secret_hash(client, owner, parameters)
        try:
            tokens = self._tokens.refresh(str(token), client, oauth=False)
        except RefreshRefused as error:
            raise ApiError("NotAuthorizedException", error.message) from None
        return _result(tokens)

    @staticmethod
    def _check_secret_hash(client: dict[str, Any], username: str, parameters: dict[str, Any]) -> None:
        """A client with a secret proves it on each call: HMAC-SHA256(secret, username + client id), with
        either of its secrets while one is rotated out."""
        if not client.get("ClientSecret"):
            return
        sent = str(parameters.get("SECRET_HASH", "")).encode()
        message = (username + client["ClientId"]).encode()
        if not any(
            secrets.compare_digest(
                base64.b64encode(hmac.new(s.encode(), message, hashlib.sha256).digest()), sent
            )
            for s in client.get(ACTIVE_SECRETS) or [client["ClientSecret"]]
        ):
            raise ApiError(
                "NotAuthorizedException", f"Unable to verify secret hash for client {client['ClientId']}"
            )


def _method(operation: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in operation).lstrip("_")


def _parameters(body: dict[str, Any]) -> dict[str, Any]:
    parameters = body.get("AuthParameters") or {}
    if not isinstance(parameters, dict):
        raise ApiError("SerializationException", "AuthParameters must be an object")
    return parameters


def _not_served(flow: str) -> ApiError:
    return ApiError(
        "InvalidParameterException",
        f"{flow} is not served by the local cloud; sign in with USER_PASSWORD_AUTH "
        "(on by default locally) or through the hosted sign-in (/oauth2/authorize)",
    )


def _result(tokens: Tokens) -> dict[str, Any]:
    result: dict[str, Any] = {"AccessToken": tokens.access_token, "ExpiresIn": tokens.expires_in}
    if tokens.id_token:
        result["IdToken"] = tokens.id_token
    if tokens.refresh_token:
        result["RefreshToken"] = tokens.refresh_token
    result["TokenType"] = "Bearer"
    return {"ChallengeParameters": {}, "AuthenticationResult": result}


def _answer(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body),
        status=status,
        content_type="application/x-amz-json-1.1",
        headers={"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})},
    )


def _error(error: ApiError) -> Response:
    return _answer(
        error.status,
        {"__type": error.kind, "message": error.message},
        {"x-amzn-ErrorType": f"{error.kind}:", "x-amzn-ErrorMessage": error.message},
    )
