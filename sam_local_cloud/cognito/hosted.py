"""The user pool domain's endpoints for people, as Cognito serves them (docs/aws-behaviour.md §5).

- `GET /oauth2/authorize`: the code grant with PKCE (S256 only); `redirect_uri` must be exactly one
  of the client's callback URLs, else Cognito's error page (`/error?error=redirect_mismatch`), never
  a redirect to it; other mistakes are redirected to it as `?error=...&state=...`. It sends the
  browser to `/login`, or, when the browser is still signed in (the `cognito` cookie), straight back
  with a code.
- `GET|POST /login`: a small sign-in page (a plain HTML form, with a CSRF token in a cookie and a
  hidden field, as Cognito's) that issues the code: single use, 5 minutes, bound to the client, the
  redirect URI and the PKCE challenge. The person's tokens are made there, through the trigger
  (`TokenGeneration_HostedAuth`); a failing trigger is redirected as `error=invalid_request`.
- `POST /oauth2/token` grants `authorization_code` and `refresh_token` (`grants`, called by the token
  endpoint of sam_local_cloud/cognito/tokens.py after it has authenticated the client).
- `GET|POST /oauth2/userInfo`, `POST /oauth2/revoke`, `GET /logout`, and `/error`.
"""

from __future__ import annotations

import html
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import jwt
from werkzeug.wrappers import Request, Response

from sam_local_cloud.cognito.people import (
    HOSTED,
    Person,
    RefreshRefused,
    SignInError,
    Tokens,
    UserDirectory,
    UserTokens,
    check_sign_in,
    rotation_grace,
    s256,
)
from sam_local_cloud.cognito.tokens import ClientDirectory, OAuthError, SigningKey, authenticate_client

CODE_SECONDS = 300  # an authorization code lives 5 minutes
SESSION_SECONDS = 3600  # the hosted sign-in remembers a browser for an hour
SESSION_COOKIE = "cognito"
CSRF_COOKIE = "XSRF-TOKEN"
# userInfo: which attributes each OIDC scope releases (openid alone releases all the client may read).
_SCOPE_ATTRIBUTES = {
    "email": ("email", "email_verified"),
    "phone": ("phone_number", "phone_number_verified"),
    "profile": (
        "name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile",
        "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at", "address",
    ),
}  # fmt: skip


class ErrorPage(Exception):
    """Cognito's own error page: nothing is sent to a redirect URI that is not the client's."""

    def __init__(self, error: str, client_id: str | None = None):
        super().__init__(error)
        self.error = error
        self.client_id = client_id


class Redirected(Exception):
    """An error sent back to the client's (registered) redirect URI."""

    def __init__(self, redirect_uri: str, error: str, state: str | None, description: str | None = None):
        super().__init__(error)
        self.location = _with_query(
            redirect_uri, {"error_description": description, "state": state, "error": error}
        )


@dataclass(frozen=True)
class AuthorizeRequest:
    client: dict[str, Any]
    redirect_uri: str
    state: str | None
    scopes: tuple[str, ...]
    code_challenge: str | None
    nonce: str | None
    prompt: str | None
    query: str  # as received: /login keeps it in its form's action


@dataclass
class Code:
    client_id: str
    redirect_uri: str
    code_challenge: str | None
    tokens: Tokens
    expires_at: float


@dataclass
class BrowserSession:
    username: str
    auth_time: int
    expires_at: float


