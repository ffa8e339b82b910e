"""clients/python/product_api_client.py: one token for many calls, renewed before it expires, and
once more on a 401; settings from a local cloud's outputs (found by its URL, a path or
PRODUCT_API_OUTPUTS, wherever the client is copied) or a stack (moto).

The token endpoint and the API are a requests transport adapter in this process: it answers as
Cognito and API Gateway do and records what the client sent.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import requests
from requests.adapters import BaseAdapter

import product_api_client
from product_api_client import LocalOutputsNotFound, ProductApiClient, ProductApiError, Settings, main

API_URL = "https://abc123.execute-api.us-east-1.amazonaws.com/v1"
TOKEN_URL = "https://product-api-123456789012.auth.us-east-1.amazoncognito.com/oauth2/token"
SETTINGS = Settings(API_URL, TOKEN_URL, "client0id", "client0secret")


@dataclass
class FakeCloud(BaseAdapter):
    """Cognito's token endpoint and the API, enough for the client: tokens are t1, t2, ..."""

    expires_in: int = 3600
    revoked: set[str] = field(default_factory=set)
    refuse_every_token: bool = False
    token_bodies: list[dict[str, list[str]]] = field(default_factory=list)
    calls: list[requests.PreparedRequest] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        url = request.url or ""
        if url == TOKEN_URL:
            return self._token(request)
        self.calls.append(request)
        token = (request.headers.get("Authorization") or "").removeprefix("Bearer ")
        if self.refuse_every_token or token in self.revoked or not token:
            return _response(request, 401, {"message": "Unauthorized"})
        return _response(request, 200, {"items": [], "next_token": None, "token": token})

    def _token(self, request: requests.PreparedRequest) -> requests.Response:
        basic = base64.b64decode(request.headers["Authorization"].removeprefix("Basic ")).decode()
        assert basic == "client0id:client0secret"
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        self.token_bodies.append(parse_qs(body))
        token = f"t{len(self.token_bodies)}"
        return _response(
            request, 200, {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"}
        )

    @property
    def tokens_used(self) -> list[str]:
        return [(c.headers.get("Authorization") or "").removeprefix("Bearer ") for c in self.calls]

    def close(self) -> None:
        pass


def _response(request: requests.PreparedRequest, status: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = request
    response.url = request.url or ""
    return response


def client_for(cloud: FakeCloud, settings: Settings = SETTINGS, **kwargs: Any) -> ProductApiClient:
    client = ProductApiClient(settings, **kwargs)
    client.session.mount("https://", cloud)
    return client


def test_one_token_serves_many_calls():
    cloud = FakeCloud()
    client = client_for(cloud)

    for _ in range(5):
        client.list_products()

    assert client.token_requests == 1
    assert len(cloud.token_bodies) == 1
    assert cloud.token_bodies[0]["grant_type"] == ["client_credentials"]
    assert cloud.tokens_used == ["t1"] * 5


def test_token_is_kept_until_shortly_before_it_expires(monkeypatch):
    from authlib.oauth2.rfc6749 import wrappers

    clock = [1_000_000.0]
    monkeypatch.setattr(wrappers, "time", SimpleNamespace(time=lambda: clock[0]))
    cloud = FakeCloud(expires_in=3600)
    client = client_for(cloud, leeway=60)

    client.list_products()
    clock[0] += 3600 - 61  # 61 s left: still good
    client.list_products()
    clock[0] += 2  # 59 s left: within the leeway, so renewed before this call
    client.list_products()

    assert client.token_requests == 2
    assert cloud.tokens_used == ["t1", "t1", "t2"]


def test_a_401_gets_one_new_token_and_one_retry():
    cloud = FakeCloud()
    client = client_for(cloud)
    client.list_products()
    cloud.revoked.add("t1")

    page = client.list_products()

    assert page["token"] == "t2"
    assert client.token_requests == 2
    assert cloud.tokens_used == ["t1", "t1", "t2"]


def test_a_401_on_the_retry_is_the_callers():
    cloud = FakeCloud()
    client = client_for(cloud)
    client.list_products()
    cloud.refuse_every_token = True

    with pytest.raises(ProductApiError) as refused:
        client.list_products()

    assert refused.value.status == 401
    assert refused.value.body == {"message": "Unauthorized"}
    assert client.token_requests == 2  # one retry, not a loop


def test_a_401_with_a_token_fetched_for_this_call_is_not_retried():
    cloud = FakeCloud(refuse_every_token=True)
    client = client_for(cloud)

    response = client.request("GET", "/products")

    assert response.status_code == 401
    assert client.token_requests == 1


def test_scope_and_api_key_are_sent():
    cloud = FakeCloud()
    client = client_for(
        cloud, settings=Settings(API_URL, TOKEN_URL, "client0id", "client0secret", "key0"), scope="a/b"
    )

    client.list_products(limit=5)

    assert cloud.token_bodies[0]["scope"] == ["a/b"]
    (call,) = cloud.calls
    assert call.headers["x-api-key"] == "key0"
    assert parse_qs(urlsplit(call.url or "").query) == {"limit": ["5"]}
    assert (call.url or "").startswith(f"{API_URL}/products?")


def test_settings_from_local_outputs(tmp_path):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "ApiUrl": API_URL,
                "TokenUrl": TOKEN_URL,
                "Clients": {
                    "ProductReaderClient": {"ClientId": "r", "ClientSecret": "s", "AllowedScopes": []}
                },
            }
        )
    )

    assert Settings.from_local_outputs(outputs, "ProductReaderClient") == Settings(
        API_URL, TOKEN_URL, "r", "s"
    )
    with pytest.raises(KeyError, match="ProductReaderClient"):
        Settings.from_local_outputs(outputs, "ProductAdminClient")


