"""End-to-end tests over HTTP: one suite, two targets.

Local (default, part of `make test`): a session fixture starts the local cloud
(`python -m sam_local_cloud --port N --signing-key FILE --no-throttle`) on a free port, waits
until it has written its outputs, and stops it after the session (tests/harness.py, which the README
test and the benchmarks start their clouds with too). The key file is the fixture's, so
tests can sign the tokens no client can get from Cognito (expired ones, ID tokens before people can
sign in); throttling is tested on a cloud of its own (test_fidelity.py).

Deployed: with AWS_SAM_STACK_NAME set, the same tests run against that stack, using your AWS
credentials and region (Outputs from CloudFormation DescribeStacks, client secrets from Cognito
DescribeUserPoolClient):

    AWS_SAM_STACK_NAME=product-api AWS_REGION=eu-west-1 .venv/bin/pytest tests/e2e

Tests that need the local cloud (its signing key, its console, a second cloud) are skipped there, with
the reason.
Routes, scopes and clients come from template.yaml, transformed by the SAM translator.

The route tests (those taking the `api` fixture) run twice, against the REST API (`ApiUrl`) and the
HTTP API (`HttpApiUrl`): the same expectations where AWS behaves the same, and where it does not, the
difference as `api.kind` names it (tests/e2e/support.py, `ApiKind`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from authlib.integrations.requests_client import OAuth2Session

from sam_local_cloud.cognito.tokens import SigningKey
from tests.e2e.sign_in import create_person, delete_person, user_client
from tests.e2e.support import (
    API_KINDS,
    DEPLOYED,
    REST,
    STACK_NAME,
    Api,
    Person,
    Stack,
    deployed_stack,
    local_stack,
)
from tests.harness import start_local_cloud

# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    if STACK_NAME:
        yield deployed_stack(STACK_NAME)
        return
    workdir = tmp_path_factory.mktemp("local-cloud")
    key = SigningKey.generate()
    (workdir / "key.pem").write_bytes(key.to_pem())
    # Functions are not throttled, as in a standard account: the tests' 50 concurrent calls
    # (test_no_lost_writes) wait for the environments a function runs locally (docs/aws-behaviour.md §7).
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


@pytest.fixture(scope="session", params=API_KINDS, ids=[kind.name for kind in API_KINDS])
def api(stack: Stack, request: pytest.FixtureRequest) -> Api:
    """The route tests run against both APIs of the stack, the REST API and the HTTP API, with the same
    expectations but where AWS answers differently (`api.kind`, docs/aws-behaviour.md §9)."""
    return Api(stack, request.param)


@pytest.fixture(scope="session")
def rest_api(stack: Stack) -> Api:
    """The REST API alone: for what only it has (API keys, gateway responses, the API page...)."""
    return Api(stack, REST)


# ---------------------------------------------------------------- people


@pytest.fixture(scope="session")
def template_groups(stack: Stack) -> dict[str, frozenset[str]]:
    """The pool's groups and the scopes each grants, as the template declares them (GROUP_SCOPES)."""
    from events.generate import group_scopes
    from sam_local_cloud.cloudformation.template import translate

    return {group: frozenset(scopes) for group, scopes in group_scopes(translate(stack.parameters)).items()}


@pytest.fixture(scope="session")
def people(
    stack: Stack, template_groups: dict[str, frozenset[str]]
) -> Iterator[dict[tuple[str, ...], Person]]:
    """One person per group and one in two groups, by their groups: the local cloud's sample users, or,
    on a deployed stack, people made with the admin API for this session and deleted after it."""
    if not DEPLOYED:
        yield {person.groups: person for person in stack.people}
        return
    ordered = sorted(template_groups, key=lambda g: len(template_groups[g]))
    made = [create_person(stack, (group,)) for group in ordered]
    made.append(create_person(stack, tuple(ordered[:2])))
    try:
        yield {person.groups: person for person in made}
    finally:
        for person in made:
            delete_person(stack, person)


@pytest.fixture
def new_person(stack: Stack) -> Iterator[Callable[[tuple[str, ...]], Person]]:
    """new_person(groups): a person of this test only (made with the admin API, deleted after it)."""
    made: list[Person] = []

    def create(groups: tuple[str, ...]) -> Person:
        made.append(create_person(stack, groups))
        return made[-1]

    yield create
    for person in made:
        delete_person(stack, person)


@pytest.fixture(scope="session")
def password_sign_in(stack: Stack) -> None:
    """Skips a test when the user client does not take USER_PASSWORD_AUTH (a stack deployed without
    AllowUserPasswordAuth=true; the local cloud turns it on by default)."""
    allowed = "ALLOW_USER_PASSWORD_AUTH" in user_client(stack).get("ExplicitAuthFlows", [])
    assert allowed or DEPLOYED, "the local cloud must turn USER_PASSWORD_AUTH on by default"
    if not allowed:
        pytest.skip(
            "the user client does not take USER_PASSWORD_AUTH: deploy with AllowUserPasswordAuth=true"
        )
