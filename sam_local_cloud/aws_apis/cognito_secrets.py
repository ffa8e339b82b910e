"""An app client's secrets, up to two at once (Cognito's secret rotation), kept on moto's client model.

moto 5.2.5 knows one secret per client (`CognitoIdpUserPoolClient.secret`) and none of
AddUserPoolClientSecret, ListUserPoolClientSecrets or DeleteUserPoolClientSecret. The local cloud
serves those operations (sam_local_cloud/cognito/client_api.py) over this store: the client's secrets are a
list on moto's client object, the first one made from moto's own secret, so every reader of moto
(DescribeUserPoolClient, this store) sees one state. moto's `secret` stays the oldest active one, the
one DescribeUserPoolClient shows (docs/aws-behaviour.md §4.2).
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from sam_local_cloud.aws_apis.cognito_ids import client_secret
from sam_local_cloud.cognito.errors import SignInError

MAX_SECRETS = 2  # Cognito's limit: two active secrets per app client
_SECRET_PATTERN = re.compile(r"^[\w+]{24,64}$")  # ClientSecretType in Cognito's API model
_ATTRIBUTE = "_local_secrets"  # where the list lives on moto's client object


@dataclass(frozen=True)
class ClientSecret:
    secret_id: str  # <client id>--<creation time in epoch milliseconds>
    value: str
    created: float  # epoch seconds

    def descriptor(self, *, with_value: bool) -> dict[str, Any]:
        described: dict[str, Any] = {"ClientSecretId": self.secret_id}
        if with_value:
            described["ClientSecretValue"] = self.value
        described["ClientSecretCreateDate"] = self.created
        return described


class ClientSecrets:
    """Every app client's secrets in the local Cognito (moto, in this process), for any of its pools."""

    def __init__(self, *, account_id: str, region: str):
        self._account_id = account_id
        self._region = region
        self._lock = threading.Lock()

    def active(self, pool_id: str, client_id: str) -> list[str]:
        """The values a caller may prove itself with, oldest first; none for a public client."""
        with self._lock:
            client = self._client(pool_id, client_id)
            return [s.value for s in self._secrets(client)]

    def listed(self, pool_id: str, client_id: str) -> list[dict[str, Any]]:
        with self._lock:
            client = self._client(pool_id, client_id)
            return [s.descriptor(with_value=False) for s in self._secrets(client)]

    def add(self, pool_id: str, client_id: str, value: str | None) -> dict[str, Any]:
        """A new secret: the one given, or one made here (then, and only then, its value is returned)."""
        if value is not None and not _SECRET_PATTERN.match(value):
            raise SignInError(
                "InvalidParameterException",
                "1 validation error detected: Value at 'clientSecret' failed to satisfy constraint: "
                "Member must have length between 24 and 64 and match pattern [\\w+]+",
            )
        with self._lock:
            client = self._client(pool_id, client_id)
            if not client.generate_secret:
                raise SignInError("InvalidParameterException", f"Client {client_id} has no client secret.")
            secrets = self._secrets(client)
            if len(secrets) >= MAX_SECRETS:
                raise SignInError(
                    "LimitExceededException",
                    f"Client {client_id} already has {MAX_SECRETS} secrets: delete one first.",
                )
            created = time.time()
            secret_id = _secret_id(client_id, created, {s.secret_id for s in secrets})
            secret = ClientSecret(secret_id, value or client_secret(), created)
            secrets.append(secret)
            return secret.descriptor(with_value=value is None)

    def delete(self, pool_id: str, client_id: str, secret_id: str) -> None:
        with self._lock:
            client = self._client(pool_id, client_id)
            secrets = self._secrets(client)
            kept = [s for s in secrets if s.secret_id != secret_id]
            if len(kept) == len(secrets):
                raise SignInError("ResourceNotFoundException", f"Client secret {secret_id} does not exist.")
            if not kept:
                raise SignInError(
                    "InvalidParameterException", "The last client secret of an app client cannot be deleted."
                )
            secrets[:] = kept
            client.secret = kept[0].value  # DescribeUserPoolClient shows the oldest one left

    # ------------------------------------------------------------ moto's models

    def _client(self, pool_id: str, client_id: str) -> Any:
        from moto.cognitoidp.models import cognitoidp_backends

        pool = cognitoidp_backends[self._account_id][self._region].user_pools.get(pool_id)
        if pool is None:
            raise SignInError("ResourceNotFoundException", f"User pool {pool_id} does not exist.")
        client = pool.clients.get(client_id)
        if client is None:
            raise SignInError("ResourceNotFoundException", f"User pool client {client_id} does not exist.")
        return client

    @staticmethod
    def _secrets(client: Any) -> list[ClientSecret]:
        if not client.generate_secret:
            return []
        secrets: list[ClientSecret] | None = getattr(client, _ATTRIBUTE, None)
        if secrets is None:
            # The secret moto made with the client; its creation time is when the local cloud first
            # looked (moto keeps no client creation date).
            created = time.time()
            secrets = [ClientSecret(_secret_id(client.id, created, set()), client.secret, created)]
            setattr(client, _ATTRIBUTE, secrets)
        return secrets


def _secret_id(client_id: str, created: float, taken: set[str]) -> str:
    millis = int(created * 1000)
    while f"{client_id}--{millis}" in taken:  # two secrets in one millisecond: ids stay unique
        millis += 1
    return f"{client_id}--{millis}"
