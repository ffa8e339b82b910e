"""sam_local_cloud/apigateway/jwt_authorizer.py: an HTTP API's JWT authorizer, rule by rule
(docs/aws-behaviour.md, "HTTP APIs"). Each test breaks exactly one rule of a token that otherwise passes."""

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

from sam_local_cloud.apigateway.jwt_authorizer import (
    BAD_AUDIENCE,
    NOT_A_JWT,
    JwtAuthorizer,
    ScopeMissing,
    TokenRefused,
    token_from,
)
from sam_local_cloud.cloudformation.spec import Route
from sam_local_cloud.cognito.tokens import SigningKey, aws_issuer, client_credentials_claims, jwks_document
from tests.unit.cloud.support import ISSUER, REGION, make_request

MACHINE = "machine0client0id"
PEOPLE = "people0client0id"
OUTSIDER = "outsider0client0id"
READ = "fixture/read"
WRITE = "fixture/write"
NOW = 1_800_000_000.0


def access_claims(
    client_id: str = MACHINE, scopes: Sequence[str] = (READ,), **changes: Any
) -> dict[str, Any]:
    claims = client_credentials_claims(client_id, scopes, ISSUER)
    claims.update(iat=int(NOW) - 60, auth_time=int(NOW) - 60, exp=int(NOW) + 3600)
    return {**claims, **changes}


def id_claims(**changes: Any) -> dict[str, Any]:
    claims = {
        "sub": "5f1d3c2e-0000-4000-8000-000000000001",
        "aud": PEOPLE,
        "token_use": "id",
        "cognito:username": "ana",
        "cognito:groups": ["viewers", "editors"],
        "email_verified": True,
        "iss": ISSUER,
        "iat": int(NOW) - 60,
        "exp": int(NOW) + 3600,
    }
    return {**claims, **changes}


def sign(key: SigningKey, claims: dict[str, Any], algorithm: str = "RS256", **header: Any) -> str:
    return jwt.encode(claims, key.private_key, algorithm=algorithm, headers={"kid": key.kid, **header})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@pytest.fixture
def authorizer(signing_key: SigningKey) -> JwtAuthorizer:
    return JwtAuthorizer(
        issuer=ISSUER, audience=[MACHINE, PEOPLE], jwks=jwks_document([signing_key]), clock=lambda: NOW
    )


def refused(authorizer: JwtAuthorizer, value: str | None, scopes: Sequence[str] = ()) -> TokenRefused:
    with pytest.raises(TokenRefused) as caught:
        authorizer.authorize(value, scopes)
    return caught.value


def assert_refused_invalid_token(authorizer: JwtAuthorizer, token: str, scopes: Sequence[str] = ()) -> None:
    """401 with `error="invalid_token"` (the description's text is unsettled for most rules)."""
    header = refused(authorizer, f"Bearer {token}", scopes).www_authenticate
    assert header.startswith('Bearer scope="" error="invalid_token" error_description="')


# ---------------------------------------------------------------- a token that passes