class HostedUi:
    def __init__(
        self,
        *,
        tokens: UserTokens,
        directory: UserDirectory,
        clients: ClientDirectory,
        issuer: str,
        key: SigningKey,
    ):
        self._tokens = tokens
        self._directory = directory
        self._clients = clients
        self._issuer = issuer
        self._public_key = key.private_key.public_key()
        self._codes: dict[str, Code] = {}
        self._sessions: dict[str, BrowserSession] = {}
        self._lock = threading.Lock()

    def endpoints(self) -> dict[str, Any]:
        return {
            "/oauth2/authorize": self.authorize,
            "/login": self.login,
            "/logout": self.logout,
            "/error": self.error_page,
            "/oauth2/userInfo": self.user_info,
            "/oauth2/revoke": self.revoke,
        }

    # ------------------------------------------------------------ the browser's side

    def authorize(self, request: Request) -> Response:
        if request.method != "GET":
            return Response(status=405, headers={"Allow": "GET"})
        try:
            wanted = self._authorize_request(request)
            session = self._browser_session(request)
            if session is None or wanted.prompt == "login":
                return _redirect(f"/login?{wanted.query}")
            person = self._directory.find(session.username)
            if person is None or not person.enabled:
                return _redirect(f"/login?{wanted.query}")
            return _redirect(self._code_for(wanted, person, session.auth_time))
        except ErrorPage as error:
            return _error_redirect(error.error, error.client_id)
        except Redirected as error:
            return _redirect(error.location)

    def login(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return Response(status=405, headers={"Allow": "GET, POST"})
        try:
            wanted = self._authorize_request(request)
            if request.method == "GET":
                return self._page(wanted, request)
            return self._sign_in(wanted, request)
        except ErrorPage as error:
            return _error_redirect(error.error, error.client_id)
        except Redirected as error:
            return _redirect(error.location)

    def logout(self, request: Request) -> Response:
        """Ends the browser's session, then goes to a registered sign-out URL (or back to /login)."""
        client_id = request.args.get("client_id")
        client = self._clients.find(client_id) if client_id else None
        if client is None:
            return _error_redirect("invalid_request", client_id)
        logout_uri = request.args.get("logout_uri")
        if logout_uri is not None:
            if logout_uri not in client.get("LogoutURLs", []):
                return _error_redirect("redirect_mismatch", client_id)
            target = logout_uri
        else:
            try:
                target = f"/login?{self._authorize_request(request).query}"
            except ErrorPage as error:
                return _error_redirect(error.error, client_id)
            except Redirected as error:
                target = error.location
        with self._lock:
            self._sessions.pop(request.cookies.get(SESSION_COOKIE, ""), None)
        response = _redirect(target)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    def error_page(self, request: Request) -> Response:
        error = request.args.get("error", "")
        body = (
            "<p>An error was encountered with the requested page.</p>"
            f"<p><code>{html.escape(error)}</code></p>"
        )
        return _html(400, "Error", body)

    # ------------------------------------------------------------ the app's side

    def grants(self, client: dict[str, Any], grant: str, form: Any) -> dict[str, Any]:
        """`authorization_code` and `refresh_token` at /oauth2/token, for an authenticated client."""
        if grant == "authorization_code":
            return self._redeem(client, form)
        if (
            "ALLOW_REFRESH_TOKEN_AUTH"
            not in (client.get("ExplicitAuthFlows") or ["ALLOW_REFRESH_TOKEN_AUTH"])
            and rotation_grace(client) is None
        ):  # a rotating client refreshes here without that flow
            raise OAuthError("unauthorized_client")
        refresh_token = form.get("refresh_token")
        if not refresh_token:
            raise OAuthError("invalid_request")
        try:
            tokens = self._tokens.refresh(refresh_token, client, oauth=True)
        except RefreshRefused:
            raise OAuthError("invalid_grant") from None
        except SignInError as error:  # a disabled user, a failing trigger
            code = "invalid_grant" if error.kind == "NotAuthorizedException" else "invalid_request"
            raise OAuthError(code, error.message) from None
        return _token_response(tokens)

    def user_info(self, request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return Response(status=405, headers={"Allow": "GET, POST"})
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _bearer_error(400, "invalid_request", "Bad OAuth2 request at UserInfo Endpoint")
        invalid = _bearer_error(
            401,
            "invalid_token",
            "Access token is expired, disabled, or deleted, or the user has globally signed out.",
        )
        try:
            claims = jwt.decode(token.strip(), self._public_key, algorithms=["RS256"], issuer=self._issuer)
        except jwt.PyJWTError:
            return invalid
        scopes = set(str(claims.get("scope", "")).split())
        person = self._directory.find(claims.get("username"))
        if (
            claims.get("token_use") != "access"
            or "openid" not in scopes  # tokens of the sign-in API have no openid: refused
            or self._tokens.is_revoked(claims.get("origin_jti"))
            or person is None
            or not person.enabled
        ):
            return invalid
        return _json(200, _released(person, scopes, self._clients.find(str(claims.get("client_id")))))

    def revoke(self, request: Request) -> Response:
        if request.method != "POST":
            return Response(status=405, headers={"Allow": "POST"})
        try:
            client = authenticate_client(request, self._clients)
        except OAuthError as error:
            return _json(401 if error.code == "invalid_client" else 400, {"error": error.code})
        token = request.form.get("token")
        if not token or not client.get("EnableTokenRevocation", True):
            return _json(400, {"error": "invalid_request"})
        if token.count(".") == 2:  # a JWT (access or ID token): only refresh tokens are revoked
            return _json(400, {"error": "unsupported_token_type"})
        self._tokens.revoke(token, client["ClientId"])
        return Response(status=200)

    # ------------------------------------------------------------ steps

    def _authorize_request(self, request: Request) -> AuthorizeRequest:
        """The authorize parameters checked in Cognito's order: client, redirect URI, then the rest."""
        args = request.args
        client_id = args.get("client_id")
        client = self._clients.find(client_id) if client_id else None
        if client is None:
            raise ErrorPage("invalid_request", client_id)
        redirect_uri = args.get("redirect_uri")
        if not redirect_uri or redirect_uri not in client.get("CallbackURLs", []):
            raise ErrorPage("redirect_mismatch", client_id)
        state = args.get("state")

        def refuse(error: str) -> Redirected:
            return Redirected(redirect_uri, error, state)

        response_type = args.get("response_type")
        if not response_type:
            raise refuse("invalid_request")
        if response_type not in ("code", "token"):
            raise refuse("unsupported_response_type")
        flow = {"code": "code", "token": "implicit"}[response_type]
        if flow not in client.get("AllowedOAuthFlows", []) or not client.get(
            "AllowedOAuthFlowsUserPoolClient"
        ):
            raise refuse("unauthorized_client")
        if flow == "implicit":
            raise refuse("unsupported_response_type")  # not served locally: use the code flow
        challenge, method = args.get("code_challenge"), args.get("code_challenge_method")
        if (challenge or method) and (not challenge or method != "S256"):
            raise refuse("invalid_request")  # Cognito takes S256 only, and both or neither
        allowed = client.get("AllowedOAuthScopes", [])
        asked = args.get("scope", "").split()
        if any(scope not in allowed for scope in asked):
            raise refuse("invalid_scope")
        return AuthorizeRequest(
            client=client,
            redirect_uri=redirect_uri,
            state=state,
            scopes=tuple(dict.fromkeys(asked or allowed)),
            code_challenge=challenge,
            nonce=args.get("nonce"),
            prompt=args.get("prompt"),
            query=request.query_string.decode(),
        )

    def _browser_session(self, request: Request) -> BrowserSession | None:
        with self._lock:
            session = self._sessions.get(request.cookies.get(SESSION_COOKIE, ""))
        return session if session is not None and time.time() < session.expires_at else None

    def _page(
        self,
        wanted: AuthorizeRequest,
        request: Request,
        message: str = "",
        new_password: bool = False,
        username: str = "",
    ) -> Response:
        csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
        fields = [
            f'<input type="hidden" name="_csrf" value="{html.escape(csrf)}">',
            f'<label>Username <input name="username" value="{html.escape(username)}" autocomplete="username"'
            " required></label>",
            '<label>Password <input name="password" type="password" autocomplete="current-password"'
            " required></label>",
        ]
        if new_password:
            fields.append(
                '<label>New password <input name="new_password" type="password" autocomplete="new-password"'
                f" required></label><p>{html.escape(self._directory.policy_text())}</p>"
            )
        note = f'<p class="error" role="alert">{html.escape(message)}</p>' if message else ""
        body = (
            f'{note}<form method="post" action="/login?{html.escape(wanted.query)}">{"".join(fields)}'
            '<button type="submit" name="signInSubmitButton">Sign in</button></form>'
        )
        response = _html(200, "Sign in", body)
        response.set_cookie(CSRF_COOKIE, csrf, path="/", httponly=True, samesite="Lax")
        return response

    def _sign_in(self, wanted: AuthorizeRequest, request: Request) -> Response:
        form = request.form
        csrf = request.cookies.get(CSRF_COOKIE)
        if not csrf or not secrets.compare_digest(csrf.encode(), form.get("_csrf", "").encode()):
            raise ErrorPage("invalid_request", wanted.client["ClientId"])
        username, password = form.get("username", ""), form.get("password", "")
        try:
            person = check_sign_in(self._directory, wanted.client, username, password)
            if person.status == "FORCE_CHANGE_PASSWORD":
                if not form.get("new_password"):
                    return self._page(wanted, request, "Change your password to sign in.", True, username)
                self._directory.set_password(person.username, form["new_password"])
        except SignInError as error:
            new_password = error.kind == "InvalidPasswordException"
            return self._page(wanted, request, error.message, new_password, username)
        auth_time = int(time.time())
        location = self._code_for(wanted, person, auth_time)
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._sessions[session_id] = BrowserSession(
                person.username, auth_time, time.time() + SESSION_SECONDS
            )
        response = _redirect(location)
        response.set_cookie(SESSION_COOKIE, session_id, path="/", httponly=True, samesite="Lax")
        return response

    def _code_for(self, wanted: AuthorizeRequest, person: Person, auth_time: int) -> str:
        """The redirect URI with a new code, the person's tokens made now (through the trigger)."""
        try:
            tokens = self._tokens.sign_in(
                person,
                wanted.client,
                source=HOSTED,
                scopes=list(wanted.scopes),
                with_id_token="openid" in wanted.scopes,
                nonce=wanted.nonce,
                auth_time=auth_time,
                oauth=True,
            )
        except SignInError as error:
            raise Redirected(wanted.redirect_uri, "invalid_request", wanted.state, error.message) from None
        code = str(uuid.uuid4())
        with self._lock:
            now = time.time()
            self._codes = {k: v for k, v in self._codes.items() if v.expires_at > now}  # the expired go
            self._codes[code] = Code(
                client_id=wanted.client["ClientId"],
                redirect_uri=wanted.redirect_uri,
                code_challenge=wanted.code_challenge,
                tokens=tokens,
                expires_at=time.time() + CODE_SECONDS,
            )
        return _with_query(wanted.redirect_uri, {"code": code, "state": wanted.state})

    def _redeem(self, client: dict[str, Any], form: Any) -> dict[str, Any]:
        if "code" not in client.get("AllowedOAuthFlows", []) or not client.get(
            "AllowedOAuthFlowsUserPoolClient"
        ):
            raise OAuthError("unauthorized_client")
        code, redirect_uri = form.get("code"), form.get("redirect_uri")
        if not code or not redirect_uri:
            raise OAuthError("invalid_request")
        with self._lock:
            found = self._codes.get(code)
            if found is not None and found.client_id == client["ClientId"]:
                del self._codes[code]  # single use: spent by any attempt of its own client
        if found is None or found.client_id != client["ClientId"] or time.time() > found.expires_at:
            raise OAuthError("invalid_grant")
        if redirect_uri != found.redirect_uri:
            raise OAuthError("invalid_grant")
        if found.code_challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier:
                raise OAuthError("invalid_request")
            if not secrets.compare_digest(s256(verifier), found.code_challenge):
                raise OAuthError("invalid_grant")
        return _token_response(found.tokens)


def _released(person: Person, scopes: set[str], client: dict[str, Any] | None) -> dict[str, Any]:
    """The user's attributes that the access token's scopes release (userInfo)."""
    readable = (client or {}).get("ReadAttributes") or list(person.attributes)
    attributes = {k: v for k, v in person.attributes.items() if k in readable}
    named = scopes & _SCOPE_ATTRIBUTES.keys()
    if named:
        released = {name for scope in named for name in _SCOPE_ATTRIBUTES[scope]}
        attributes = {k: v for k, v in attributes.items() if k in released or k.startswith("custom:")}
    # Values stay strings, "true" included, as the user pool stores them.
    return {
        "sub": person.sub,
        **{k: v for k, v in attributes.items() if k != "sub"},
        "username": person.username,
    }


def _token_response(tokens: Tokens) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if tokens.id_token:
        body["id_token"] = tokens.id_token
    body["access_token"] = tokens.access_token
    if tokens.refresh_token:
        body["refresh_token"] = tokens.refresh_token
    body.update({"expires_in": tokens.expires_in, "token_type": "Bearer"})
    return body


def _with_query(url: str, parameters: dict[str, str | None]) -> str:
    query = urlencode({k: v for k, v in parameters.items() if v is not None})
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _error_redirect(error: str, client_id: str | None) -> Response:
    """To Cognito's error page on the domain itself, never to a redirect URI it cannot trust."""
    return _redirect(f"/error?{urlencode({'error': error, 'client_id': client_id or ''})}")


def _redirect(location: str) -> Response:
    return Response(status=302, headers={"Location": location, "Cache-Control": "no-store"})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


def _bearer_error(status: int, error: str, description: str) -> Response:
    response = _json(status, {"error": error, "error_description": description})
    response.headers["WWW-Authenticate"] = f'Bearer error="{error}", error_description="{description}"'
    return response


def _html(status: int, title: str, body: str) -> Response:
    page = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f'<meta name="viewport" content="width=device-width"><title>{title}</title></head>'
        f"<body><main><h1>{title}</h1>{body}</main></body></html>"
    )
    return Response(page, status=status, mimetype="text/html", headers={"Cache-Control": "no-store"})
