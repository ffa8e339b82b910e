"""A function that verifies tokens itself fetches the pool's keys from AWS's public Cognito host, by the
issuer's URL, and gets the local pool's, its code unchanged (sam_local_cloud/cognito/public_host.py).

The fixture function (tests/fixtures/verifies_tokens_itself/app.py) uses PyJWT's PyJWKClient, urllib
and requests against `https://cognito-idp.{region}.amazonaws.com/{pool}/...`, with certificates
checked as usual.
"""

from __future__ import annotations

from collections.abc import Iterator

import jwt
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import LocalCloud, client_token, machine_clients, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="about the local cloud itself")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(
        tmp_path_factory.mktemp("public-host"), "--template", str(FIXTURES / "verifies_tokens_itself.yaml")
    )
    yield cloud
    cloud.stop()


def _token(cloud: LocalCloud) -> str:
    client = next(iter(machine_clients(cloud.outputs).values()))
    return client_token(cloud.outputs["TokenUrl"], client["ClientId"], client["ClientSecret"])


def _whoami(cloud: LocalCloud, token: str) -> requests.Response:
    url = cloud.outputs["HttpApiUrl"].rstrip("/") + "/whoami"
    return requests.get(url, headers={"Authorization": f"Bearer {token}"}, timeout=30)


def test_a_function_verifies_a_pool_token_with_the_keys_from_aws_host(cloud: LocalCloud) -> None:
    response = _whoami(cloud, _token(cloud))
    assert response.status_code == 200, response.text
    body = response.json()
    client = next(iter(machine_clients(cloud.outputs).values()))
    assert body["client_id"] == client["ClientId"]
    assert body["scope"] == "orders/read"
    # The pool's documents, as AWS's host gives them: the keys on that host, under the issuer.
    assert body["issuer_by_requests"].startswith("https://cognito-idp.")
    assert body["jwks_uri"] == body["issuer_by_requests"] + "/.well-known/jwks.json"


def test_a_token_the_pool_did_not_sign_fails_the_functions_own_check(cloud: LocalCloud) -> None:
    token = _token(cloud)
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(
        jwt.decode(token, options={"verify_signature": False}),
        other_key,
        algorithm="RS256",
        headers={"kid": jwt.get_unverified_header(token)["kid"]},  # the pool's key id, not its key
    )
    response = _whoami(cloud, forged)
    assert response.status_code == 401
    assert "InvalidSignatureError" in response.json()["message"]
