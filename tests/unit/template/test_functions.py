"""Functions and IAM: each method invokes its route's function, which runs python3.13 on arm64 with
the pinned Powertools layer within the gateway's timeout, and may do only what its route needs."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from local.cloudformation.template import ROOT, Template
from tests.unit.template.support import (
    READ_FUNCTIONS,
    SOURCE,
    as_list,
    broken,
    mentions,
    operations,
    references,
    source_routes,
    statements,
    text_of,
)

# Powertools for AWS Lambda (Python) version -> the number N of AWS's published layer
# arn:aws:lambda:{region}:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-{arch}:{N}
# (Powertools docs, "Lambda Layer"). Add a row when the pin in pyproject.toml moves.
POWERTOOLS_LAYER_VERSIONS = {"3.22.0": 25, "3.23.0": 27}
POWERTOOLS_LAYER = re.compile(
    r"^arn:(?:\$\{AWS::Partition\}|aws):lambda:(?:\$\{AWS::Region\}|[a-z0-9-]+):017000801446:"
    r"layer:AWSLambdaPowertoolsPythonV3-(?P<runtime>python\d+)-(?P<arch>arm64|x86_64):(?P<version>\d+)$"
)

RUNTIME = "python3.13"
ARCHITECTURES = ["arm64"]
MAX_API_TIMEOUT = 29  # API Gateway's integration timeout: a longer function only times out later

# What a read-only function may do. Anything else (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
# TransactWriteItems, PartiQL writes, ...) is a write.
READ_ACTIONS = {
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:Query",
    "dynamodb:Scan",
    "dynamodb:DescribeTable",
    "dynamodb:ConditionCheckItem",
}
# Managed policies SAM attaches to every function role: logs and X-Ray, no data access.
ALLOWED_MANAGED_POLICIES = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess",
}


def powertools_pin() -> str:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    groups = pyproject.get("dependency-groups", {})
    requirements = [*pyproject.get("project", {}).get("dependencies", [])]
    requirements += [r for group in groups.values() for r in group if isinstance(r, str)]
    for requirement in requirements:
        match = re.fullmatch(r"aws-lambda-powertools(?:\[[^\]]*\])?==([\w.]+)", requirement.replace(" ", ""))
        if match:
            return match.group(1)
    raise AssertionError("pyproject.toml pins no aws-lambda-powertools==X")


def integration_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """Each REST method invokes its route's function; each permission names a function of the stack and
    one of its APIs (test_http_api_routes.py checks the HTTP API's integrations)."""
    functions = set(template.of_type("AWS::Lambda::Function"))
    by_route = {(r.method, r.path): r.function for r in source_routes(source)}
    problems = []
    for path, method, op in operations(template):
        if method == "OPTIONS":
            continue
        integration = op.get("x-amazon-apigateway-integration", {})
        targets = references(integration.get("uri")) & functions
        if (integration.get("type"), integration.get("httpMethod")) != ("aws_proxy", "POST"):
            problems.append(f"{method} {path}: not a Lambda proxy integration: {integration}")
        if targets != {by_route.get((method, path))}:
            problems.append(f"{method} {path}: invokes {sorted(targets)}, not {by_route.get((method, path))}")
    permitted = set()
    for name, permission in template.of_type("AWS::Lambda::Permission").items():
        props = permission["Properties"]
        if props.get("Principal") == "cognito-idp.amazonaws.com":
            continue  # the user pool's trigger: trigger_problems checks it
        target = references(props["FunctionName"])
        if not target or not target <= functions:
            problems.append(f"{name}: FunctionName {props['FunctionName']} is not a function of the stack")
        if (
            props.get("Principal") != "apigateway.amazonaws.com"
            or props.get("Action") != "lambda:InvokeFunction"
        ):
            problems.append(f"{name}: not an API Gateway invoke permission")
        apis = {*template.of_type("AWS::ApiGateway::RestApi"), *template.of_type("AWS::ApiGatewayV2::Api")}
        if len(references(props.get("SourceArn")) & apis) != 1:
            problems.append(f"{name}: SourceArn is not limited to one of the stack's APIs {sorted(apis)}")
        permitted |= target
    for function in sorted(set(by_route.values()) - permitted):
        problems.append(f"{function}: API Gateway has no permission to invoke it")
    return problems


def function_problems(template: Template) -> list[str]:
    """python3.13 on arm64, Timeout within API Gateway's 29 s, the Powertools layer of the pinned version."""
    pin = powertools_pin()
    expected_layer = POWERTOOLS_LAYER_VERSIONS.get(pin)
    problems = [] if expected_layer else [f"no layer number known for Powertools {pin}: add it"]
    for name, function in template.of_type("AWS::Lambda::Function").items():
        props = function["Properties"]
        if props.get("Runtime") != RUNTIME:
            problems.append(f"{name}: runtime {props.get('Runtime')}, not {RUNTIME}")
        if props.get("Architectures") != ARCHITECTURES:
            problems.append(f"{name}: architectures {props.get('Architectures')}, not {ARCHITECTURES}")
        if props.get("Timeout", 3) > MAX_API_TIMEOUT:
            problems.append(
                f"{name}: Timeout {props['Timeout']} s outlives API Gateway's {MAX_API_TIMEOUT} s"
            )
        layers = [POWERTOOLS_LAYER.match(text_of(layer)) for layer in props.get("Layers", [])]
        layers = [m for m in layers if m]
        if len(layers) != 1:
            problems.append(f"{name}: {len(layers)} Powertools layers, not 1")
            continue
        layer = layers[0]
        if layer["runtime"] != RUNTIME.replace(".", "") or [layer["arch"]] != props.get("Architectures"):
            problems.append(f"{name}: Powertools layer for {layer['runtime']}/{layer['arch']}")
        if expected_layer and int(layer["version"]) != expected_layer:
            problems.append(
                f"{name}: Powertools layer {layer['version']} is not {expected_layer} "
                f"(Powertools {pin}, pinned in pyproject.toml)"
            )
    return problems


def iam_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """No wildcard actions or resources; functions that only serve GET routes only read."""
    routes = source_routes(source)
    read_only = {r.function for r in routes} - {r.function for r in routes if r.method not in ("GET", "HEAD")}
    read_actions = {a.lower() for a in READ_ACTIONS}
    problems = []
    for name in sorted(template.of_type("AWS::Lambda::Function")):
        role = references(template.resources[name]["Properties"]["Role"]).pop()
        managed = set(template.resources[role]["Properties"].get("ManagedPolicyArns", []))
        for arn in sorted(managed - ALLOWED_MANAGED_POLICIES, key=str):
            problems.append(f"{name}: managed policy {arn} is not one of {sorted(ALLOWED_MANAGED_POLICIES)}")
        for statement in statements(template, name):
            if statement.get("Effect") != "Allow":
                continue
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{name}: NotAction/NotResource grants everything else")
            actions = as_list(statement.get("Action", []))
            for action in actions:
                if "*" in action:
                    problems.append(f"{name}: wildcard action {action}")
                elif name in read_only and action.lower() not in read_actions:
                    problems.append(f"{name}: serves only reads but may {action}")
            for resource in as_list(statement.get("Resource", [])):
                text = text_of(resource)
                if "*" in re.sub(r"/index/\*$", "", text):
                    problems.append(f"{name}: wildcard resource {text}")
    return problems


def test_each_method_invokes_its_route_function_and_permissions_name_functions(transformed):
    assert integration_problems(transformed, SOURCE) == []


def test_functions_run_python313_on_arm64_within_29s_with_the_pinned_powertools_layer(transformed):
    assert function_problems(transformed) == []


def test_powertools_layer_map_knows_the_pinned_version():
    assert powertools_pin() in POWERTOOLS_LAYER_VERSIONS


@pytest.mark.parametrize("function", READ_FUNCTIONS)
def test_read_function_has_only_read_actions(transformed, function):
    problems = [p for p in iam_problems(transformed, SOURCE) if p.startswith(f"{function}:")]
    assert problems == []
    assert list(statements(transformed, function)), f"{function} has no policy: it could not read either"


def test_no_function_has_wildcard_actions_or_resources(transformed):
    assert iam_problems(transformed, SOURCE) == []


@pytest.mark.parametrize("function", READ_FUNCTIONS)
def test_check_catches_write_action_on_read_function(function):
    def allow_put(source):
        source["Resources"][function]["Properties"]["Policies"][0]["Statement"][0]["Action"].append(
            "dynamodb:PutItem"
        )

    assert mentions(iam_problems(broken(allow_put), SOURCE), function, "dynamodb:PutItem")


@pytest.mark.parametrize("function", READ_FUNCTIONS)
def test_check_catches_sam_policy_template_with_writes_on_read_function(function):
    def crud(source):
        source["Resources"][function]["Properties"]["Policies"] = [{"DynamoDBCrudPolicy": {"TableName": "t"}}]

    assert mentions(iam_problems(broken(crud), SOURCE), function, "serves only reads")


def test_check_catches_wildcard_action_and_resource():
    def wildcard(source):
        statement = source["Resources"]["CreateProductFunction"]["Properties"]["Policies"][0]["Statement"][0]
        statement["Action"] = ["dynamodb:*"]
        statement["Resource"] = "*"

    problems = iam_problems(broken(wildcard), SOURCE)

    assert mentions(problems, "CreateProductFunction", "wildcard action")
    assert mentions(problems, "CreateProductFunction", "wildcard resource")


def test_check_catches_function_that_outlives_the_gateway_or_runs_elsewhere():
    expected = POWERTOOLS_LAYER_VERSIONS[powertools_pin()]

    def drift(source):
        globals_ = source["Globals"]["Function"]
        globals_["Timeout"] = 30
        globals_["Architectures"] = ["x86_64"]
        layer = globals_["Layers"][0]["Fn::Sub"]
        globals_["Layers"] = [{"Fn::Sub": layer.replace(f":{expected}", f":{expected - 1}")}]

    problems = function_problems(broken(drift))

    assert mentions(problems, "Timeout 30")
    assert mentions(problems, "architectures ['x86_64']")
    assert mentions(problems, f"Powertools layer {expected - 1} is not {expected}")
