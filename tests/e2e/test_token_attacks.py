"""The token attack battery: forged and broken tokens, on every route of both APIs. Each is refused with
401 `{"message":"Unauthorized"}` by the gateway's authorizer, the REST API's Cognito authorizer
(docs/aws-behaviour.md §2) or the HTTP API's JWT authorizer (§9.2, whose 401s also carry
`www-authenticate: Bearer ...`), and no function runs (counted from the local cloud's console).

The forgeries start from a real access token of the widest client and the pool's published key:
alg none, HMAC keyed with the public key, keys the token brings along, tampered or widened claims,
signatures moved between tokens, other pools and issuers, and malformed tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from tests.e2e.console_log import ConsoleLog
from tests.e2e.support import DEPLOYED, UNAUTHORIZED, Api, Stack, answer_of, concrete_path, template_routes
from tests.harness import narrowest_client, widest_client

ROUTES = template_routes()
ATTACKER_KEY = rsa.generate_private_key(65537, 2048)
ANOTHER_POOL = "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_An0therP0"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _json_b64(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":")).encode())


def _parts(token: str) -> tuple[dict[str, Any], dict[str, Any], str]:
    header, payload, signature = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "==")),
        json.loads(base64.urlsafe_b64decode(payload + "==")),
        signature,
    )


def _unsigned(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{_json_b64(header)}.{_json_b64(claims)}.{signature}"


def _hmac(header: dict[str, Any], claims: dict[str, Any], secret: bytes, digest: Any = hashlib.sha256) -> str:
    signing_input = f"{_json_b64(header)}.{_json_b64(claims)}"
    return f"{signing_input}.{_b64(hmac.new(secret, signing_input.encode(), digest).digest())}"


def _attacker(claims: dict[str, Any], **header: Any) -> str:
    return jwt.encode(claims, ATTACKER_KEY, algorithm="RS256", headers=header)


@dataclass(frozen=True)
class Material:
    """What an attacker has: a real token of the widest client, a real narrow one, the pool's JWKS."""

    token: str
    narrow_token: str
    jwk: dict[str, Any]

    @property
    def header(self) -> dict[str, Any]:
        return _parts(self.token)[0]

    @property
    def claims(self) -> dict[str, Any]:
        return _parts(self.token)[1]

    @property
    def signature(self) -> str:
        return _parts(self.token)[2]

    @property
    def public_pem(self) -> bytes:
        key = RSAAlgorithm.from_jwk(json.dumps(self.jwk))
        return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)

    def tampered(self, **changes: Any) -> str:
        """The real token with its claims changed and its real signature kept."""
        return _unsigned(self.header, {**self.claims, **changes}, self.signature)


def _widest_scopes(m: Material) -> str:
    return " ".join(
        sorted({*m.claims["scope"].split(), "product-api/admin", "aws.cognito.signin.user.admin"})
    )