def test_access_token_of_an_audience_client_passes_by_client_id(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    claims = authorizer.authorize(f"Bearer {sign(signing_key, access_claims())}", [READ])
    assert (claims["client_id"], claims["scope"]) == (MACHINE, READ)


def test_id_token_passes_a_route_without_scopes_no_token_use_check(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    assert authorizer.authorize(sign(signing_key, id_claims()), [])["token_use"] == "id"


def test_access_token_passes_a_route_without_scopes_too(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    assert authorizer.authorize(sign(signing_key, access_claims()), [])["token_use"] == "access"


# ---------------------------------------------------------------- the identity source


def test_no_token_is_401_with_a_bare_bearer_challenge(authorizer: JwtAuthorizer) -> None:
    assert refused(authorizer, None).www_authenticate == "Bearer"


@pytest.mark.parametrize("value", ["", "   "])
def test_an_empty_identity_source_counts_as_no_token(authorizer: JwtAuthorizer, value: str) -> None:
    assert refused(authorizer, value).www_authenticate == "Bearer"


@pytest.mark.parametrize("shape", ["Bearer {}", "bearer {}", "BEARER {}", "{}", "  Bearer    {}  "])
def test_bearer_in_any_case_with_any_spaces_or_the_bare_token(
    authorizer: JwtAuthorizer, signing_key: SigningKey, shape: str
) -> None:
    token = sign(signing_key, access_claims())
    assert token_from(shape.format(token)) == token
    assert authorizer.authorize(shape.format(token), [READ])["client_id"] == MACHINE


def test_not_a_jwt_is_401_invalid_number_of_segments_as_recorded(authorizer: JwtAuthorizer) -> None:
    assert refused(authorizer, "Bearer not-a-token").www_authenticate == (
        f'Bearer scope="" error="invalid_token" error_description="{NOT_A_JWT}"'
    )
    assert NOT_A_JWT == "token contains an invalid number of segments"


def test_the_token_is_read_from_the_identity_sources_header(signing_key: SigningKey) -> None:
    authorizer = JwtAuthorizer(
        issuer=ISSUER,
        audience=[MACHINE],
        jwks=jwks_document([signing_key]),
        identity_source="$request.header.X-Token",
        clock=lambda: NOW,
    )
    route = Route("/r", "GET", "F", None, "Jwt", (), False)
    token = sign(signing_key, access_claims())
    assert authorizer.check(make_request(headers={"x-token": token}), route).claims is not None
    with pytest.raises(TokenRefused):
        authorizer.check(make_request(headers={"Authorization": f"Bearer {token}"}), route)


def test_the_token_is_read_from_a_query_string_identity_source(signing_key: SigningKey) -> None:
    authorizer = JwtAuthorizer(
        issuer=ISSUER,
        audience=[MACHINE],
        jwks=jwks_document([signing_key]),
        identity_source="$request.querystring.access_token",
        clock=lambda: NOW,
    )
    route = Route("/r", "GET", "F", None, "Jwt", (), False)
    token = sign(signing_key, access_claims())
    authorization = authorizer.check(make_request(query_string={"access_token": token}), route)
    assert authorization.claims is not None
    assert authorization.claims["client_id"] == MACHINE
    with pytest.raises(TokenRefused):
        authorizer.check(make_request(headers={"Authorization": f"Bearer {token}"}), route)


# ---------------------------------------------------------------- kid, algorithm, signature


def test_unknown_kid_is_401(authorizer: JwtAuthorizer, other_key: SigningKey) -> None:
    assert_refused_invalid_token(authorizer, sign(other_key, access_claims()))


def test_another_key_under_the_pools_kid_is_401_bad_signature(
    authorizer: JwtAuthorizer, signing_key: SigningKey, other_key: SigningKey
) -> None:
    token = jwt.encode(
        access_claims(), other_key.private_key, algorithm="RS256", headers={"kid": signing_key.kid}
    )
    assert_refused_invalid_token(authorizer, token)


def test_claims_changed_after_signing_are_401(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    header, _, signature = sign(signing_key, access_claims()).split(".")
    forged = b64url(json.dumps(access_claims(scopes=(WRITE,))).encode())
    assert_refused_invalid_token(authorizer, f"{header}.{forged}.{signature}", [WRITE])


@pytest.mark.parametrize("algorithm", ["RS256", "RS384", "RS512"])
def test_rsa_algorithms_pass(authorizer: JwtAuthorizer, signing_key: SigningKey, algorithm: str) -> None:
    token = sign(signing_key, access_claims(), algorithm=algorithm)
    assert authorizer.authorize(token, [READ])["client_id"] == MACHINE


@pytest.mark.parametrize("algorithm", ["PS256", "none"])
def test_other_algorithms_are_401_even_with_the_pools_key(
    authorizer: JwtAuthorizer, signing_key: SigningKey, algorithm: str
) -> None:
    key = None if algorithm == "none" else signing_key.private_key
    token = jwt.encode(access_claims(), key, algorithm=algorithm, headers={"kid": signing_key.kid})
    assert_refused_invalid_token(authorizer, token)


def test_hs256_keyed_with_the_public_key_is_401(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    public_pem = signing_key.private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    header = b64url(json.dumps({"alg": "HS256", "kid": signing_key.kid}).encode())
    payload = b64url(json.dumps(access_claims()).encode())
    signature = b64url(hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest())
    assert_refused_invalid_token(authorizer, f"{header}.{payload}.{signature}")


# ---------------------------------------------------------------- issuer and audience


@pytest.mark.parametrize(
    "issuer",
    [aws_issuer(REGION, f"{REGION}_Other0000"), ISSUER + "/", ISSUER.upper(), None],
    ids=["another-pool", "trailing-slash", "case", "absent"],
)
def test_iss_must_equal_the_issuer_exactly(
    authorizer: JwtAuthorizer, signing_key: SigningKey, issuer: str | None
) -> None:
    claims = access_claims(iss=issuer)
    if issuer is None:
        del claims["iss"]
    assert_refused_invalid_token(authorizer, sign(signing_key, claims))


def test_client_outside_the_audience_is_401_with_the_recorded_audience_text(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    token = sign(signing_key, access_claims(client_id=OUTSIDER))
    assert refused(authorizer, f"Bearer {token}", [READ]).www_authenticate == (
        f'Bearer scope="" error="invalid_token" error_description="{BAD_AUDIENCE}"'
    )
    assert BAD_AUDIENCE == "the token does not have a valid audience"


def test_aud_decides_when_present_client_id_is_then_ignored(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    token = sign(signing_key, access_claims(client_id=MACHINE, aud=OUTSIDER))
    assert refused(authorizer, token).description == BAD_AUDIENCE


def test_client_id_is_not_needed_when_aud_matches(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    claims = access_claims(client_id=OUTSIDER, aud=MACHINE)
    assert authorizer.authorize(sign(signing_key, claims), [READ])["aud"] == MACHINE


def test_aud_as_a_list_passes_when_any_item_is_in_the_audience(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    assert authorizer.authorize(sign(signing_key, id_claims(aud=[OUTSIDER, PEOPLE])), [])["sub"]


def test_token_without_aud_or_client_id_is_401(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    claims = access_claims()
    del claims["client_id"]
    assert refused(authorizer, sign(signing_key, claims)).description == BAD_AUDIENCE


# ---------------------------------------------------------------- time


def test_expired_token_is_401_unauthorized_not_the_rest_message(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    assert_refused_invalid_token(authorizer, sign(signing_key, access_claims(exp=int(NOW) - 1)))


def test_token_expiring_now_is_401(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    assert_refused_invalid_token(authorizer, sign(signing_key, access_claims(exp=int(NOW))))


def test_token_without_exp_is_401(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    claims = access_claims()
    del claims["exp"]
    assert_refused_invalid_token(authorizer, sign(signing_key, claims))


def test_nbf_in_the_future_is_401_and_nbf_now_passes(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    assert_refused_invalid_token(authorizer, sign(signing_key, access_claims(nbf=int(NOW) + 1)))
    assert authorizer.authorize(sign(signing_key, access_claims(nbf=int(NOW))), [READ])


def test_iat_in_the_future_is_401_and_iat_now_passes(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    assert_refused_invalid_token(authorizer, sign(signing_key, access_claims(iat=int(NOW) + 1)))
    assert authorizer.authorize(sign(signing_key, access_claims(iat=int(NOW))), [READ])


def test_nbf_and_iat_are_checked_only_when_present(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    claims = access_claims()
    del claims["iat"]
    assert authorizer.authorize(sign(signing_key, claims), [READ])


# ---------------------------------------------------------------- scopes


def test_any_one_of_the_route_scopes_passes(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    token = sign(signing_key, access_claims(scopes=(READ,)))
    assert authorizer.authorize(token, [WRITE, READ])["scope"] == READ


def test_none_of_the_route_scopes_is_403(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    token = sign(signing_key, access_claims(scopes=(READ,)))
    with pytest.raises(ScopeMissing) as caught:
        authorizer.authorize(token, [WRITE])
    assert caught.value.www_authenticate == f'Bearer scope="{WRITE}" error="insufficient_scope"'


def test_an_id_token_on_a_scoped_route_is_403(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    with pytest.raises(ScopeMissing):
        authorizer.authorize(sign(signing_key, id_claims()), [READ])


def test_scopes_match_exactly_not_by_prefix(authorizer: JwtAuthorizer, signing_key: SigningKey) -> None:
    with pytest.raises(ScopeMissing):
        authorizer.authorize(sign(signing_key, access_claims(scopes=("fixture/read_more",))), [READ])


@pytest.mark.parametrize("scp", [[READ], READ], ids=["list", "string"])
def test_scp_wins_over_scope(authorizer: JwtAuthorizer, signing_key: SigningKey, scp: Any) -> None:
    token = sign(signing_key, access_claims(scopes=(WRITE,), scp=scp))
    assert authorizer.authorize(token, [READ])
    with pytest.raises(ScopeMissing):
        authorizer.authorize(token, [WRITE])


def test_the_audience_is_checked_before_the_scopes(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    token = sign(signing_key, access_claims(client_id=OUTSIDER, scopes=()))
    assert refused(authorizer, token, [READ]).description == BAD_AUDIENCE


# ---------------------------------------------------------------- a verified token, remembered


def test_a_remembered_token_still_expires(signing_key: SigningKey) -> None:
    now = [NOW]
    authorizer = JwtAuthorizer(
        issuer=ISSUER, audience=[MACHINE], jwks=jwks_document([signing_key]), clock=lambda: now[0]
    )
    token = sign(signing_key, access_claims(exp=int(NOW) + 10))
    assert authorizer.authorize(token, [READ])
    now[0] = NOW + 10
    assert_refused_invalid_token(authorizer, token)


def test_a_remembered_token_is_checked_against_each_routes_scopes(
    authorizer: JwtAuthorizer, signing_key: SigningKey
) -> None:
    token = sign(signing_key, access_claims(scopes=(READ,)))
    assert authorizer.authorize(token, [READ])
    with pytest.raises(ScopeMissing):
        authorizer.authorize(token, [WRITE])


def test_real_clock_by_default(signing_key: SigningKey) -> None:
    authorizer = JwtAuthorizer(issuer=ISSUER, audience=[MACHINE], jwks=jwks_document([signing_key]))
    now = int(time.time())
    assert authorizer.authorize(sign(signing_key, access_claims(iat=now, exp=now + 60)), [READ])
    assert_refused_invalid_token(authorizer, sign(signing_key, access_claims(iat=now - 120, exp=now - 60)))
