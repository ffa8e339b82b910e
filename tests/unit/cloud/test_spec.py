"""sam_local_cloud/cloudformation/spec.py: what the transformed template declares, read into the
records the local cloud serves.

Expectations come from the SAM source (template.yaml as written) or the fixture templates, so a route
or a scope lost on the way through the transform fails here.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

import pytest

from sam_local_cloud.cloudformation.spec import DEFAULT_INTEGRATION_TIMEOUT_MS, CloudSpec, Throttle, read_spec
from sam_local_cloud.cloudformation.template import TEMPLATE_PATH, load_source, translate
from tests.harness import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source()


@pytest.fixture(scope="module")
def spec() -> CloudSpec:
    return read_spec(translate())


def fixture_spec(name: str) -> CloudSpec:
    return read_spec(translate(path=FIXTURES / name))


def api_events(source: dict[str, Any]) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
    """(METHOD, path) -> (function, event properties) for every Api event of the SAM source."""
    return {
        (event["Properties"]["Method"].upper(), event["Properties"]["Path"]): (name, event["Properties"])
        for name, resource in source["Resources"].items()
        if resource["Type"] == "AWS::Serverless::Function"
        for event in resource["Properties"].get("Events", {}).values()
        if event["Type"] == "Api"
    }


# ---------------------------------------------------------------- routes and scopes of template.yaml


def test_every_api_event_of_the_template_is_a_route_to_its_function(
    spec: CloudSpec, source: dict[str, Any]
) -> None:
    routes = {(r.method, r.resource): r.function for r in spec.api.routes if r.function}
    assert routes == {key: function for key, (function, _) in api_events(source).items()}


def test_each_route_has_the_scopes_and_authorizer_its_event_declares(
    spec: CloudSpec, source: dict[str, Any]
) -> None:
    declared = {
        key: (event["Auth"]["Authorizer"], tuple(event["Auth"].get("AuthorizationScopes", ())))
        for key, (_, event) in api_events(source).items()
    }
    read = {(r.method, r.resource): (r.authorizer, r.scopes) for r in spec.api.routes if r.function}
    assert read == declared


def test_authorizer_reads_the_header_and_pool_the_template_names(
    spec: CloudSpec, source: dict[str, Any]
) -> None:
    declared = source["Resources"]["ProductApi"]["Properties"]["Auth"]["Authorizers"]
    assert {name: a.header for name, a in spec.api.authorizers.items()} == {
        name: a["Identity"]["Header"] for name, a in declared.items()
    }
    assert {a.user_pool for a in spec.api.authorizers.values()} == {"UserPool"}


def test_cors_preflight_routes_are_mocks_without_authorizer(spec: CloudSpec) -> None:
    resources = {r.resource for r in spec.api.routes if r.function}
    preflights = [r for r in spec.api.routes if r.method == "OPTIONS"]
    assert {r.resource for r in preflights} == resources
    assert all(r.mock is not None and r.authorizer is None and r.function is None for r in preflights)


def test_stage_gateway_responses_and_api_key_header(spec: CloudSpec, source: dict[str, Any]) -> None:
    api_source = source["Resources"]["ProductApi"]["Properties"]
    assert spec.api.stage == source["Parameters"]["StageName"]["Default"]
    assert set(spec.api.gateway_responses) == set(api_source["GatewayResponses"])
    assert spec.api.gateway_responses["UNAUTHORIZED"].status == 401
    assert spec.api.api_key_header == "x-api-key"


def test_the_product_template_has_nothing_unenforceable(spec: CloudSpec) -> None:
    assert spec.unenforceable == []


def test_api_keys_are_required_only_when_the_parameter_asks(spec: CloudSpec) -> None:
    keyed = read_spec(translate({"RequireApiKey": "true"}))
    assert not any(r.api_key for r in spec.api.routes)
    assert all(r.api_key for r in keyed.api.routes if r.function)
    assert not any(r.api_key for r in keyed.api.routes if r.method == "OPTIONS")
    assert (len(spec.api_keys), len(keyed.api_keys)) == (0, 1)


def test_machine_clients_are_the_client_credentials_ones(spec: CloudSpec, source: dict[str, Any]) -> None:
    clients = {n: r for n, r in source["Resources"].items() if r["Type"] == "AWS::Cognito::UserPoolClient"}
    machines = {n for n, r in clients.items() if "client_credentials" in r["Properties"]["AllowedOAuthFlows"]}
    assert set(spec.clients) == machines
    assert set(spec.user_clients) == set(clients) - machines


# ---------------------------------------------------------------- throttles, timeouts, binary types


def test_stage_method_settings_become_method_throttles(spec: CloudSpec, source: dict[str, Any]) -> None:
    (setting,) = source["Resources"]["ProductApi"]["Properties"]["MethodSettings"]
    assert spec.api.method_throttles == {
        ("/*", "*"): Throttle(float(setting["ThrottlingRateLimit"]), int(setting["ThrottlingBurstLimit"]))
    }


def test_method_setting_resource_path_is_decoded_from_its_tilde_one_form() -> None:
    assert fixture_spec("fidelity.yaml").api.method_throttles == {("/throttled", "GET"): Throttle(1.0, 2)}


@pytest.fixture(scope="module")
def edited_spec(source: dict[str, Any]) -> CloudSpec:
    """template.yaml with one route's TimeoutInMillis set and a throttle on one nested method."""
    edited = copy.deepcopy(source)
    resources = edited["Resources"]
    resources["GetProductFunction"]["Properties"]["Events"]["Api"]["Properties"]["TimeoutInMillis"] = 5000
    resources["ProductApi"]["Properties"]["MethodSettings"].append(
        {
            "ResourcePath": "/~1products~1{id}",
            "HttpMethod": "DELETE",
            "ThrottlingBurstLimit": 5,
            "ThrottlingRateLimit": 2,
        }
    )
    return read_spec(translate(source=edited, path=TEMPLATE_PATH))


