"""AWS's own verifier accepts the local cloud's tokens (docs/aws-behaviour.md §4).

`aws-jwt-verify` (AWS's JWT library for Node.js) checks `iss` against
`https://cognito-idp.{region}.amazonaws.com/{userPoolId}`, the pool id's format, `token_use`,
`client_id`, expiry and the signature. Given the local JWKS (`cacheJwks`, so it fetches nothing),
it must accept a local token and refuse a tampered one. The package is installed from npm into a
test-only folder; without Node.js the test is skipped and says why.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import requests

from tests.e2e.support import Stack
from tests.harness import ROOT

VERIFIER_VERSION = "5.2.1"
NODE_DIR = ROOT / ".local" / "test-node"  # test-only; .local/ is ignored by git
SCRIPT = """
const { CognitoJwtVerifier } = require("aws-jwt-verify");
const [poolId, clientId, token, jwks] = process.argv.slice(2);
const verifier = CognitoJwtVerifier.create({ userPoolId: poolId, tokenUse: "access", clientId });
verifier.cacheJwks(JSON.parse(jwks));
verifier.verify(token).then(
  (payload) => console.log(JSON.stringify({ accepted: true, iss: payload.iss })),
  (error) => console.log(JSON.stringify({ accepted: false, error: error.name })),
);
"""


@pytest.fixture(scope="module")
def node_verifier() -> Path:
    if not (shutil.which("node") and shutil.which("npm")):
        pytest.skip("Node.js and npm are not installed: cannot run AWS's aws-jwt-verify")
    package = NODE_DIR / "node_modules" / "aws-jwt-verify" / "package.json"
    if not package.exists() or json.loads(package.read_text())["version"] != VERIFIER_VERSION:
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603 - npm from PATH, fixed arguments
            ["npm", "install", "--no-audit", "--no-fund", "--silent", f"aws-jwt-verify@{VERIFIER_VERSION}"],  # noqa: S607
            cwd=NODE_DIR,
            check=True,
            timeout=300,
        )
    script = NODE_DIR / "verify.js"
    script.write_text(SCRIPT)
    return script


def _verify(script: Path, stack: Stack, client_id: str, token: str) -> dict[str, object]:
    jwks = requests.get(stack.jwks_url, timeout=10).text
    pool_id = stack.issuer.rsplit("/", 1)[1]
    result = subprocess.run(  # noqa: S603 - node from PATH, our own script
        ["node", str(script), pool_id, client_id, token, jwks],  # noqa: S607
        cwd=NODE_DIR,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


def test_aws_jwt_verify_accepts_a_local_token_given_the_local_jwks(
    node_verifier: Path, stack: Stack, token_for: Callable[..., str]
) -> None:
    name = next(iter(stack.clients))
    verdict = _verify(node_verifier, stack, stack.clients[name].client_id, token_for(name))
    assert verdict == {"accepted": True, "iss": stack.issuer}


def test_aws_jwt_verify_refuses_a_tampered_local_token(
    node_verifier: Path, stack: Stack, token_for: Callable[..., str]
) -> None:
    name = next(iter(stack.clients))
    header, payload, signature = token_for(name).split(".")
    tampered = f"{header}.{payload[:-2]}{'A' if payload[-2] != 'A' else 'B'}{payload[-1]}.{signature}"
    verdict = _verify(node_verifier, stack, stack.clients[name].client_id, tampered)
    assert verdict["accepted"] is False
