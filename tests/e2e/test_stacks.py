"""Several templates served together as stacks (docs/aws-behaviour.md, "Stacks, exports and nested
stacks"), each started with the harness and called over HTTP:

- tests/fixtures/stacks/shared/cognito.yaml exports its pool; tests/fixtures/stacks/api/template.yaml
  imports it (Fn::ImportValue on a stack name it takes as a parameter) for its Cognito authorizer and
  its function's environment: `--template shared:STACK --template api:STACK`;
- tests/fixtures/stacks/nested/template.yaml gets the same pool from a nested application whose
  template is a local file (`Fn::GetAtt Auth.Outputs.X`);
- tests/fixtures/stacks/by_parameter/template.yaml nests the pool's template and an API that takes the
  pool's ARN and id as parameters, given the first one's outputs (its API on a port of its own);
- the API stack alone, and two templates that would be one stack: refused at start-up by name.

A person of the served pool signs in through the sign-in API (InitiateAuth, as boto3 calls it) and
calls the API with their ID token. Export names and output keys are read from the templates.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sam_local_cloud.cloudformation.template import load_source
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import ROOT, LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="uses the local cloud's fixture templates")

STACKS = FIXTURES / "stacks"
SHARED = STACKS / "shared" / "cognito.yaml"
API = STACKS / "api" / "template.yaml"
NESTED = STACKS / "nested" / "template.yaml"
BY_PARAMETER = STACKS / "by_parameter" / "template.yaml"
# The stack name the API template imports from, by default (its CognitoStackName parameter).
SHARED_STACK = load_source(API)["Parameters"]["CognitoStackName"]["Default"]
API_STACK = "orders"
PASSWORD = "Correct-Horse-9-battery"


@pytest.fixture(scope="module")
def two_stacks(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(
        tmp_path_factory.mktemp("stacks"),
        "--template",
        f"{SHARED}:{SHARED_STACK}",
        "--template",
        f"{API}:{API_STACK}",
        timeout=60,
    )
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def nested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    folder = tmp_path_factory.mktemp("nested")
    cloud = start_local_cloud(folder, "--template", f"{NESTED}:{API_STACK}", timeout=60)
    yield cloud
    cloud.stop()


def stack_outputs(cloud: LocalCloud, name: str) -> dict[str, str]:
    (stack,) = cloud.aws("cloudformation").describe_stacks(StackName=name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def id_token(cloud: LocalCloud, pool_id: str, client_id: str, username: str, group: str | None = None) -> str:
    """A person made with the admin API in the served pool, signed in with their password."""
    cognito = cloud.aws("cognito-idp")
    cognito.admin_create_user(UserPoolId=pool_id, Username=username, MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool_id, Username=username, Password=PASSWORD, Permanent=True)
    if group:
        cognito.admin_add_user_to_group(UserPoolId=pool_id, Username=username, GroupName=group)
    signed_in = cognito.initiate_auth(
        ClientId=client_id,
        AuthFlow="USER_PASSWORD_AUTH",
        AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD},
    )
    return str(signed_in["AuthenticationResult"]["IdToken"])


def orders(api_url: str, token: str | None) -> requests.Response:
    headers = {"Authorization": token} if token else {}
    return requests.get(f"{api_url}/orders", headers=headers, timeout=30)


# ---------------------------------------------------------------- two stacks, exports and imports


def test_each_stack_is_described_under_its_own_name(two_stacks: LocalCloud) -> None:
    shared, api = stack_outputs(two_stacks, SHARED_STACK), stack_outputs(two_stacks, API_STACK)
    assert set(shared) == set(load_source(SHARED)["Outputs"])
    assert set(api) == set(load_source(API)["Outputs"])
    assert api["ApiUrl"] == f"{two_stacks.base_url}/Prod"  # the local URL, as in a single stack


def test_the_shared_stack_exports_are_listed_with_their_values(two_stacks: LocalCloud) -> None:
    exports = {e["Name"]: e for e in two_stacks.aws("cloudformation").list_exports()["Exports"]}
    shared = stack_outputs(two_stacks, SHARED_STACK)
    for key in load_source(SHARED)["Outputs"]:
        export = exports[f"{SHARED_STACK}-{key}"]
        assert export["Value"] == shared[key]
        assert f":stack/{SHARED_STACK}/" in export["ExportingStackId"]


def test_a_person_of_the_first_stack_pool_calls_the_second_stack_api(two_stacks: LocalCloud) -> None:
    shared = stack_outputs(two_stacks, SHARED_STACK)
    api_url = stack_outputs(two_stacks, API_STACK)["ApiUrl"]
    pool, client, group = shared["UserPoolId"], shared["UserPoolClientId"], shared["AdminGroupName"]
    token = id_token(two_stacks, pool, client, "ada@example.com", group)
    answer = orders(api_url, token)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The function's imports resolved to the shared stack's values; the authorizer passed the claims.
    assert body["userPoolId"] == shared["UserPoolId"]
    assert body["adminGroup"] == shared["AdminGroupName"]
    assert body["groups"] == shared["AdminGroupName"]


def test_the_imported_pool_authorizer_refuses_a_missing_or_forged_token(two_stacks: LocalCloud) -> None:
    shared = stack_outputs(two_stacks, SHARED_STACK)
    api_url = stack_outputs(two_stacks, API_STACK)["ApiUrl"]
    assert orders(api_url, None).status_code == 401
    token = id_token(two_stacks, shared["UserPoolId"], shared["UserPoolClientId"], "eve@example.com")
    header, payload, signature = token.split(".")
    forged = f"{header}.{payload}.{signature[::-1]}"
    assert orders(api_url, forged).status_code == 401


# ---------------------------------------------------------------- a nested application


def nested_stack_name(cloud: LocalCloud) -> str:
    stacks = cloud.aws("cloudformation").describe_stacks()["Stacks"]
    (name,) = [s["StackName"] for s in stacks if s["StackName"].startswith(f"{API_STACK}-Auth-")]
    return str(name)


def test_a_nested_application_is_a_stack_named_as_cloudformation_names_it(nested: LocalCloud) -> None:
    name = nested_stack_name(nested)
    assert len(name.rsplit("-", 1)[1]) == 13  # CloudFormation's suffix, as a resource's generated name
    cloudformation = nested.aws("cloudformation")
    detail = cloudformation.describe_stack_resource(StackName=API_STACK, LogicalResourceId="Auth")[
        "StackResourceDetail"
    ]
    assert detail["ResourceType"] == "AWS::CloudFormation::Stack"
    assert f":stack/{name}/" in detail["PhysicalResourceId"]
    # Asked to keep its state (the harness gives --state), it keeps the nested stack's too (§15).
    assert "in memory only" not in nested.console
    # The parameter the parent passes reached the nested template.
    assert (
        stack_outputs(nested, name)["AdminGroupName"]
        == load_source(NESTED)["Resources"]["Auth"]["Properties"]["Parameters"]["AdminGroupName"]
    )


def test_a_person_of_the_nested_pool_calls_the_parent_api(nested: LocalCloud) -> None:
    inner = stack_outputs(nested, nested_stack_name(nested))
    parent = stack_outputs(nested, API_STACK)
    assert parent["UserPoolClientId"] == inner["UserPoolClientId"]  # Fn::GetAtt Auth.Outputs.X
    token = id_token(nested, inner["UserPoolId"], inner["UserPoolClientId"], "grace@example.com")
    answer = orders(parent["ApiUrl"], token)
    assert answer.status_code == 200, answer.text
    assert answer.json()["userPoolId"] == inner["UserPoolId"]
    assert orders(parent["ApiUrl"], None).status_code == 401


def test_a_pool_passed_as_a_parameter_is_the_served_pool(tmp_path: Path) -> None:
    cloud = start_local_cloud(tmp_path, "--template", f"{BY_PARAMETER}:{API_STACK}", timeout=60)
    try:
        parent = stack_outputs(cloud, API_STACK)
        token = id_token(cloud, parent["UserPoolId"], parent["UserPoolClientId"], "alan@example.com")
        # The nested API is on a port of its own; the parent's output names its local URL.
        assert parent["ApiUrl"].startswith("http://127.0.0.1:")
        assert not parent["ApiUrl"].startswith(cloud.base_url)
        answer = orders(parent["ApiUrl"], token)
        assert answer.status_code == 200, answer.text
        assert answer.json()["userPoolId"] == parent["UserPoolId"]
        assert orders(parent["ApiUrl"], None).status_code == 401
    finally:
        cloud.stop()


# ---------------------------------------------------------------- refusals


def start(tmp_path: Path, *templates: str) -> subprocess.CompletedProcess[str]:
    arguments = [item for template in templates for item in ("--template", template)]
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "sam_local_cloud", "--port", "0", "--outputs", str(tmp_path / "o.json"),
         *arguments],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("templates", "expected"),
    [
        ((f"{API}:{API_STACK}",), f"Fn::ImportValue '{SHARED_STACK}-UserPoolId': no served stack exports it"),
        ((f"{SHARED}:same", f"{API}:same"), "two templates would be stack 'same'"),
        ((f"{SHARED}:one", f"{SHARED}:two", f"{API}:{API_STACK}"), "the local cloud serves one user pool"),
    ],
    ids=["import from no served stack", "one stack name twice", "two pools"],
)
def test_what_the_stacks_cannot_be_is_a_named_refusal(
    tmp_path: Path, templates: tuple[str, ...], expected: Any
) -> None:
    done = start(tmp_path, *templates)
    assert done.returncode != 0
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_an_authorizer_on_a_pool_no_served_stack_has_is_refused_not_served_open(tmp_path: Path) -> None:
    elsewhere = "arn:aws:cognito-idp:us-east-1:123456789012:userpool/us-east-1_Elsewhere"
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "sam_local_cloud", "--port", "0", "--outputs", str(tmp_path / "o.json"),
         "--template", str(BY_PARAMETER.parent / "api.yaml"),
         "--parameter-overrides", f"UserPoolArn={elsewhere}", "UserPoolId=us-east-1_Elsewhere",
         "AdminGroupName=admins"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert "authorizer GivenPool names a user pool that none of the served stacks has" in done.stderr
    assert "Traceback" not in done.stderr


# ---------------------------------------------------------------- several stacks kept across a restart


def test_two_stacks_keep_their_ids_items_people_and_tokens_across_a_restart(tmp_path: Path) -> None:
    """One state folder for the stacks served together (docs/aws-behaviour.md §15): the shared stack's
    pool and the API stack's client (on the imported pool), item and the person's token are there again
    after a stop as Ctrl-C does it; `--fresh` starts clean."""
    state = tmp_path / "state"
    arguments = ("--template", f"{SHARED}:{SHARED_STACK}", "--template", f"{API}:{API_STACK}")
    first = start_local_cloud(tmp_path, *arguments, "--state", str(state), timeout=60)
    try:
        shared, api = stack_outputs(first, SHARED_STACK), stack_outputs(first, API_STACK)
        pool, client = shared["UserPoolId"], shared["UserPoolClientId"]
        token = id_token(first, pool, client, "kept@example.com", shared["AdminGroupName"])
        secret = client_secret(first, pool, api["OrdersClientId"])
        item = {"id": {"S": "order-1"}, "total": {"N": "42"}}
        first.aws("dynamodb").put_item(TableName=api["OrdersTableName"], Item=item)
        assert orders(api["ApiUrl"], token).status_code == 200
    finally:
        assert first.stop(signal.SIGINT) == 0
    second = start_local_cloud(tmp_path, *arguments, "--state", str(state), timeout=60)
    try:
        # The same ids and names (the URL's port aside: each start takes a free one).
        assert stack_outputs(second, SHARED_STACK) == shared
        assert stack_outputs(second, API_STACK) | {"ApiUrl": api["ApiUrl"]} == api
        assert client_secret(second, pool, api["OrdersClientId"]) == secret
        table = second.aws("dynamodb").get_item(TableName=api["OrdersTableName"], Key={"id": item["id"]})
        assert table.get("Item") == item
        answer = orders(stack_outputs(second, API_STACK)["ApiUrl"], token)  # issued before the restart
        assert answer.status_code == 200, answer.text
        assert answer.json()["userPoolId"] == pool
        signed_in = second.aws("cognito-idp").initiate_auth(
            ClientId=client,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "kept@example.com", "PASSWORD": PASSWORD},
        )
        assert signed_in["AuthenticationResult"]["IdToken"]
        state_line = next(line for line in second.console.splitlines() if line.startswith("  State "))
        assert str(state) in state_line or state.name in state_line
        assert "kept from" in state_line
    finally:
        second.stop()
    fresh = start_local_cloud(tmp_path, *arguments, "--state", str(state), "--fresh", timeout=60)
    try:
        fresh_api = stack_outputs(fresh, API_STACK)
        table = fresh.aws("dynamodb").get_item(TableName=fresh_api["OrdersTableName"], Key={"id": item["id"]})
        assert "Item" not in table
        assert orders(fresh_api["ApiUrl"], token).status_code == 401  # the old pool's token: not this one's
    finally:
        fresh.stop()


def client_secret(cloud: LocalCloud, pool_id: str, client_id: str) -> str:
    described = cloud.aws("cognito-idp").describe_user_pool_client(UserPoolId=pool_id, ClientId=client_id)
    return str(described["UserPoolClient"]["ClientSecret"])


def test_a_nested_stacks_pool_and_people_are_kept_across_a_restart(tmp_path: Path) -> None:
    state = tmp_path / "state"
    first = start_local_cloud(
        tmp_path, "--template", f"{NESTED}:{API_STACK}", "--state", str(state), timeout=60
    )
    try:
        inner = stack_outputs(first, nested_stack_name(first))
        token = id_token(first, inner["UserPoolId"], inner["UserPoolClientId"], "nested@example.com")
    finally:
        assert first.stop(signal.SIGINT) == 0
    second = start_local_cloud(
        tmp_path, "--template", f"{NESTED}:{API_STACK}", "--state", str(state), timeout=60
    )
    try:
        assert stack_outputs(second, nested_stack_name(second)) == inner
        answer = orders(stack_outputs(second, API_STACK)["ApiUrl"], token)  # issued before the restart
        assert answer.status_code == 200, answer.text
        assert answer.json()["userPoolId"] == inner["UserPoolId"]
    finally:
        second.stop()
