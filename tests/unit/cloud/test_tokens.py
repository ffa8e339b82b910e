"""sam_local_cloud/cognito/tokens.py: the pool's token endpoint and signing key, as Cognito serves them
(docs/aws-behaviour.md §4).

App clients live in moto's Cognito, as in the local cloud; requests are werkzeug Requests built in memory.
"""

from __future__ import annotations

import base64
import io
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from werkzeug.wrappers import Response

from sam_local_cloud.cognito.tokens import ClientDirectory, SigningKey, TokenEndpoint, aws_issuer
from tests.offline_aws import offline_aws
from tests.unit.cloud.support import REGION, make_request

READ = "product-api/read_product"
CREATE = "product-api/create_product"
DELETE = "product-api/delete_product"


class Pool:
    """A moto user pool with the product-api resource server; `client()` adds an app client."""

    def __init__(self) -> None:
        self.cognito = boto3.client("cognito-idp", region_name=REGION)
        self.id = self.cognito.create_user_pool(PoolName="unit")["UserPool"]["Id"]
        self.cognito.create_resource_server(
            UserPoolId=self.id,
            Identifier="product-api",
            Name="Product API",
            Scopes=[
                {"ScopeName": name, "ScopeDescription": name}
                for name in ("read_product", "create_product", "delete_product")
            ],
        )

    def client(self, **properties: Any) -> tuple[str, str]:
        settings = {
            "ClientName": "machine",
            "GenerateSecret": True,
            "AllowedOAuthFlowsUserPoolClient": True,
            "AllowedOAuthFlows": ["client_credentials"],
            "AllowedOAuthScopes": [READ, CREATE],
            **properties,
        }
        made = self.cognito.create_user_pool_client(UserPoolId=self.id, **settings)["UserPoolClient"]
        return made["ClientId"], made.get("ClientSecret", "")


@pytest.fixture(scope="module")
def pool() -> Iterator[Pool]:
    """One pool for the module (moto takes a while to make one); each test adds its own clients."""
    with offline_aws(REGION):
        yield Pool()


@pytest.fixture
def endpoint(pool: Pool, signing_key: SigningKey) -> TokenEndpoint:
    return TokenEndpoint(aws_issuer(REGION, pool.id), signing_key, ClientDirectory(pool.cognito, pool.id))


@pytest.fixture
def machine(pool: Pool) -> tuple[str, str]:
    return pool.client()


def basic(client_id: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()}


def post(endpoint: TokenEndpoint, form: dict[str, str], headers: dict[str, str] | None = None) -> Response:
    return endpoint(make_request("POST", "/oauth2/token", data=form, headers=headers or {}))


def error_of(response: Response) -> str:
    assert response.status_code == 400
    assert response.mimetype == "application/json"
    return json.loads(response.get_data())["error"]


def token_of(response: Response, signing_key: SigningKey) -> dict[str, Any]:
    assert response.status_code == 200, response.get_data(as_text=True)
    body = json.loads(response.get_data())
    public = signing_key.private_key.public_key()
    return jwt.decode(body["access_token"], public, algorithms=["RS256"], options={"verify_aud": False})


# ---------------------------------------------------------------- client authentication


def test_client_credentials_with_http_basic_gives_a_bearer_access_token(
    endpoint: TokenEndpoint, machine: tuple[str, str]
) -> None:
    response = post(endpoint, {"grant_type": "client_credentials"}, basic(*machine))
    assert response.status_code == 200
    body = json.loads(response.get_data())
    assert sorted(body) == ["access_token", "expires_in", "token_type"]
    assert (body["token_type"], body["expires_in"]) == ("Bearer", 3600)  # no AccessTokenValidity: 60 min
    assert response.headers["Cache-Control"] == "no-store"


def test_client_credentials_in_the_body_are_accepted(
    endpoint: TokenEndpoint, machine: tuple[str, str], signing_key: SigningKey
) -> None:
    client_id, secret = machine
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    assert token_of(post(endpoint, form), signing_key)["client_id"] == client_id


@pytest.mark.parametrize(
    "credentials",
    [
        lambda client_id, secret: basic(client_id, secret + "x"),
        lambda client_id, secret: basic("0" * 26, secret),
        lambda client_id, secret: {},
        lambda client_id, secret: basic(client_id, secret[:-1]),
        lambda client_id, secret: basic(client_id, ""),
    ],
    ids=["wrong secret", "unknown client", "no credentials", "truncated secret", "empty secret"],
)
def test_bad_client_credentials_are_invalid_client(
    endpoint: TokenEndpoint, machine: tuple[str, str], credentials: Callable[[str, str], dict[str, str]]
) -> None:
    response = post(endpoint, {"grant_type": "client_credentials"}, credentials(*machine))
    assert error_of(response) == "invalid_client"