# name -> the Authorization header, made from the material. At least 30, each a different attack.
ATTACKS: dict[str, Callable[[Material], str]] = {
    # alg none and its spellings
    "alg none": lambda m: "Bearer " + _unsigned({"alg": "none", "typ": "JWT"}, m.claims),
    "alg None": lambda m: "Bearer " + _unsigned({"alg": "None"}, m.claims),
    "alg NONE with the pool's kid": lambda m: (
        "Bearer " + _unsigned({"alg": "NONE", "kid": m.header["kid"]}, m.claims)
    ),
    "alg none keeping the real signature": lambda m: (
        "Bearer " + _unsigned({"alg": "none"}, m.claims, m.signature)
    ),
    # algorithm confusion: HMAC keyed with what is public
    "HS256 keyed with the public key PEM": lambda m: (
        "Bearer " + _hmac({"alg": "HS256", "kid": m.header["kid"]}, m.claims, m.public_pem)
    ),
    "HS256 keyed with the JWK's modulus": lambda m: (
        "Bearer " + _hmac({"alg": "HS256", "kid": m.header["kid"]}, m.claims, m.jwk["n"].encode())
    ),
    "HS512 keyed with the public key PEM": lambda m: (
        "Bearer " + _hmac({"alg": "HS512", "kid": m.header["kid"]}, m.claims, m.public_pem, hashlib.sha512)
    ),
    "HS256 with widened scopes": lambda m: (
        "Bearer "
        + _hmac(
            {"alg": "HS256", "kid": m.header["kid"]}, {**m.claims, "scope": _widest_scopes(m)}, m.public_pem
        )
    ),
    # keys the token brings along
    "embedded jwk of the attacker's key": lambda m: (
        "Bearer " + _attacker(m.claims, jwk=json.loads(RSAAlgorithm.to_jwk(ATTACKER_KEY.public_key())))
    ),
    "jku pointing at the attacker's JWKS": lambda m: (
        "Bearer " + _attacker(m.claims, jku="http://127.0.0.1:9/.well-known/jwks.json", kid="attacker")
    ),
    "x5u pointing at the attacker's certificate": lambda m: (
        "Bearer " + _attacker(m.claims, x5u="http://127.0.0.1:9/cert.pem")
    ),
    "the pool's kid on the attacker's signature": lambda m: (
        "Bearer " + _attacker(m.claims, kid=m.header["kid"])
    ),
    "kid with a path traversal": lambda m: "Bearer " + _attacker(m.claims, kid="../../../../../dev/null"),
    "kid with SQL": lambda m: "Bearer " + _attacker(m.claims, kid="' OR '1'='1"),
    "no kid": lambda m: "Bearer " + _attacker(m.claims),
    "crit header the authorizer does not know": lambda m: (
        "Bearer " + _attacker(m.claims, kid=m.header["kid"], crit=["exp"])
    ),
    # tampered claims, real signature kept
    "scope widened": lambda m: "Bearer " + m.tampered(scope=_widest_scopes(m)),
    "narrow token widened to the wide one's scopes": lambda m: (
        "Bearer "
        + _unsigned(
            _parts(m.narrow_token)[0],
            {**_parts(m.narrow_token)[1], "scope": m.claims["scope"]},
            _parts(m.narrow_token)[2],
        )
    ),
    "client_id changed": lambda m: (
        "Bearer " + m.tampered(client_id="attacker0client0id00000000", sub="attacker")
    ),
    "expiry extended by a year": lambda m: "Bearer " + m.tampered(exp=m.claims["exp"] + 365 * 86400),
    "issuer changed to another pool": lambda m: "Bearer " + m.tampered(iss=ANOTHER_POOL),
    "token_use changed to id": lambda m: "Bearer " + m.tampered(token_use="id"),
    "header changed to PS256": lambda m: (
        "Bearer " + _unsigned({**m.header, "alg": "PS256"}, m.claims, m.signature)
    ),
    # signatures moved, stripped or damaged
    "signature stripped": lambda m: "Bearer " + m.token.rsplit(".", 1)[0] + ".",
    "two segments only": lambda m: "Bearer " + m.token.rsplit(".", 1)[0],
    "a fourth segment": lambda m: f"Bearer {m.token}.{m.signature}",
    "the narrow token's signature on the wide claims": lambda m: (
        "Bearer " + m.token.rsplit(".", 1)[0] + "." + _parts(m.narrow_token)[2]
    ),
    "one signature character changed": lambda m: (
        "Bearer " + m.token[:-2] + ("A" if m.token[-2] != "A" else "B") + m.token[-1]
    ),
    "signature of an empty string": lambda m: "Bearer " + m.token.rsplit(".", 1)[0] + "." + _b64(b""),
    # signed, but not by the pool, or not for it
    "attacker-signed with another pool's issuer": lambda m: (
        "Bearer " + _attacker({**m.claims, "iss": ANOTHER_POOL}, kid=m.header["kid"])
    ),
    "attacker-signed with a foreign issuer": lambda m: (
        "Bearer " + _attacker({**m.claims, "iss": "https://issuer.example"}, kid="attacker")
    ),
    "attacker-signed ID token": lambda m: (
        "Bearer "
        + _attacker({**m.claims, "token_use": "id", "aud": m.claims["client_id"]}, kid=m.header["kid"])
    ),
    "attacker-signed, already expired": lambda m: (
        "Bearer " + _attacker({**m.claims, "exp": int(time.time()) - 60}, kid=m.header["kid"])
    ),
    # malformed
    "Bearer and nothing": lambda m: "Bearer ",
    "not a JWT": lambda m: "Bearer not-a-jwt",
    "base64 JSON without a signature": lambda m: "Bearer " + _json_b64(m.claims),
    "a space inside the token": lambda m: "Bearer " + m.token[:40] + " " + m.token[40:],
    "8 KB of garbage": lambda m: "Bearer " + "A" * 8192,
    "the token under the Basic scheme": lambda m: (
        "Basic " + base64.b64encode(f"{m.token}:".encode()).decode()
    ),
    "a random UUID": lambda m: f"Bearer {uuid.uuid4()}",
}


@pytest.fixture(scope="module")
def material(stack: Stack, token_for: Callable[..., str]) -> Material:
    widest = stack.clients[widest_client(stack.clients)]
    narrowest = stack.clients[narrowest_client(stack.clients)]
    return Material(
        token=token_for(widest.logical_id),
        narrow_token=token_for(narrowest.logical_id, scope=narrowest.scopes[0]),
        jwk=requests.get(stack.jwks_url, timeout=10).json()["keys"][0],
    )


def test_the_battery_has_at_least_30_attacks_and_covers_every_route() -> None:
    assert len(ATTACKS) >= 30
    assert {(r.method, r.resource) for r in ROUTES} >= {("GET", "/products"), ("POST", "/products")}


def test_every_forged_or_broken_token_is_refused_on_every_route_and_no_function_runs(
    api: Api, stack: Stack, material: Material
) -> None:
    # The real token works: the battery's starting point is a valid credential.
    assert api.call("GET", "/products", token=material.token).status_code == 200
    console = ConsoleLog(stack.console_log) if stack.console_log else None

    refused = {}
    for name, attack in ATTACKS.items():
        authorization = attack(material)
        for route in ROUTES:
            body = {} if route.method in ("POST", "PUT") else None
            response = api.call(
                route.method, concrete_path(route.resource), authorization=authorization, json=body
            )
            challenge = response.headers.get("www-authenticate")
            refused[(name, route.method, route.resource)] = (answer_of(response), challenge)

    wrong = {
        k: v
        for k, v in refused.items()
        if v[0] != UNAUTHORIZED or (api.kind.bearer_challenge and not (v[1] or "").startswith("Bearer"))
    }
    assert not wrong, wrong
    if console is None:
        assert DEPLOYED
        return  # a deployed stack: the gateway's 401s are the evidence; invocations are not counted
    served = console.served(len(refused))
    assert len(served) == len(refused) == len(ATTACKS) * len(ROUTES)
    assert [s for s in served if s.function is not None] == []
    print(
        f"\n{api.kind.name} API: {len(ATTACKS)} tokens x {len(ROUTES)} routes: "
        f"{len(served)} requests, all 401, 0 invocations"
    )
