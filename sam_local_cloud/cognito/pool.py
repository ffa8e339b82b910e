"""One user pool as the local cloud serves it, built in one place for the cloud and the tests.

Its parts share the pool's issuer, signing key, app clients and users: the token endpoint
(sam_local_cloud/cognito/tokens.py), the domain's endpoints for people (hosted.py), the sign-in API
(sign_in_api.py), the people and their tokens through the pool's trigger (people.py), and the
documents the pool publishes (its JWKS and OpenID configuration).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from sam_local_cloud.aws_apis.cognito_secrets import ClientSecrets
from sam_local_cloud.cognito.client_api import ClientApi
from sam_local_cloud.cognito.hosted import HostedUi
from sam_local_cloud.cognito.people import Triggers, UserDirectory, UserTokens
from sam_local_cloud.cognito.sign_in_api import SignInApi
from sam_local_cloud.cognito.tokens import (
    ClientDirectory,
    SigningKey,
    TokenEndpoint,
    aws_issuer,
    jwks_document,
    openid_configuration,
)
from sam_local_cloud.lambda_.runner import Runner

Endpoint = Callable[[Request], Response]


@dataclass(frozen=True)
class LocalUserPool:
    pool_id: str
    issuer: str  # AWS's, as in every token: https://cognito-idp.{region}.amazonaws.com/{pool id}
    key: SigningKey
    clients: ClientDirectory
    directory: UserDirectory
    tokens: UserTokens
    sign_in_api: SignInApi
    client_api: ClientApi  # machine tokens, two secrets, refresh with rotation
    hosted: HostedUi
    token_endpoint: TokenEndpoint

    @classmethod
    def build(
        cls,
        *,
        pool_id: str,
        region: str,
        account_id: str,
        key: SigningKey,
        cognito: Any,  # a boto3 cognito-idp client of the local AWS APIs
        runner: Runner,  # runs the pool's trigger
    ) -> LocalUserPool:
        issuer = aws_issuer(region, pool_id)
        secrets = ClientSecrets(account_id=account_id, region=region)
        clients = ClientDirectory(cognito, pool_id, lambda client_id: secrets.active(pool_id, client_id))
        directory = UserDirectory(account_id=account_id, region=region, user_pool_id=pool_id)
        tokens = UserTokens(
            issuer=issuer, key=key, directory=directory, triggers=Triggers(directory, runner), region=region
        )
        hosted = HostedUi(tokens=tokens, directory=directory, clients=clients, issuer=issuer, key=key)
        token_endpoint = TokenEndpoint(issuer, key, clients, hosted.grants, tokens.client_credentials_claims)
        return cls(
            pool_id=pool_id,
            issuer=issuer,
            key=key,
            clients=clients,
            directory=directory,
            tokens=tokens,
            sign_in_api=SignInApi(tokens=tokens, directory=directory, clients=clients),
            client_api=ClientApi(
                tokens=tokens,
                directory=directory,
                clients=clients,
                machine_tokens=token_endpoint,
                secrets=secrets,
            ),
            hosted=hosted,
            token_endpoint=token_endpoint,
        )

    @property
    def jwks(self) -> dict[str, Any]:
        return jwks_document([self.key])

    def endpoints(self) -> dict[str, Endpoint]:
        """Path -> endpoint: the token endpoint and the domain's endpoints for people."""
        return {"/oauth2/token": self.token_endpoint, **self.hosted.endpoints()}

    def documents(self, base_url: str) -> dict[str, Endpoint]:
        """Path -> the documents the pool publishes: its keys and its OpenID configuration."""
        jwks_path = f"/{self.pool_id}/.well-known/jwks.json"
        discovery = openid_configuration(
            self.issuer, base_url + jwks_path, f"{base_url}/oauth2/token", base_url
        )
        return {
            jwks_path: _document(self.jwks),
            f"/{self.pool_id}/.well-known/openid-configuration": _document(discovery),
        }

    def targets(self) -> dict[str, Endpoint]:
        """X-Amz-Target -> endpoint: the sign-in API's operations and the client operations moto lacks,
        served here instead of by moto."""
        return {**self.sign_in_api.targets(), **self.client_api.targets()}


def _document(document: dict[str, Any]) -> Endpoint:
    text = json.dumps(document)
    return lambda _: Response(text, mimetype="application/json")
