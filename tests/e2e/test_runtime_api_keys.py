"""API keys and usage plans made with boto3 against the running cloud count at once, as in API Gateway
(docs/aws-behaviour.md §2.1): the REST API's id and stage are read from the stack, as a user would."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import DEPLOYED
from tests.harness import LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="keys made at run time against the local cloud")

NO_REFILL = 0.0001  # a token every few hours: no refill during a test


@pytest.fixture(scope="module")
def keyed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    workdir = tmp_path_factory.mktemp("runtime-keys")
    cloud = start_local_cloud(workdir, "--parameter-overrides", "RequireApiKey=true")
    yield cloud
    cloud.stop(signal.SIGKILL)


@pytest.fixture(scope="module")
def unkeyed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(tmp_path_factory.mktemp("runtime-keys-unkeyed"))
    yield cloud
    cloud.stop(signal.SIGKILL)


def rest_api_stage(cloud: LocalCloud) -> dict[str, str]:
    """The REST API's id and stage name, from the stack's resources (what a usage plan's apiStages take)."""
    cloudformation = cloud.aws("cloudformation")
    stack = cloudformation.describe_stacks()["Stacks"][0]["StackName"]
    resources = cloudformation.list_stack_resources(StackName=stack)["StackResourceSummaries"]
    physical = {r["ResourceType"]: r["PhysicalResourceId"] for r in resources}
    return {"apiId": physical["AWS::ApiGateway::RestApi"], "stage": physical["AWS::ApiGateway::Stage"]}


def new_key(cloud: LocalCloud, *stages: dict[str, str], **limits: Any) -> dict[str, Any]:
    """A key and a usage plan of its own for `stages`, made through API Gateway's API."""
    apigateway = cloud.aws("apigateway")
    key: dict[str, Any] = apigateway.create_api_key(name="made-at-run-time", enabled=True)
    plan = apigateway.create_usage_plan(name="run-time-plan", apiStages=list(stages), **limits)
    apigateway.create_usage_plan_key(usagePlanId=plan["id"], keyId=key["id"], keyType="API_KEY")
    return key


def token(cloud: LocalCloud) -> str:
    client = next(iter(cloud.outputs["Clients"].values()))
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as session:
        return str(
            session.fetch_token(cloud.outputs["TokenUrl"], grant_type="client_credentials")["access_token"]
        )


def list_products(cloud: LocalCloud, api_key: str | None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token(cloud)}"} | ({"x-api-key": api_key} if api_key else {})
    return requests.get(f"{cloud.outputs['ApiUrl']}/products", headers=headers, timeout=10)


def forbidden(response: requests.Response) -> bool:
    return (response.status_code, response.json()) == (403, {"message": "Forbidden"})


def test_a_key_made_at_run_time_in_a_plan_for_the_stage_works_at_once(keyed_cloud: LocalCloud) -> None:
    key = new_key(keyed_cloud, rest_api_stage(keyed_cloud))
    response = list_products(keyed_cloud, key["value"])
    assert response.status_code == 200, response.text


def test_a_key_disabled_or_deleted_at_run_time_is_refused_at_once(keyed_cloud: LocalCloud) -> None:
    apigateway = keyed_cloud.aws("apigateway")
    disabled, deleted = (new_key(keyed_cloud, rest_api_stage(keyed_cloud)) for _ in range(2))
    assert list_products(keyed_cloud, disabled["value"]).status_code == 200
    assert list_products(keyed_cloud, deleted["value"]).status_code == 200

    apigateway.update_api_key(
        apiKey=disabled["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    apigateway.delete_api_key(apiKey=deleted["id"])
    assert forbidden(list_products(keyed_cloud, disabled["value"]))
    assert forbidden(list_products(keyed_cloud, deleted["value"]))


def test_a_key_in_no_plan_of_this_stage_is_refused(keyed_cloud: LocalCloud) -> None:
    stage = rest_api_stage(keyed_cloud)
    other_stage = new_key(keyed_cloud, {**stage, "stage": f"{stage['stage']}-other"})
    no_plan = keyed_cloud.aws("apigateway").create_api_key(name="in-no-plan", enabled=True)
    assert forbidden(list_products(keyed_cloud, other_stage["value"]))
    assert forbidden(list_products(keyed_cloud, no_plan["value"]))
    # Adding the stage to its plan later lets the key in at once.
    apigateway = keyed_cloud.aws("apigateway")
    plan = apigateway.get_usage_plans(keyId=other_stage["id"])["items"][0]
    apigateway.update_usage_plan(
        usagePlanId=plan["id"],
        patchOperations=[{"op": "add", "path": "/apiStages", "value": f"{stage['apiId']}:{stage['stage']}"}],
    )
    assert list_products(keyed_cloud, other_stage["value"]).status_code == 200


def test_a_run_time_plans_throttle_and_quota_apply_to_its_key(keyed_cloud: LocalCloud) -> None:
    stage = rest_api_stage(keyed_cloud)
    throttled = new_key(keyed_cloud, stage, throttle={"rateLimit": NO_REFILL, "burstLimit": 1})
    assert list_products(keyed_cloud, throttled["value"]).status_code == 200
    response = list_products(keyed_cloud, throttled["value"])
    assert (response.status_code, response.json()) == (429, {"message": "Too Many Requests"})

    quota = new_key(keyed_cloud, stage, quota={"limit": 2, "period": "DAY"})
    assert [list_products(keyed_cloud, quota["value"]).status_code for _ in range(2)] == [200, 200]
    response = list_products(keyed_cloud, quota["value"])
    assert (response.status_code, response.json()) == (429, {"message": "Limit Exceeded"})


def test_without_require_api_key_no_method_needs_a_key_even_with_keys_made_at_run_time(
    unkeyed_cloud: LocalCloud,
) -> None:
    new_key(unkeyed_cloud, rest_api_stage(unkeyed_cloud), quota={"limit": 1, "period": "DAY"})
    responses = [list_products(unkeyed_cloud, None) for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200], responses[-1].text