def test_a_client_with_a_secret_that_sends_only_its_id_is_invalid_client(
    endpoint: TokenEndpoint, machine: tuple[str, str]
) -> None:
    client_id, _ = machine
    response = post(endpoint, {"grant_type": "client_credentials", "client_id": client_id})
    assert error_of(response) == "invalid_client"


@pytest.mark.parametrize(
    "authorization",
    ["Basic !!not-base64!!", "Basic " + base64.b64encode(b"no-colon-here").decode()],
    ids=["not base64", "no colon"],
)
def test_malformed_basic_header_is_invalid_request(endpoint: TokenEndpoint, authorization: str) -> None:
    response = post(endpoint, {"grant_type": "client_credentials"}, {"Authorization": authorization})
    assert error_of(response) == "invalid_request"


# ---------------------------------------------------------------- the grant


def test_missing_grant_type_is_invalid_request(endpoint: TokenEndpoint, machine: tuple[str, str]) -> None:
    assert error_of(post(endpoint, {"scope": READ}, basic(*machine))) == "invalid_request"


def test_unknown_grant_type_is_unsupported_grant_type(
    endpoint: TokenEndpoint, machine: tuple[str, str]
) -> None:
    response = post(endpoint, {"grant_type": "password"}, basic(*machine))
    assert error_of(response) == "unsupported_grant_type"


def test_client_without_the_client_credentials_flow_is_unauthorized_client(
    endpoint: TokenEndpoint, pool: Pool
) -> None:
    client = pool.client(AllowedOAuthFlows=["code"], CallbackURLs=["https://example.com/callback"])
    response = post(endpoint, {"grant_type": "client_credentials"}, basic(*client))
    assert error_of(response) == "unauthorized_client"


def test_client_whose_oauth_flows_are_off_is_unauthorized_client(endpoint: TokenEndpoint, pool: Pool) -> None:
    client = pool.client(AllowedOAuthFlowsUserPoolClient=False)
    response = post(endpoint, {"grant_type": "client_credentials"}, basic(*client))
    assert error_of(response) == "unauthorized_client"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "refresh_token", "refresh_token": "made-up"}, "invalid_grant"),
        (
            {"grant_type": "authorization_code", "code": "made-up", "redirect_uri": "https://x"},
            "unauthorized_client",
        ),
    ],
    ids=["refresh_token", "authorization_code"],
)
def test_without_peoples_grants_no_code_or_refresh_token_gets_a_token(
    endpoint: TokenEndpoint, machine: tuple[str, str], form: dict[str, str], error: str
) -> None:
    assert error_of(post(endpoint, form, basic(*machine))) == error


# ---------------------------------------------------------------- scopes


def test_requested_scope_narrows_the_token(
    endpoint: TokenEndpoint, machine: tuple[str, str], signing_key: SigningKey
) -> None:
    response = post(endpoint, {"grant_type": "client_credentials", "scope": READ}, basic(*machine))
    assert token_of(response, signing_key)["scope"] == READ


def test_scope_the_client_is_not_allowed_is_invalid_scope(
    endpoint: TokenEndpoint, machine: tuple[str, str]
) -> None:
    form = {"grant_type": "client_credentials", "scope": f"{READ} {DELETE}"}
    assert error_of(post(endpoint, form, basic(*machine))) == "invalid_scope"


@pytest.mark.parametrize(
    "scope", [READ[:-3], READ.split("/")[0], READ + "s"], ids=["a prefix", "the server", "longer"]
)
def test_scope_that_only_resembles_an_allowed_scope_is_invalid_scope(
    endpoint: TokenEndpoint, machine: tuple[str, str], scope: str
) -> None:
    form = {"grant_type": "client_credentials", "scope": scope}
    assert error_of(post(endpoint, form, basic(*machine))) == "invalid_scope"


def test_without_scope_the_token_has_every_custom_scope_of_the_client(
    endpoint: TokenEndpoint, pool: Pool, signing_key: SigningKey
) -> None:
    client = pool.client(AllowedOAuthScopes=["openid", READ, CREATE])
    token = token_of(post(endpoint, {"grant_type": "client_credentials"}, basic(*client)), signing_key)
    assert sorted(token["scope"].split()) == [CREATE, READ]


# ---------------------------------------------------------------- the token


