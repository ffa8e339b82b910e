"""sam_local_cloud/cloudformation/spec.py: a template with several REST APIs (tests/fixtures/rest_apis.yaml),
each read into its own ApiSpec from its own body, stage and gateway responses; which one is first
(served on PORT) follows the order the template is written in.

Expectations come from the fixture as written (its Api events and their RestApiId), so an event read
into the wrong API fails here.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from sam_local_cloud.cloud import ServedStack
from sam_local_cloud.cloudformation.spec import CloudSpec, read_spec
from sam_local_cloud.cloudformation.template import load_source, translate
from tests.harness import ROOT

TEMPLATE = ROOT / "tests" / "fixtures" / "rest_apis.yaml"


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source(TEMPLATE)


@pytest.fixture(scope="module")
def spec() -> CloudSpec:
    return read_spec(translate(path=TEMPLATE))


def written_rest_apis(source: dict[str, Any]) -> list[str]:
    return [name for name, r in source["Resources"].items() if r["Type"] == "AWS::Serverless::Api"]


def events_by_api(source: dict[str, Any]) -> dict[str, set[tuple[str, str, str | None]]]:
    """API logical id -> (METHOD, path, authorizer) of each Api event that names it."""
    found: dict[str, set[tuple[str, str, str | None]]] = {}
    for resource in source["Resources"].values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                api_auth = source["Resources"][props["RestApiId"]["Ref"]]["Properties"].get("Auth", {})
                authorizer = (props.get("Auth") or {}).get("Authorizer", api_auth.get("DefaultAuthorizer"))
                found.setdefault(props["RestApiId"]["Ref"], set()).add(
                    (props["Method"].upper(), props["Path"], authorizer)
                )
    return found


def test_every_rest_api_is_read_in_the_order_written_the_first_being_the_one_on_port(
    spec: CloudSpec, source: dict[str, Any]
) -> None:
    assert [api.logical_id for api in spec.rest_apis] == written_rest_apis(source)
    assert spec.api is spec.rest_apis[0]


def test_each_rest_api_has_its_own_routes_authorizers_and_stage(
    spec: CloudSpec, source: dict[str, Any]
) -> None:
    routes = {
        api.logical_id: {(r.method, r.resource, r.authorizer) for r in api.routes if r.function}
        for api in spec.rest_apis
    }
    assert routes == events_by_api(source)
    stages = {api.logical_id: api.stage for api in spec.rest_apis}
    assert stages == {name: source["Resources"][name]["Properties"]["StageName"] for name in stages}
    authorizers = {api.logical_id: {*api.authorizers, *api.lambda_authorizers} for api in spec.rest_apis}
    assert authorizers == {
        name: set(source["Resources"][name]["Properties"].get("Auth", {}).get("Authorizers", {}))
        for name in stages
    }


def test_each_rest_api_has_its_own_gateway_responses(spec: CloudSpec, source: dict[str, Any]) -> None:
    assert {api.logical_id: set(api.gateway_responses) for api in spec.rest_apis} == {
        name: set(source["Resources"][name]["Properties"].get("GatewayResponses", {}))
        for name in written_rest_apis(source)
    }


def test_written_the_other_way_round_the_other_api_is_first(source: dict[str, Any]) -> None:
    first, second, third = written_rest_apis(source)
    resources = source["Resources"]
    swapped = copy.deepcopy(source)
    swapped["Resources"] = {second: resources[second], **{k: v for k, v in resources.items() if k != second}}
    spec = read_spec(translate(source=swapped, path=TEMPLATE))
    assert [api.logical_id for api in spec.rest_apis] == [second, first, third]


def test_the_implicit_serverless_rest_api_comes_after_the_written_ones(source: dict[str, Any]) -> None:
    edited = copy.deepcopy(source)
    events = edited["Resources"]["EchoFunction"]["Properties"]["Events"]
    events["Implicit"] = {"Type": "Api", "Properties": {"Path": "/implicit", "Method": "GET"}}
    spec = read_spec(translate(source=edited, path=TEMPLATE))
    assert [api.logical_id for api in spec.rest_apis] == [*written_rest_apis(source), "ServerlessRestApi"]


def test_a_gateway_response_resource_is_its_own_apis_only(source: dict[str, Any]) -> None:
    first, second, _ = written_rest_apis(source)
    edited = copy.deepcopy(source)
    edited["Resources"]["Teapot"] = {
        "Type": "AWS::ApiGateway::GatewayResponse",
        "Properties": {"RestApiId": {"Ref": second}, "ResponseType": "THROTTLED", "StatusCode": "418"},
    }
    spec = read_spec(translate(source=edited, path=TEMPLATE))
    throttled = {api.logical_id: api.gateway_responses.get("THROTTLED") for api in spec.rest_apis}
    assert throttled[first] is None
    assert throttled[second] is not None
    assert throttled[second].status == 418


def test_an_unenforceable_route_of_a_further_api_is_named_by_its_api(source: dict[str, Any]) -> None:
    second = written_rest_apis(source)[1]
    edited = copy.deepcopy(source)
    edited["Resources"]["EchoFunction"]["Properties"]["Events"]["Secure"]["Properties"]["Auth"] = {
        "Authorizer": "AWS_IAM"
    }
    spec = read_spec(translate(source=edited, path=TEMPLATE))
    assert spec.unenforceable == [f"{second} GET /hello/{{name}}: IAM authorization (SigV4) AWS_IAM"]


def test_further_rest_apis_have_ids_of_their_own_unique_across_stacks(spec: CloudSpec) -> None:
    template = translate(path=TEMPLATE)
    stacks = [ServedStack(name, Path(TEMPLATE), template, spec) for name in ("one", "two")]
    ids = [[stack.rest_api_id_of(api) for api in spec.rest_apis] for stack in stacks]
    # The first of each keeps the stack's own REST API id (the main stack's: the one it always had).
    assert ids[0][0] == ids[1][0] == stacks[0].rest_api_id
    assert len({*ids[0], *ids[1]}) == 1 + 2 * (len(spec.rest_apis) - 1)
