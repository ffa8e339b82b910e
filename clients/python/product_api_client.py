"""A small Python client for product-api: one access token for many calls.

Cognito bills every token that the `client_credentials` grant issues, and each token request is a
round trip before the call that needed it. So this client asks for a token once, keeps it until
shortly before it expires (Authlib's OAuth2Session renews it then, `leeway` seconds early), and asks
for a new one early only when the API answers 401 (the token was revoked, or the pool's keys
changed): once per call, then the 401 is the caller's to handle. The REST API also answers 401 when
the token lacks the route's scope; that retry cannot help, so use a client whose scopes cover the
route. (The HTTP API says 403 for that, which is never retried: give `Settings` its `HttpApiUrl` as
`api_url` to call it; it takes no API key.)

Settings come from a deployed stack (CloudFormation outputs, the client secret from Cognito) or
from the outputs file a local cloud writes (`make local`: `.local/outputs.json` on port 3000,
`.local/outputs-PORT.json` on another port):

    client = ProductApiClient(Settings.from_local_outputs())              # the cloud on port 3000
    client = ProductApiClient(Settings.from_local_outputs("http://127.0.0.1:3100"))  # another one
    client = ProductApiClient(Settings.from_stack("product-api"))         # AWS credentials and region
    product = client.create_product(name="Kettle", price="39.90", currency="EUR")
    page = client.list_products(limit=10)
    print(client.token_requests)                                          # 1

A client whose app client has the `ALLOW_CLIENT_TOKEN_AUTH` flow may get its tokens from Cognito's
API (`GetClientToken`) instead of the domain's token endpoint: the same token, and the pool needs no
domain. Give it a boto3 `cognito-idp` client:

    client = ProductApiClient(settings, token_api=boto3.client("cognito-idp"))

An app client can hold two secrets, so a secret is rotated without downtime: `add_client_secret`,
give the new value to every caller, then `delete_other_client_secrets`.

Needs `authlib` and `requests` (and `boto3` for `from_stack` and `token_api`). One client per thread.
From the command line, for a quick look (`--help` for more):

    python clients/python/product_api_client.py --local --repeat 3 GET /products
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

DEFAULT_CLIENT = "ProductAdminClient"
LOCAL_URL = "http://127.0.0.1:3000"  # `make local`'s default port
OUTPUTS_VARIABLE = "PRODUCT_API_OUTPUTS"  # a local cloud's outputs file, wherever your code runs


class LocalOutputsNotFound(FileNotFoundError):
    """No outputs file for the local cloud asked for; the message says what to do."""


def local_outputs_path(where: Path | str | None = None) -> Path:
    """The outputs file of a local cloud. `where` is the file itself, or the cloud's URL; None means
    $PRODUCT_API_OUTPUTS if set, else the cloud on port 3000.

    For a URL, the file the cloud on that port writes (`.local/outputs.json` on 3000,
    `.local/outputs-PORT.json` on another port) is looked for in the working folder and the folders
    above it, then beside this file and above: so it is found from anywhere inside the project, and
    a copy of this file elsewhere needs the path or the variable.
    """
    if where is None:
        where = os.environ.get(OUTPUTS_VARIABLE) or LOCAL_URL
    text = str(where)
    if "://" not in text:
        path = Path(text).expanduser()
        if not path.is_file():
            raise LocalOutputsNotFound(
                f"{path} does not exist: `make local` writes it once the cloud is ready, and removes it "
                "when the cloud stops"
            )
        return path
    port = urlsplit(text).port or 80
    name = Path(".local") / ("outputs.json" if port == 3000 else f"outputs-{port}.json")
    searched = [Path.cwd().resolve(), Path(__file__).resolve().parent]
    for start in searched:
        for folder in (start, *start.parents):
            if (folder / name).is_file():
                return folder / name
    raise LocalOutputsNotFound(
        f"no outputs of a local cloud at {text}: {name} is not in {searched[0]}, beside "
        f"{Path(__file__).name}, or in a folder above them. `make local"
        f"{'' if port == 3000 else f' PORT={port}'}` writes it in the project's folder while the cloud "
        f"runs: pass that file (Settings.from_local_outputs('/path/to/product-api/{name}'), "
        f"--local FILE) or set {OUTPUTS_VARIABLE}=/path/to/product-api/{name}"
    )


class ProductApiError(Exception):
    """A call the API refused: the status and the JSON body it answered with."""

    def __init__(self, response: requests.Response):
        self.status = response.status_code
        try:
            self.body: Any = response.json()
        except ValueError:
            self.body = response.text
        message = self.body.get("message") if isinstance(self.body, dict) else self.body
        super().__init__(f"{response.request.method} {response.url}: {self.status} {message}")


@dataclass(frozen=True)
class Settings:
    """Where the API and its token endpoint are, and the machine client to call them as."""

    api_url: str
    token_url: str
    client_id: str
    client_secret: str
    api_key: str | None = None  # only with RequireApiKey=true

    @classmethod
    def from_local_outputs(cls, where: Path | str | None = None, client: str = DEFAULT_CLIENT) -> Settings:
        """From the outputs file a local cloud writes (each client's id and secret included): `where`
        is that file or the cloud's URL (local_outputs_path says how each is found)."""
        where = str(where or os.environ.get(OUTPUTS_VARIABLE) or LOCAL_URL)
        path = local_outputs_path(where)
        outputs = json.loads(path.read_text())
        written_by = outputs.get("AwsEndpointUrl")
        if "://" in where and written_by and urlsplit(written_by).port != urlsplit(where).port:
            raise LocalOutputsNotFound(f"{path} holds the outputs of the cloud at {written_by}, not {where}")
        clients = outputs["Clients"]
        if client not in clients:
            raise KeyError(f"{path} has no client {client!r}; it has {sorted(clients)}")
        return cls(
            api_url=outputs["ApiUrl"],
            token_url=outputs["TokenUrl"],
            client_id=clients[client]["ClientId"],
            client_secret=clients[client]["ClientSecret"],
            api_key=outputs.get("ApiKey"),
        )

    @classmethod
    def from_stack(
        cls, stack_name: str, client: str = DEFAULT_CLIENT, *, boto3_session: Any = None
    ) -> Settings:
        """From a deployed stack's outputs; the secret from Cognito, the API key (if any) from API Gateway.

        Uses your AWS credentials and region (or the boto3 session given).
        """
        if boto3_session is None:
            import boto3

            boto3_session = boto3.Session()
        stack = boto3_session.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
        outputs = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        if f"{client}Id" not in outputs:
            raise KeyError(f"stack {stack_name} has no output {client}Id")
        described = boto3_session.client("cognito-idp").describe_user_pool_client(
            UserPoolId=outputs["UserPoolId"], ClientId=outputs[f"{client}Id"]
        )["UserPoolClient"]
        api_key = None
        if "ApiKeyId" in outputs:
            key = boto3_session.client("apigateway").get_api_key(
                apiKey=outputs["ApiKeyId"], includeValue=True
            )
            api_key = key["value"]
        return cls(
            api_url=outputs["ApiUrl"],
            token_url=outputs["TokenUrl"],
            client_id=described["ClientId"],
            client_secret=described["ClientSecret"],
            api_key=api_key,
        )


class _ClientTokenSession(OAuth2Session):
    """An OAuth2Session whose client_credentials tokens come from Cognito's GetClientToken API."""

    def __init__(self, cognito: Any, client_id: str, secret: str, scope: str | None, **kwargs: Any):
        super().__init__(client_id, secret, scope=scope, grant_type="client_credentials", **kwargs)
        self._cognito = cognito
        self.on_token: Any = None  # called after each token request

    def fetch_token(self, url: str | None = None, **kwargs: Any) -> Any:
        request: dict[str, Any] = {"ClientId": self.client_id, "Secret": self.client_secret}
        if self.scope:
            request["Scopes"] = self.scope.split()
        result = self._cognito.get_client_token(**request)["ClientAuthenticationResult"]
        self.token = {
            "access_token": result["AccessToken"],
            "token_type": result["TokenType"],
            "expires_in": result["ExpiresIn"],
        }
        if self.on_token:
            self.on_token()
        return self.token


class ProductApiClient:
    """Calls the API with one cached client_credentials token; counts the tokens it asked for."""

    def __init__(
        self,
        settings: Settings,
        *,
        scope: str | None = None,
        leeway: int = 60,
        timeout: float = 10,
        token_api: Any = None,
    ):
        """`token_api`: a boto3 cognito-idp client, to get tokens from GetClientToken, not the domain."""
        self.settings = settings
        self.token_requests = 0
        if token_api is not None:
            api_session = _ClientTokenSession(
                token_api, settings.client_id, settings.client_secret, scope, leeway=leeway
            )
            api_session.on_token = self._count_api_token
            self.session: OAuth2Session = api_session
        else:
            self.session = OAuth2Session(
                settings.client_id,
                settings.client_secret,
                scope=scope,  # None: every scope the app client is allowed
                token_endpoint=settings.token_url,
                grant_type="client_credentials",
                leeway=leeway,  # renew this many seconds before the token expires
            )
            self.session.register_compliance_hook("access_token_response", self._count_token)
        self.timeout = timeout

    def _count_api_token(self) -> None:
        self.token_requests += 1

    def _count_token(self, response: requests.Response) -> requests.Response:
        self.token_requests += 1
        return response

    def fetch_token(self) -> dict[str, Any]:
        """A new access token now (the cached one is replaced)."""
        return dict(self.session.fetch_token(self.settings.token_url, grant_type="client_credentials"))

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """One call to the API stage (`path` after the stage, e.g. /products), whatever its status."""
        fetched_now = not self.session.token
        if fetched_now:
            self.fetch_token()
        headers = {**kwargs.pop("headers", {})}
        if self.settings.api_key:
            headers.setdefault("x-api-key", self.settings.api_key)
        kwargs.setdefault("timeout", self.timeout)
        url = self.settings.api_url.rstrip("/") + path
        response = self.session.request(method, url, headers=headers, **kwargs)
        if response.status_code == 401 and not fetched_now:
            self.fetch_token()
            response = self.session.request(method, url, headers=headers, **kwargs)
        return response

    def call(self, method: str, path: str, *, expect: int, **kwargs: Any) -> Any:
        """The JSON body of a call that answered `expect`, or ProductApiError."""
        response = self.request(method, path, **kwargs)
        if response.status_code != expect:
            raise ProductApiError(response)
        return response.json() if response.content else None

    # ------------------------------------------------------------ the routes

    def list_products(self, limit: int | None = None, next_token: str | None = None) -> dict[str, Any]:
        params = {k: v for k, v in {"limit": limit, "next_token": next_token}.items() if v is not None}
        return self.call("GET", "/products", expect=200, params=params)

    def get_product(self, product_id: str) -> dict[str, Any]:
        return self.call("GET", f"/products/{product_id}", expect=200)

    def create_product(self, **fields: Any) -> dict[str, Any]:
        """name, price (a string such as "39.90"), currency, and optionally description."""
        return self.call("POST", "/products", expect=201, json=fields)

    def update_product(self, product_id: str, version: int, **fields: Any) -> dict[str, Any]:
        """The product's fields and the version you read; a stale version is a 409."""
        return self.call("PUT", f"/products/{product_id}", expect=200, json={**fields, "version": version})

    def delete_product(self, product_id: str) -> None:
        self.call("DELETE", f"/products/{product_id}", expect=204)


# ---------------------------------------------------------------- rotating a client's secret


def add_client_secret(cognito: Any, user_pool_id: str, client_id: str) -> tuple[str, str]:
    """A second secret for the app client, made by Cognito: (its id, its value). The value is shown
    this once; the old secret keeps working until `delete_other_client_secrets`. Cognito holds at
    most two (LimitExceededException)."""
    added = cognito.add_user_pool_client_secret(UserPoolId=user_pool_id, ClientId=client_id)
    descriptor = added["ClientSecretDescriptor"]
    return descriptor["ClientSecretId"], descriptor["ClientSecretValue"]


def delete_other_client_secrets(cognito: Any, user_pool_id: str, client_id: str, keep: str) -> list[str]:
    """Deletes every secret of the app client but the one whose id is `keep`; returns the ids deleted."""
    ids = {"UserPoolId": user_pool_id, "ClientId": client_id}
    listed = cognito.list_user_pool_client_secrets(**ids)["ClientSecrets"]
    if keep not in {s["ClientSecretId"] for s in listed}:
        raise KeyError(f"client {client_id} has no secret {keep}")
    deleted = [s["ClientSecretId"] for s in listed if s["ClientSecretId"] != keep]
    for secret_id in deleted:
        cognito.delete_user_pool_client_secret(**ids, ClientSecretId=secret_id)
    return deleted


# ---------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="product_api_client.py", description="Call product-api with one cached token."
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--local",
        nargs="?",
        const="",
        metavar="URL_OR_FILE",
        help=f"a local cloud: its URL or outputs file (default ${OUTPUTS_VARIABLE}, else {LOCAL_URL})",
    )
    where.add_argument("--stack", metavar="NAME", help="a deployed stack (AWS credentials and region)")
    parser.add_argument("--client", default=DEFAULT_CLIENT, help=f"app client logical id ({DEFAULT_CLIENT})")
    parser.add_argument("--scope", help="ask for these scopes only (space-separated)")
    parser.add_argument("--repeat", type=int, default=1, help="make the call this many times")
    parser.add_argument("method", help="GET, POST, PUT or DELETE")
    parser.add_argument("path", help="path after the stage, e.g. /products")
    parser.add_argument("body", nargs="?", help="JSON body for POST and PUT")
    args = parser.parse_args(argv)

    try:
        settings = (
            Settings.from_stack(args.stack, args.client)
            if args.stack
            else Settings.from_local_outputs(args.local or None, args.client)
        )
    except (LocalOutputsNotFound, KeyError) as error:
        parser.exit(2, f"{parser.prog}: {error.args[0] if error.args else error}\n")
    client = ProductApiClient(settings, scope=args.scope)
    body: Mapping[str, Any] | None = json.loads(args.body) if args.body else None
    started = time.perf_counter()
    status = 0
    for _ in range(max(1, args.repeat)):
        try:
            response = client.request(args.method.upper(), args.path, json=body)
        except requests.ConnectionError:
            parser.exit(2, f"{parser.prog}: nothing answers at {settings.token_url} or {settings.api_url}\n")
        except OAuthError as error:  # outputs left by an earlier run name clients this cloud never made
            parser.exit(2, f"{parser.prog}: {settings.token_url} refused {args.client}: {error}\n")
        status = response.status_code
        print(response.status_code, response.text)
    elapsed = time.perf_counter() - started
    print(
        f"{args.repeat} call(s), {client.token_requests} token request(s), {elapsed:.2f} s",
        file=sys.stderr,
    )
    return 0 if status < 400 else 1


if __name__ == "__main__":
    sys.exit(main())
