"""REST APIs deployed to several stages (tests/fixtures/rest_stages.yaml), over HTTP: every stage of an
API answers under its own /{stage}, on the API's port, with its own name, variables and throttling in
the function's event (docs/aws-behaviour.md §2.2); a stage no API has is API Gateway's 403."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import load_source, translate
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="uses the local cloud's fixture templates")

TEMPLATE = FIXTURES / "rest_stages.yaml"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    started = start_local_cloud(tmp_path_factory.mktemp("rest-stages"), "--template", str(TEMPLATE))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def spec() -> Any:
    return read_spec(translate({}, path=TEMPLATE, region="us-east-1", stack_name="rest-stages"))


def api_root(cloud: LocalCloud, logical_id: str) -> str:
    """An API's local root: the host of the outputs that name it (written `https://${Api}...`)."""
    source = load_source(TEMPLATE)
    for key, output in source["Outputs"].items():
        if f"${{{logical_id}}}" in output["Value"]["Fn::Sub"]:
            url = str(cloud.outputs[key])
            return url.rsplit("/", 1)[0]
    raise AssertionError(f"no output names {logical_id}")


def test_every_stage_answers_with_its_own_name_and_variables(cloud: LocalCloud, spec: Any) -> None:
    for api in spec.rest_apis:
        root = api_root(cloud, api.logical_id)
        for stage in api.stages:
            response = requests.get(f"{root}/{stage.name}/hello/{stage.name}", timeout=10)
            assert response.status_code == 200, (stage.name, response.text)
            event = json.loads(response.text)["event"]
            assert event["requestContext"]["stage"] == stage.name
            assert event["requestContext"]["path"] == f"/{stage.name}/hello/{stage.name}"
            assert event["stageVariables"] == (stage.variables or None)
    # The outputs built on a Stage resource's Ref (`${ProdStage}`) name that stage's local URL.
    stages = {stage.name for api in spec.rest_apis for stage in api.stages}
    assert {str(cloud.outputs[key]).rsplit("/", 1)[1] for key in load_source(TEMPLATE)["Outputs"]} <= stages


def test_a_stages_throttling_is_its_own(cloud: LocalCloud, spec: Any) -> None:
    api = next(api for api in spec.rest_apis if any(stage.method_throttles for stage in api.stages))
    root = api_root(cloud, api.logical_id)
    throttled = next(stage for stage in api.stages if stage.method_throttles)
    burst = next(iter(throttled.method_throttles.values())).burst
    others = [stage for stage in api.stages if not stage.method_throttles]
    statuses = [
        requests.get(f"{root}/{throttled.name}/hello/t", timeout=10).status_code for _ in range(burst + 1)
    ]
    assert statuses[-1] == 429, statuses
    for stage in others:  # the throttled stage's spent bucket is not theirs
        assert requests.get(f"{root}/{stage.name}/hello/t", timeout=10).status_code == 200


def test_a_stage_no_api_has_is_forbidden_and_the_banner_lists_every_stage(
    cloud: LocalCloud, spec: Any
) -> None:
    for api in spec.rest_apis:
        response = requests.get(f"{api_root(cloud, api.logical_id)}/nostage/hello/x", timeout=10)
        assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    console = cloud.wait_for_console("  API stage ")
    for api in spec.rest_apis:
        root = api_root(cloud, api.logical_id)
        assert f"  API         {root}/{api.stage}  ({api.logical_id})" in console
        for stage in api.stages[1:]:
            assert f"  API stage   {root}/{stage.name}  ({api.logical_id})" in console
