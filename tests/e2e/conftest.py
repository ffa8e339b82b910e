"""End-to-end tests over HTTP: one suite, two targets.

Local (default, part of `make test`): a session fixture starts the local cloud
(`python -m local --port N --test-hooks DIR`) on a free port, waits until it has written its outputs,
and stops it after the session.

Deployed: with AWS_SAM_STACK_NAME set, the same tests run against that stack, using your AWS
credentials and region (Outputs from CloudFormation DescribeStacks, client secrets from Cognito
DescribeUserPoolClient):

    AWS_SAM_STACK_NAME=product-api AWS_REGION=eu-west-1 .venv/bin/pytest tests/e2e

Tests that need the local cloud's test hooks (expired and ID-token-shaped tokens signed by the pool,
the recorded Lambda events, a second cloud with RequireApiKey=true) are skipped there, with the reason.
Routes, scopes and clients come from template.yaml, transformed by the SAM translator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import STACK_NAME, Api, Stack, deployed_stack, local_stack, start_local_cloud

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if STACK_NAME:
        yield deployed_stack(STACK_NAME)
        return
    workdir = tmp_path_factory.mktemp("local-cloud")
    cloud = start_local_cloud(workdir, "--test-hooks", str(workdir / "hooks"))
    try:
        yield local_stack(cloud.outputs, workdir / "hooks", console_log=cloud.log_path)
    finally:
        cloud.stop()


@pytest.fixture(scope="session")
def token_for(stack: Stack) -> Callable[..., str]:
    """An access token from the token endpoint, fetched with Authlib (client_credentials, HTTP Basic).

    `scope` narrows the request; extra form fields (the local test hooks) are passed through.
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