def test_nested_method_setting_is_keyed_by_its_resource_and_method(edited_spec: CloudSpec) -> None:
    assert edited_spec.api.method_throttles[("/products/{id}", "DELETE")] == Throttle(2.0, 5)


def test_integration_timeout_is_29_seconds_unless_the_event_sets_timeout_in_millis(
    spec: CloudSpec, edited_spec: CloudSpec
) -> None:
    assert DEFAULT_INTEGRATION_TIMEOUT_MS == 29_000
    assert {r.timeout_seconds for r in spec.api.routes} == {29.0}
    timeouts = {(r.method, r.resource): r.timeout_seconds for r in edited_spec.api.routes if r.function}
    assert timeouts.pop(("GET", "/products/{id}")) == 5.0
    assert set(timeouts.values()) == {29.0}


def test_binary_media_types_are_decoded_from_their_tilde_one_form() -> None:
    assert fixture_spec("fidelity.yaml").api.binary_media_types == ("image/png",)


# ---------------------------------------------------------------- what cannot be enforced

ELSEWHERE = "a Lambda authorizer (token; its function is not in this template) TokenCheck"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        ("lambda_authorizer.yaml", f"GET /hello/{{name}}: {ELSEWHERE}"),
        ("iam_authorizer.yaml", "GET /hello/{name}: IAM authorization (SigV4) AWS_IAM"),
        ("websocket_api.yaml", "Socket: WebSocket API (not served)"),
    ],
)
def test_unenforceable_names_what_would_be_served_open(fixture: str, expected: str) -> None:
    assert fixture_spec(fixture).unenforceable == [expected]


def test_route_behind_a_lambda_authorizer_of_another_stack_is_marked_unenforced() -> None:
    (route,) = [r for r in fixture_spec("lambda_authorizer.yaml").api.routes if r.function]
    assert (route.authorizer, route.unenforced) == (None, ELSEWHERE)


def test_rest_api_policy_property_is_unenforceable() -> None:
    template = translate()
    resources = copy.deepcopy(template.resources)
    resources["ProductApi"]["Properties"]["Policy"] = {"Version": "2012-10-17", "Statement": []}
    spec = read_spec(dataclasses.replace(template, resources=resources))
    assert spec.unenforceable == ["ProductApi: its resource policy"]


def test_sam_resource_policy_is_unenforceable(source: dict[str, Any]) -> None:
    edited = copy.deepcopy(source)
    edited["Resources"]["ProductApi"]["Properties"]["Auth"]["ResourcePolicy"] = {
        "IpRangeWhitelist": ["203.0.113.0/24"]
    }
    spec = read_spec(translate(source=edited, path=TEMPLATE_PATH))
    assert spec.unenforceable == ["ProductApi: its resource policy"]


def test_fixture_paths_are_read_relative_to_their_template() -> None:
    template = translate(path=FIXTURES / "fidelity.yaml")
    assert {Path(d).name for d in template.code_dirs.values()} == {"functions"}
    assert all(d.parent == FIXTURES for d in template.code_dirs.values())


def test_every_ssm_parameter_is_named_as_not_read(source: dict[str, Any]) -> None:
    """CloudFormation reads an SSM-typed parameter's value at deploy time; locally its name stands in,
    and the banner says so, one line per parameter (the Powertools layer's, in this template)."""
    ssm = {
        name: declared["Default"]
        for name, declared in source["Parameters"].items()
        if declared["Type"].startswith("AWS::SSM::Parameter::Value<")
    }
    notes = read_spec(translate()).not_honoured

    assert ssm, "the template reads no SSM parameter: this test has nothing to check"
    for name, path in ssm.items():
        assert [n for n in notes if n.startswith(f"{name}: ") and f"SSM parameter {path} is not read" in n]
    plain = dataclasses.replace(
        translate(), parameter_types=dict.fromkeys(translate().parameter_types, "String")
    )
    assert not [n for n in read_spec(plain).not_honoured if "SSM parameter" in n]
