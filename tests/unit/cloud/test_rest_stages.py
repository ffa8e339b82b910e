"""sam_local_cloud/cloudformation/spec.py: a REST API deployed to several stages is read with every
stage, each with its own variables and throttling (docs/aws-behaviour.md §2.2): SAM's own stage,
Stage resources added on SAM's deployment (tests/fixtures/rest_stages.yaml), SAM's stray `Stage`, and a
raw template's Deployment `StageName` beside a Stage resource. Two stages of one name are refused.

Expectations come from the fixtures as written."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import TemplateRefused, load_source, translate
from tests.harness import ROOT

FIXTURE = ROOT / "tests" / "fixtures" / "rest_stages.yaml"
RESOURCES_FIXTURE = ROOT / "tests" / "fixtures" / "sam_apps" / "rest_resources" / "template.yaml"


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source(FIXTURE)


def added_stages(source: dict[str, Any], api: str) -> dict[str, dict[str, Any]]:
    """The Stage resources the fixture adds to an API, by stage name."""
    return {
        r["Properties"]["StageName"]: r["Properties"]
        for r in source["Resources"].values()
        if r["Type"] == "AWS::ApiGateway::Stage" and r["Properties"]["RestApiId"] == {"Ref": api}
    }


def test_every_stage_of_each_api_is_read_sams_own_first(source: dict[str, Any]) -> None:
    spec = read_spec(translate(path=FIXTURE))
    for api in spec.rest_apis:
        written = source["Resources"][api.logical_id]["Properties"]
        expected = [written["StageName"], *added_stages(source, api.logical_id)]
        if "OpenApiVersion" not in written:
            expected.append("Stage")  # SAM's Deployment names it: it exists on AWS too
        assert [stage.name for stage in api.stages] == expected
        assert api.stage == expected[0]


def test_each_stage_has_its_own_variables_and_throttling(source: dict[str, Any]) -> None:
    spec = read_spec(translate(path=FIXTURE))
    for api in spec.rest_apis:
        written = source["Resources"][api.logical_id]["Properties"]
        by_name = {stage.name: stage for stage in api.stages}
        own = by_name[written["StageName"]]
        assert own.variables == written["Variables"]
        assert bool(own.method_throttles) == ("MethodSettings" in written)
        for name, props in added_stages(source, api.logical_id).items():
            assert by_name[name].variables == props["Variables"]
            assert by_name[name].method_throttles == {}
        served = {staged.stage: staged for staged in api.each_stage()}
        assert set(served) == set(by_name)
        for name, staged in served.items():
            assert staged.stage_variables == by_name[name].variables
            assert staged.method_throttles == by_name[name].method_throttles
            assert staged.routes == api.routes


def test_a_raw_deployments_stage_and_a_stage_resource_are_both_read() -> None:
    source = load_source(RESOURCES_FIXTURE)
    deployment = next(n for n, r in source["Resources"].items() if r["Type"] == "AWS::ApiGateway::Deployment")
    props = source["Resources"][deployment]["Properties"]
    edited = copy.deepcopy(source)
    edited["Resources"][deployment]["Properties"]["StageDescription"] = {
        "Variables": {"where": "deployment"},
        "ThrottlingBurstLimit": 3,
        "ThrottlingRateLimit": 2,
    }
    edited["Resources"]["CanaryStage"] = {
        "Type": "AWS::ApiGateway::Stage",
        "Properties": {
            "RestApiId": props["RestApiId"],
            "DeploymentId": {"Ref": deployment},
            "StageName": "canary",
            "Variables": {"where": "stage"},
        },
    }
    api = read_spec(translate(source=edited, path=RESOURCES_FIXTURE)).rest_apis[0]
    stages = {stage.name: stage for stage in api.stages}
    assert list(stages) == ["canary", props["StageName"]]  # Stage resources first, then Deployments'
    assert stages["canary"].variables == {"where": "stage"}
    deployed = stages[props["StageName"]]
    assert deployed.logical_id is None
    assert deployed.variables == {"where": "deployment"}
    assert [(t.rate, t.burst) for t in deployed.method_throttles.values()] == [(2.0, 3)]


def test_two_stages_of_one_name_are_refused_by_name(source: dict[str, Any]) -> None:
    template = translate(path=FIXTURE)
    resources = copy.deepcopy(template.resources)
    resources["ProdStage"]["Properties"]["StageName"] = source["Resources"]["StagedApi"]["Properties"][
        "StageName"
    ]
    with pytest.raises(TemplateRefused, match=r"StagedApi: stage dev declared twice"):
        read_spec(dataclasses.replace(template, resources=resources))
