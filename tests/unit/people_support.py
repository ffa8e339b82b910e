"""Helpers of the people tests: a user pool in moto (in this process), its trigger run by the local
Lambda runner, and the sign-in API, the domain's endpoints and the token endpoint called as WSGI
apps through werkzeug's test client (no sockets)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import jwt
from werkzeug.test import Client
from werkzeug.wrappers import Request

from sam_local_cloud.cloudformation.provision import ACCOUNT_ID
from sam_local_cloud.cognito.hosted import HostedUi
from sam_local_cloud.cognito.people import UserTokens
from sam_local_cloud.cognito.pool import LocalUserPool
from sam_local_cloud.cognito.sign_in_api import TARGET_PREFIX, SignInApi
from sam_local_cloud.cognito.tokens import SigningKey, TokenEndpoint, aws_issuer
from tests.offline_aws import offline_aws

REGION = "us-east-1"


@contextmanager
def local_aws() -> Iterator[None]:
    """moto in this process, with dummy credentials and nothing pointing at another endpoint."""
    with offline_aws(REGION):
        yield


def cognito() -> Any:
    return boto3.client("cognito-idp", region_name=REGION)


@dataclass
class PeopleServer:
    """What the local cloud serves for people, over one pool: call it as the cloud's dispatcher would."""

    pool_id: str
    key: SigningKey
    tokens: UserTokens
    sign_in_api: SignInApi
    hosted: HostedUi
    token_endpoint: TokenEndpoint
    pool: LocalUserPool

    @classmethod
    def over(cls, pool_id: str, runner: Any) -> PeopleServer:
        pool = LocalUserPool.build(
            pool_id=pool_id,
            region=REGION,
            account_id=ACCOUNT_ID,
            key=SigningKey.generate(),
            cognito=cognito(),
            runner=runner,
        )
        return cls(pool_id, pool.key, pool.tokens, pool.sign_in_api, pool.hosted, pool.token_endpoint, pool)

    def app(self, request_environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        request = Request(request_environ)
        target = request.headers.get("X-Amz-Target", "")
        handler = (
            self.pool.endpoints().get(request.path) or self.pool.targets().get(target) or self.sign_in_api
        )
        return handler(request)(request_environ, start_response)

    def browser(self) -> Client:
        return Client(self.app)

    def call(self, operation: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """One cognito-idp JSON API call, as boto3 sends it."""
        response = self.browser().post(
            "/",
            data=json.dumps(body),
            headers={"X-Amz-Target": TARGET_PREFIX + operation, "Content-Type": "application/x-amz-json-1.1"},
        )
        return response.status_code, response.get_json(force=True)

    def claims(self, token: str) -> dict[str, Any]:
        return jwt.decode(
            token,
            self.key.private_key.public_key(),
            algorithms=["RS256"],
            issuer=aws_issuer(REGION, self.pool_id),
            options={"verify_aud": False},
        )


def query_of(location: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