def test_token_claims_are_cognitos_client_credentials_claims(
    endpoint: TokenEndpoint, machine: tuple[str, str], signing_key: SigningKey, pool: Pool
) -> None:
    client_id, _ = machine
    before = int(time.time())
    claims = token_of(post(endpoint, {"grant_type": "client_credentials"}, basic(*machine)), signing_key)
    assert claims["iss"] == f"https://cognito-idp.{REGION}.amazonaws.com/{pool.id}"
    assert (claims["sub"], claims["client_id"], claims["token_use"]) == (client_id, client_id, "access")
    assert "aud" not in claims
    assert "username" not in claims
    assert before <= claims["iat"] <= int(time.time())


@pytest.mark.parametrize(
    ("validity", "unit", "seconds"), [(5, "minutes", 300), (2, "hours", 7200), (1, "days", 86400)]
)
def test_token_lifetime_is_the_clients_access_token_validity_in_its_units(
    endpoint: TokenEndpoint, pool: Pool, signing_key: SigningKey, validity: int, unit: str, seconds: int
) -> None:
    client = pool.client(AccessTokenValidity=validity, TokenValidityUnits={"AccessToken": unit})
    response = post(endpoint, {"grant_type": "client_credentials"}, basic(*client))
    claims = token_of(response, signing_key)
    assert claims["exp"] - claims["iat"] == seconds
    assert json.loads(response.get_data())["expires_in"] == seconds


def test_token_header_is_kid_and_alg_without_typ(
    endpoint: TokenEndpoint, machine: tuple[str, str], signing_key: SigningKey
) -> None:
    response = post(endpoint, {"grant_type": "client_credentials"}, basic(*machine))
    token = json.loads(response.get_data())["access_token"]
    assert jwt.get_unverified_header(token) == {"alg": "RS256", "kid": signing_key.kid}


# ---------------------------------------------------------------- the request


def test_get_is_405_allowing_post(endpoint: TokenEndpoint) -> None:
    response = endpoint(make_request("GET", "/oauth2/token"))
    assert (response.status_code, response.headers["Allow"]) == (405, "POST")


def test_json_body_is_invalid_request(endpoint: TokenEndpoint, machine: tuple[str, str]) -> None:
    request = make_request(
        "POST",
        "/oauth2/token",
        data=json.dumps({"grant_type": "client_credentials"}),
        content_type="application/json",
        headers=basic(*machine),
    )
    assert error_of(endpoint(request)) == "invalid_request"


def test_multipart_body_is_invalid_request(endpoint: TokenEndpoint, machine: tuple[str, str]) -> None:
    # The token endpoint takes application/x-www-form-urlencoded only (docs/aws-behaviour.md §4).
    request = make_request(
        "POST",
        "/oauth2/token",
        data={"grant_type": "client_credentials", "unused": (io.BytesIO(b"x"), "x.txt")},
        headers=basic(*machine),
    )
    assert request.mimetype == "multipart/form-data"
    assert error_of(endpoint(request)) == "invalid_request"


# ---------------------------------------------------------------- the signing key and the issuer


def test_signing_key_from_its_pem_keeps_its_kid_and_its_key(signing_key: SigningKey) -> None:
    pem = signing_key.to_pem()
    first, again = SigningKey.from_pem(pem), SigningKey.from_pem(pem)
    assert first.kid == again.kid
    assert first.public_jwk()["n"] == signing_key.public_jwk()["n"]
    token = first.sign({"sub": "x"})
    assert jwt.decode(token, signing_key.private_key.public_key(), algorithms=["RS256"]) == {"sub": "x"}


def test_two_keys_from_pem_have_different_kids(signing_key: SigningKey, other_key: SigningKey) -> None:
    assert SigningKey.from_pem(signing_key.to_pem()).kid != SigningKey.from_pem(other_key.to_pem()).kid


def test_signing_key_from_a_non_rsa_pem_is_refused() -> None:
    pem = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    with pytest.raises(ValueError, match="RSA"):
        SigningKey.from_pem(pem)


def test_public_jwk_is_an_rs256_signing_key(signing_key: SigningKey) -> None:
    jwk = signing_key.public_jwk()
    assert {k: jwk[k] for k in ("alg", "kid", "kty", "use", "e")} == {
        "alg": "RS256",
        "kid": signing_key.kid,
        "kty": "RSA",
        "use": "sig",
        "e": "AQAB",
    }
    assert "d" not in jwk


def test_aws_issuer_is_on_the_regional_cognito_host() -> None:
    assert aws_issuer("eu-west-1", "eu-west-1_AbC123xyZ") == (
        "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC123xyZ"
    )