def local_outputs(folder, port: int, client_id: str):
    """The outputs file a local cloud on `port` writes in `folder`/.local."""
    path = folder / ".local" / ("outputs.json" if port == 3000 else f"outputs-{port}.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{port}"
    path.write_text(
        json.dumps(
            {
                "ApiUrl": f"{base}/v1",
                "TokenUrl": f"{base}/oauth2/token",
                "AwsEndpointUrl": base,
                "Clients": {"ProductAdminClient": {"ClientId": client_id, "ClientSecret": "s"}},
            }
        )
    )
    return path


@pytest.fixture
def copied_elsewhere(tmp_path, monkeypatch):
    """The client copied next to someone's code, outside the project, and run from there."""
    code = tmp_path / "elsewhere"
    code.mkdir()
    monkeypatch.setattr(product_api_client, "__file__", str(code / "product_api_client.py"))
    monkeypatch.chdir(code)
    monkeypatch.delenv("PRODUCT_API_OUTPUTS", raising=False)
    return code


def test_two_local_clouds_each_give_their_own_settings_by_url(tmp_path, copied_elsewhere, monkeypatch):
    project = tmp_path / "product-api"
    local_outputs(project, 3000, "first")
    local_outputs(project, 3100, "second")
    monkeypatch.chdir(project / ".local")  # anywhere inside the project

    assert Settings.from_local_outputs().client_id == "first"
    assert Settings.from_local_outputs("http://127.0.0.1:3000").client_id == "first"
    assert Settings.from_local_outputs("http://127.0.0.1:3100/v1").client_id == "second"


def test_a_copy_elsewhere_reads_the_file_it_is_given_or_the_variable(tmp_path, copied_elsewhere, monkeypatch):
    path = local_outputs(tmp_path / "product-api", 3100, "second")

    assert Settings.from_local_outputs(path).client_id == "second"
    monkeypatch.setenv("PRODUCT_API_OUTPUTS", str(path))
    assert Settings.from_local_outputs().client_id == "second"


def test_a_copy_elsewhere_without_a_path_says_what_to_do(copied_elsewhere):
    with pytest.raises(LocalOutputsNotFound) as raised:
        Settings.from_local_outputs()

    message = str(raised.value)
    assert isinstance(raised.value, FileNotFoundError)
    assert str(copied_elsewhere) in message
    assert "make local" in message
    assert "PRODUCT_API_OUTPUTS=" in message
    assert "from_local_outputs('/path/to/product-api/.local/outputs.json')" in message


def test_outputs_of_another_cloud_are_refused(tmp_path, copied_elsewhere):
    path = local_outputs(copied_elsewhere, 3100, "second")
    path.rename(path.with_name("outputs.json"))  # a file left under the default port's name

    with pytest.raises(LocalOutputsNotFound, match=re.escape("the cloud at http://127.0.0.1:3100, not")):
        Settings.from_local_outputs("http://127.0.0.1:3000")


def test_the_command_line_says_in_one_line_that_no_cloud_answers(tmp_path, copied_elsewhere, capsys):
    path = local_outputs(copied_elsewhere, 1, "gone")  # port 1: nothing listens there

    with pytest.raises(SystemExit) as exited:
        main(["--local", str(path), "GET", "/products"])

    assert exited.value.code == 2
    assert (
        capsys.readouterr()
        .err.strip()
        .endswith("nothing answers at http://127.0.0.1:1/oauth2/token or http://127.0.0.1:1/v1")
    )


def test_settings_from_a_stack(aws):
    cognito = boto3.client("cognito-idp")
    pool = cognito.create_user_pool(PoolName="users")["UserPool"]["Id"]
    app = cognito.create_user_pool_client(UserPoolId=pool, ClientName="admin", GenerateSecret=True)[
        "UserPoolClient"
    ]
    outputs = {
        "ApiUrl": API_URL,
        "TokenUrl": TOKEN_URL,
        "UserPoolId": pool,
        "ProductAdminClientId": app["ClientId"],
    }
    template = {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {key: {"Value": value} for key, value in outputs.items()},
    }
    boto3.client("cloudformation").create_stack(StackName="product-api", TemplateBody=json.dumps(template))

    settings = Settings.from_stack("product-api")

    assert settings == Settings(API_URL, TOKEN_URL, app["ClientId"], app["ClientSecret"])
    with pytest.raises(KeyError, match="ProductReaderClientId"):
        Settings.from_stack("product-api", "ProductReaderClient")


def test_command_line_reports_calls_and_token_requests(tmp_path, monkeypatch, capsys):
    outputs = tmp_path / "outputs.json"
    outputs.write_text(
        json.dumps(
            {
                "ApiUrl": API_URL,
                "TokenUrl": TOKEN_URL,
                "Clients": {"ProductAdminClient": {"ClientId": "client0id", "ClientSecret": "client0secret"}},
            }
        )
    )
    cloud = FakeCloud()
    mount = requests.Session.mount

    def with_fake_cloud(self: requests.Session, prefix: str, adapter: BaseAdapter) -> None:
        mount(self, prefix, cloud if prefix == "https://" else adapter)

    monkeypatch.setattr(requests.Session, "mount", with_fake_cloud)

    assert main(["--local", str(outputs), "--repeat", "3", "GET", "/products"]) == 0

    captured = capsys.readouterr()
    assert captured.out.count("200 ") == 3
    assert "3 call(s), 1 token request(s)" in captured.err
