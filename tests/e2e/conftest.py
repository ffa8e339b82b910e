"""End-to-end tests over HTTP: one suite, two targets.

Local (default, part of `make test`): a session fixture starts the local cloud
(`python -m local --port N --signing-key FILE --no-throttle`) on a free port, waits until it has written
its outputs, and stops it after the session. The key file is the fixture's, so tests can sign the
tokens no client can get from Cognito (expired ones, ID tokens before people can sign in); throttling
is tested on a cloud of its own (test_fidelity.py).

Deployed: with AWS_SAM_STACK_NAME set, the same tests run against that stack, using your AWS
credentials and region (Outputs from CloudFormation DescribeStacks, client secrets from Cognito
DescribeUserPoolClient):

    AWS_SAM_STACK_NAME=product-api AWS_REGION=eu-west-1 .venv/bin/pytest tests/e2e

Tests that need the local cloud (its signing key, its console, a second cloud) are skipped there, with
the reason.
Routes, scopes and clients come from template.yaml, transformed by the SAM translator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session

from local.tokens import SigningKey
from tests.e2e.support import STACK_NAME, Api, Stack, deployed_stack, local_stack, start_local_cloud

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if STACK_NAME:
        yield deployed_stack(STACK_NAME)
        return
    workdir = tmp_path_factory.mktemp("local-cloud")
    key = SigningKey.generate()
    (workdir / "key.pem").write_bytes(key.to_pem())
    cloud = start_local_cloud(workdir, "--signing-key", str(workdir / "key.pem"), "--no-throttle")
    try:
        yield local_stack(cloud, SigningKey.from_pem(key.to_pem()))
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def token_for(stack: Stack) -> Callable[..., str]:
    """An access token from the token endpoint, fetched with Authlib (client_credentials, HTTP Basic).

    `scope` narrows the request; extra form fields are passed through.
    """
    cache: dict[tuple[Any, ...], str] = {}

    def fetch(client: str, scope: str | None = None, **extra: Any) -> str:
        key = (client, scope, tuple(sorted(extra.items())))
        if key not in cache:
            c = stack.clients[client]
            with OAuth2Session(c.client_id, c.secret, scope=scope) as session:
                token = session.fetch_token(stack.token_url, grant_type="client_credentials", **extra)
            cache[key] = token["access_token"]
        return cache[key]

    return fetch


@pytest.fixture(scope="session")
def api(stack: Stack) -> Api:
    return Api(stack)
