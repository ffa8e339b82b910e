"""sam_local_cloud/apigateway/gateway.py, ApiKeys: the keys one stage accepts, read from moto's API Gateway,
kept until an API Gateway call may have changed them (docs/aws-behaviour.md §2.1)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from werkzeug.test import EnvironBuilder

from sam_local_cloud.apigateway.gateway import ApiKey, ApiKeys
from sam_local_cloud.aws_apis import app
from sam_local_cloud.cloudformation.spec import Quota, Throttle
from tests.offline_aws import offline_aws
from tests.unit.cloud.support import REGION

API_ID, STAGE = "local", "Prod"


@pytest.fixture
def apigateway() -> Iterator[Any]:
    with offline_aws(REGION):
        yield boto3.client("apigateway", region_name=REGION)


@pytest.fixture
def calls(apigateway: Any) -> list[str]:
    """The API Gateway operations the client sent, in order."""
    sent: list[str] = []
    apigateway.meta.events.register("before-call", lambda model, **_: sent.append(model.name))
    return sent


def plan(apigateway: Any, *stages: tuple[str, str], **limits: Any) -> str:
    api_stages = [{"apiId": api_id, "stage": stage} for api_id, stage in stages]
    return str(apigateway.create_usage_plan(name="plan", apiStages=api_stages, **limits)["id"])


def key(apigateway: Any, plan_id: str | None, *, enabled: bool = True) -> dict[str, Any]:
    made: dict[str, Any] = apigateway.create_api_key(name="key", enabled=enabled)
    if plan_id is not None:
        apigateway.create_usage_plan_key(usagePlanId=plan_id, keyId=made["id"], keyType="API_KEY")
    return made


def keys_of(apigateway: Any) -> ApiKeys:
    return ApiKeys(apigateway, api_id=API_ID, stage=STAGE)


def test_an_enabled_key_of_a_plan_for_the_stage_is_found_with_the_plans_limits(apigateway: Any) -> None:
    plan_id = plan(
        apigateway,
        (API_ID, STAGE),
        throttle={"rateLimit": 2.5, "burstLimit": 4},
        quota={"limit": 7, "period": "WEEK"},
    )
    made = key(apigateway, plan_id)
    assert keys_of(apigateway).find(made["value"]) == ApiKey(made["id"], Throttle(2.5, 4), Quota(7, "WEEK"))


def test_a_plan_without_limits_gives_a_key_without_limits(apigateway: Any) -> None:
    made = key(apigateway, plan(apigateway, ("other", "Dev"), (API_ID, STAGE)))
    assert keys_of(apigateway).find(made["value"]) == ApiKey(made["id"], None, None)


@pytest.mark.parametrize(
    "stages",
    [(), (("other", STAGE),), ((API_ID, "Dev"),)],
    ids=["plan-without-stages", "another-api", "another-stage"],
)
def test_a_key_whose_plans_do_not_list_this_stage_is_refused(
    apigateway: Any, stages: tuple[tuple[str, str], ...]
) -> None:
    made = key(apigateway, plan(apigateway, *stages))
    assert keys_of(apigateway).find(made["value"]) is None


def test_a_key_in_no_plan_and_a_disabled_key_are_refused(apigateway: Any) -> None:
    plan_id = plan(apigateway, (API_ID, STAGE))
    alone = key(apigateway, None)
    disabled = key(apigateway, plan_id, enabled=False)
    keys = keys_of(apigateway)
    assert keys.find(alone["value"]) is None
    assert keys.find(disabled["value"]) is None
    assert keys.find("") is None
    assert keys.find(None) is None


def test_keys_are_read_once_then_every_look_up_is_a_dict_look_up(apigateway: Any, calls: list[str]) -> None:
    made = key(apigateway, plan(apigateway, (API_ID, STAGE)))
    calls.clear()
    keys = keys_of(apigateway)
    for _ in range(5):
        assert keys.find(made["value"]) is not None
        assert keys.find("an-unknown-value-costs-no-call-either") is None
    assert calls == ["GetUsagePlans", "GetUsagePlanKeys", "GetApiKeys"]


def test_after_forget_keys_made_disabled_or_deleted_count_at_once(apigateway: Any) -> None:
    plan_id = plan(apigateway, (API_ID, STAGE))
    first = key(apigateway, plan_id)
    keys = keys_of(apigateway)
    assert keys.find(first["value"]) is not None

    second = key(apigateway, plan_id)
    assert keys.find(second["value"]) is None  # kept: nothing said it changed
    keys.forget()
    assert keys.find(second["value"]) is not None

    apigateway.update_api_key(
        apiKey=second["id"], patchOperations=[{"op": "replace", "path": "/enabled", "value": "false"}]
    )
    apigateway.delete_api_key(apiKey=first["id"])
    keys.forget()
    assert keys.find(first["value"]) is None
    assert keys.find(second["value"]) is None


def test_a_read_overlapped_by_a_change_is_not_kept(apigateway: Any) -> None:
    """A change announced while the keys are being read may be missing from what was read: the next
    look-up reads again."""
    plan_id = plan(apigateway, (API_ID, STAGE))
    keys = keys_of(apigateway)
    made: list[dict[str, Any]] = []

    def change_during_the_read(**_: Any) -> None:
        if not made:
            made.append(key(apigateway, plan_id))
            keys.forget()

    apigateway.meta.events.register("before-call.apigateway.GetApiKeys", change_during_the_read)
    assert keys.find("nothing") is None
    apigateway.meta.events.unregister("before-call.apigateway.GetApiKeys", change_during_the_read)
    assert keys.find(made[0]["value"]) is not None


def _apigateway_call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    return EnvironBuilder(
        method=method,
        path=path,
        headers={
            "Authorization": "AWS4-HMAC-SHA256 "
            f"Credential=testing/20250101/{REGION}/apigateway/aws4_request, SignedHeaders=host, Signature=0",
            "Host": f"apigateway.{REGION}.amazonaws.com",
        },
        data=json.dumps(body) if body is not None else None,
        content_type="application/json",
    ).get_environ()


def test_api_gateway_calls_that_may_change_keys_or_plans_are_announced() -> None:
    with offline_aws(REGION):
        apis = app.AwsApis()
        announced: list[str] = []
        apis.on_apigateway_change.append(lambda: announced.append("changed"))

        def call(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
            statuses: list[str] = []
            answer = b"".join(apis(_apigateway_call(method, path, body), lambda s, *_: statuses.append(s)))
            assert statuses[0].startswith("20"), answer
            return dict(json.loads(answer))

        made = call("POST", "/apikeys", {"name": "k", "enabled": True})
        assert announced == ["changed"]
        call("GET", "/apikeys")
        call("GET", f"/apikeys/{made['id']}")
        assert announced == ["changed"]
        call("PATCH", f"/apikeys/{made['id']}", {"patchOperations": []})
        plan_id = call("POST", "/usageplans", {"name": "p"})["id"]
        call("POST", f"/usageplans/{plan_id}/keys", {"keyId": made["id"], "keyType": "API_KEY"})
        assert announced == ["changed"] * 4
