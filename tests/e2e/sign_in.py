"""People in the end-to-end suite: made with the admin API, signed in the two ways people sign in.

- the sign-in API, with unchanged boto3 code (`initiate_auth`, USER_PASSWORD_AUTH);
- the code flow with PKCE through Authlib (`OAuth2Session`, `code_challenge_method="S256"`), the
  hosted sign-in page filled in by a plain HTTP client as a browser would: GET the page, POST the form
  with its CSRF token, and stop at the redirect to the callback URL (nothing listens there).
Both work against the local cloud and a deployed stack.
"""

from __future__ import annotations

import contextlib
import html
import re
import secrets
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin

import jwt
import requests
from authlib.common.security import generate_token
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import Person, Stack

SIGN_IN_API_SCOPE = "aws.cognito.signin.user.admin"


@dataclass(frozen=True)
class SignedIn:
    access_token: str
    id_token: str | None
    refresh_token: str | None = None


def claims(token: str) -> dict[str, Any]:
    """A token's claims, unverified: the API and the tests' own checks verify what matters."""
    return jwt.decode(token, options={"verify_signature": False})


def scopes(token: str) -> set[str]:
    return set(str(claims(token).get("scope", "")).split())


# ---------------------------------------------------------------- people made with the admin API


def create_person(stack: Stack, groups: tuple[str, ...], label: str = "e2e") -> Person:
    """A confirmed person with an email, a password meeting the pool's policy, and these groups."""
    cognito = stack.cognito()
    email = f"{label}-{uuid.uuid4().hex[:12]}@example.com"
    password = f"E2e-{secrets.token_urlsafe(12)}-9a"
    cognito.admin_create_user(
        UserPoolId=stack.user_pool_id,
        Username=email,
        MessageAction="SUPPRESS",
        UserAttributes=[{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}],
    )
    cognito.admin_set_user_password(
        UserPoolId=stack.user_pool_id, Username=email, Password=password, Permanent=True
    )
    for group in groups:
        cognito.admin_add_user_to_group(UserPoolId=stack.user_pool_id, Username=email, GroupName=group)
    return Person(email, password, groups)


def delete_person(stack: Stack, person: Person) -> None:
    cognito = stack.cognito()
    with contextlib.suppress(cognito.exceptions.UserNotFoundException):
        cognito.admin_delete_user(UserPoolId=stack.user_pool_id, Username=person.username)


# ---------------------------------------------------------------- the sign-in API (boto3)


def user_client(stack: Stack) -> dict[str, Any]:
    return stack.cognito().describe_user_pool_client(
        UserPoolId=stack.user_pool_id, ClientId=stack.user_client_id
    )["UserPoolClient"]


def sign_in(stack: Stack, person: Person) -> SignedIn:
    result = stack.cognito().initiate_auth(
        ClientId=stack.user_client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": person.username, "PASSWORD": person.password},
    )["AuthenticationResult"]
    return SignedIn(result["AccessToken"], result["IdToken"], result["RefreshToken"])


def refresh(stack: Stack, refresh_token: str) -> SignedIn:
    result = stack.cognito().initiate_auth(
        ClientId=stack.user_client_id,
        AuthFlow="REFRESH_TOKEN_AUTH",
        AuthParameters={"REFRESH_TOKEN": refresh_token},
    )["AuthenticationResult"]
    return SignedIn(result["AccessToken"], result["IdToken"])


# ---------------------------------------------------------------- the code flow (Authlib)


class CodeFlow:
    """One authorization request of the user client, with PKCE (S256), as an app makes it."""

    def __init__(self, stack: Stack, scope: str, redirect_uri: str | None = None):
        assert stack.domain_url, "the stack has no user pool domain"
        assert stack.user_client_id, "the stack has no user client"
        self.stack = stack
        self.redirect_uri = redirect_uri or user_client(stack)["CallbackURLs"][0]
        self.oauth = OAuth2Session(
            stack.user_client_id, scope=scope, redirect_uri=self.redirect_uri, code_challenge_method="S256"
        )
        self.verifier = generate_token(64)
        self.url, self.state = self.oauth.create_authorization_url(
            f"{stack.domain_url}/oauth2/authorize", code_verifier=self.verifier
        )
        self.browser = requests.Session()

    def sign_in(self, person: Person) -> str:
        """The person fills in the sign-in page; returns where the browser is sent back (with the code)."""
        page = self.browser.get(self.url, timeout=30)
        assert page.status_code == 200, page.text[:500]
        csrf = re.search(r'name="_csrf"\s+value="([^"]+)"', page.text)
        action = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert csrf, page.text[:500]
        assert action, page.text[:500]
        answer = self.browser.post(
            urljoin(page.url, html.unescape(action.group(1))),
            data={
                "_csrf": csrf.group(1),
                "username": person.username,
                "password": person.password,
                "signInSubmitButton": "Sign in",
            },
            allow_redirects=False,
            timeout=30,
        )
        assert answer.status_code == 302, answer.text[:500]
        return answer.headers["Location"]

    def fetch_token(self, callback: str, verifier: str | None = None) -> dict[str, Any]:
        """Redeems the code at the token endpoint (Authlib checks the state first)."""
        return self.oauth.fetch_token(
            self.stack.token_url,
            authorization_response=callback,
            state=self.state,
            code_verifier=verifier or self.verifier,
        )
