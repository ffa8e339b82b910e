"""sam_local_cloud/apigateway/authorizers.py: API Gateway's Cognito user pool authorizer
(docs/aws-behaviour.md §1-2)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization

from sam_local_cloud.apigateway.authorizers import CognitoAuthorizer, Denied, Expired
from sam_local_cloud.cognito.tokens import SigningKey, aws_issuer, client_credentials_claims, jwks_document
from tests.unit.cloud.support import ISSUER, REGION

READ = "product-api/read_product"
CREATE = "product-api/create_product"
DELETE = "product-api/delete_product"


def access_claims(scopes: Sequence[str] = (READ,), **changes: Any) -> dict[str, Any]:
    return {**client_credentials_claims("client0id", scopes, ISSUER), **changes}


def id_claims(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {
        "sub": "5f1d3c2e-0000-4000-8000-000000000001",
        "aud": "client0id",
        "token_use": "id",
        "cognito:username": "ana",
        "email": "ana@example.com",
        "iss": ISSUER,
        "iat": now,
        "exp": now + 3600,
    }
    return {**claims, **changes}


@pytest.fixture
def authorizer(signing_key: SigningKey) -> CognitoAuthorizer:
    return CognitoAuthorizer(issuer=ISSUER, jwks=jwks_document([signing_key]))


def assert_denied(authorizer: CognitoAuthorizer, header: str | None, scopes: Sequence[str]) -> None:
    with pytest.raises(Denied) as denied:
        authorizer.authorize(header, scopes)
    assert denied.type is Denied  # plain 401 "Unauthorized", not "The incoming token has expired"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


# ---------------------------------------------------------------- which token a route takes


def test_access_token_with_any_one_of_the_route_scopes_is_allowed(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    token = signing_key.sign(access_claims([READ]))
    claims = authorizer.authorize(f"Bearer {token}", [CREATE, READ])
    assert (claims["sub"], claims["scope"], claims["token_use"]) == ("client0id", READ, "access")


def test_access_token_without_any_of_the_route_scopes_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    token = signing_key.sign(access_claims([READ, CREATE]))
    assert_denied(authorizer, f"Bearer {token}", [DELETE])


@pytest.mark.parametrize(
    "scope", [READ + "s", "x" + READ, READ.split("/")[0]], ids=["longer", "prefixed", "the server"]
)
def test_access_token_whose_scope_only_contains_a_route_scope_as_text_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, scope: str
) -> None:
    token = signing_key.sign(access_claims([scope]))
    assert_denied(authorizer, f"Bearer {token}", [READ])


def test_id_token_on_a_scoped_route_is_denied_even_with_the_scope_claim(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    token = signing_key.sign(id_claims(scope=READ))
    assert_denied(authorizer, f"Bearer {token}", [READ])


def test_id_token_on_an_unscoped_route_is_allowed(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    token = signing_key.sign(id_claims())
    claims = authorizer.authorize(f"Bearer {token}", [])
    assert (claims["token_use"], claims["cognito:username"]) == ("id", "ana")


def test_access_token_on_an_unscoped_route_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    token = signing_key.sign(access_claims([READ]))
    assert_denied(authorizer, f"Bearer {token}", [])


@pytest.mark.parametrize("scopes", [[READ], []], ids=["scoped", "unscoped"])
def test_token_use_other_than_access_or_id_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, scopes: list[str]
) -> None:
    token = signing_key.sign(access_claims([READ], token_use="refresh"))
    assert_denied(authorizer, f"Bearer {token}", scopes)


# ---------------------------------------------------------------- whose token it is


def test_token_of_another_pool_is_denied(authorizer: CognitoAuthorizer, signing_key: SigningKey) -> None:
    token = signing_key.sign(access_claims([READ], iss=aws_issuer(REGION, f"{REGION}_Other0000")))
    assert_denied(authorizer, f"Bearer {token}", [READ])


def test_token_with_an_unknown_kid_is_denied(authorizer: CognitoAuthorizer, other_key: SigningKey) -> None:
    token = other_key.sign(access_claims([READ]))
    assert_denied(authorizer, f"Bearer {token}", [READ])


def test_token_signed_by_another_key_under_the_pools_kid_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, other_key: SigningKey
) -> None:
    token = jwt.encode(
        access_claims([READ]), other_key.private_key, algorithm="RS256", headers={"kid": signing_key.kid}
    )
    assert_denied(authorizer, f"Bearer {token}", [READ])


def test_token_whose_claims_were_changed_after_signing_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    header, _, signature = signing_key.sign(access_claims([READ])).split(".")
    forged = b64url(json.dumps(access_claims([DELETE])).encode())
    assert_denied(authorizer, f"Bearer {header}.{forged}.{signature}", [DELETE])


def test_unsigned_token_with_alg_none_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    token = jwt.encode(access_claims([READ]), None, algorithm="none", headers={"kid": signing_key.kid})
    assert_denied(authorizer, f"Bearer {token}", [READ])


def test_hs256_token_keyed_with_the_public_key_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    # The classic key-confusion attack: HMAC "signed" with the published RSA public key.
    public_pem = signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "kid": signing_key.kid}).encode())
    payload = b64url(json.dumps(access_claims([READ])).encode())
    signature = b64url(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert_denied(authorizer, f"Bearer {header}.{payload}.{signature}", [READ])


def test_a_second_key_of_the_jwks_is_trusted_too(signing_key: SigningKey, other_key: SigningKey) -> None:
    authorizer = CognitoAuthorizer(issuer=ISSUER, jwks=jwks_document([signing_key, other_key]))
    claims = authorizer.authorize(f"Bearer {other_key.sign(access_claims([READ]))}", [READ])
    assert claims["scope"] == READ


# ---------------------------------------------------------------- the claims it needs


def test_expired_token_raises_expired(authorizer: CognitoAuthorizer, signing_key: SigningKey) -> None:
    now = int(time.time())
    token = signing_key.sign(access_claims([READ], iat=now - 7200, exp=now - 60))
    with pytest.raises(Expired):
        authorizer.authorize(f"Bearer {token}", [READ])


@pytest.mark.parametrize("claim", ["exp", "iss", "token_use"])
def test_token_missing_a_required_claim_is_denied(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, claim: str
) -> None:
    claims = access_claims([READ])
    del claims[claim]
    assert_denied(authorizer, f"Bearer {signing_key.sign(claims)}", [READ])


# ---------------------------------------------------------------- the header


@pytest.mark.parametrize("shape", ["Bearer {}", "bearer {}", "BEARER {}", "{}", "  Bearer   {}  "])
def test_bearer_in_any_case_and_the_raw_jwt_are_accepted(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, shape: str
) -> None:
    token = signing_key.sign(access_claims([READ]))
    assert authorizer.authorize(shape.format(token), [READ])["client_id"] == "client0id"


@pytest.mark.parametrize("header", [None, "", "   ", "Bearer", "Bearer ", "Basic Y2xpZW50OnNlY3JldA=="])
def test_empty_or_tokenless_header_is_denied(authorizer: CognitoAuthorizer, header: str | None) -> None:
    assert_denied(authorizer, header, [READ])


# ---------------------------------------------------------------- a verified token, remembered


def test_a_remembered_token_is_not_verified_again(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    header = f"Bearer {signing_key.sign(access_claims([READ]))}"
    authorizer.authorize(header, [READ])
    verifications = []
    monkeypatch.setattr(jwt, "decode", lambda *a, **k: verifications.append(a) or {})
    assert authorizer.authorize(header, [READ])["client_id"] == "client0id"
    assert verifications == []


def test_a_remembered_token_that_has_expired_since_is_refused_as_expired(
    authorizer: CognitoAuthorizer, signing_key: SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = int(time.time())
    header = f"Bearer {signing_key.sign(access_claims([READ], iat=now - 10, exp=now + 30))}"
    authorizer.authorize(header, [READ])
    monkeypatch.setattr(time, "time", lambda: now + 30)  # exp is the first instant it no longer holds
    with pytest.raises(Expired):
        authorizer.authorize(header, [READ])


def test_a_remembered_token_is_still_checked_against_each_routes_scopes(
    authorizer: CognitoAuthorizer, signing_key: SigningKey
) -> None:
    header = f"Bearer {signing_key.sign(access_claims([READ]))}"
    authorizer.authorize(header, [READ])
    assert_denied(authorizer, header, [CREATE])
    assert_denied(authorizer, header, [])  # an access token on a route that takes an ID token


def test_a_refused_token_is_not_remembered(authorizer: CognitoAuthorizer, other_key: SigningKey) -> None:
    header = f"Bearer {other_key.sign(access_claims([READ]))}"
    for _ in range(2):
        assert_denied(authorizer, header, [READ])
