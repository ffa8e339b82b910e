"""Functions and IAM: each method invokes its route's function, which runs python3.13 on arm64 with
the pinned Powertools layer within the gateway's timeout, and may do only what its route needs."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import Template, load_source
from tests.harness import ROOT
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

# AWS's public SSM parameter naming the Powertools for AWS Lambda (Python) layer of one release
# (Powertools docs, "Lambda Layers", SSM Parameter Store); its value is the layer's ARN.
POWERTOOLS_PARAMETER = re.compile(
    r"^/aws/service/powertools/python/(?P<arch>arm64|x86_64)/(?P<runtime>python3\.\d+)/(?P<version>\d+\.\d+\.\d+)$"
)
SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<String>"

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


def function_problems(
    template: Template, source: dict[str, Any] = SOURCE, pin: str | None = None
) -> list[str]:
    """python3.13 on arm64, Timeout within API Gateway's 29 s, one layer: AWS's Powertools layer of the
    pinned version, for the function's runtime and architecture, named by AWS's public SSM parameter."""
    pin = pin or powertools_pin()
    declared = source.get("Parameters", {})
    problems = []
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
        layers = props.get("Layers", [])
        parameter = layers[0].get("Ref") if len(layers) == 1 and isinstance(layers[0], dict) else None
        if parameter not in declared:
            problems.append(f"{name}: layers {layers}, not one Ref to the Powertools layer's SSM parameter")
            continue
        if declared[parameter].get("Type") != SSM_PARAMETER_TYPE:
            kind = declared[parameter].get("Type")
            problems.append(f"{name}: {parameter} is a {kind}, not {SSM_PARAMETER_TYPE}")
        path = template.parameters.get(parameter, "")
        found = POWERTOOLS_PARAMETER.match(path)
        if not found:
            problems.append(f"{name}: {parameter} {path!r} is not AWS's Powertools layer parameter")
            continue
        if found["runtime"] != props.get("Runtime") or [found["arch"]] != props.get("Architectures"):
            problems.append(f"{name}: Powertools layer for {found['runtime']}/{found['arch']}")
        if found["version"] != pin:
            problems.append(
                f"{name}: Powertools layer {found['version']} is not {pin} (pinned in pyproject.toml)"
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
    def drift(source):
        globals_ = source["Globals"]["Function"]
        globals_["Timeout"] = 30
        globals_["Architectures"] = ["x86_64"]

    problems = function_problems(broken(drift))

    assert mentions(problems, "Timeout 30")
    assert mentions(problems, "architectures ['x86_64']")
    assert mentions(problems, "Powertools layer for python3.13/arm64")


def test_check_catches_a_pin_and_a_layer_that_disagree():
    pin = powertools_pin()
    major, minor, _ = pin.split(".")
    older = f"{major}.{int(minor) - 1}.0"

    def older_layer(source):
        parameter = source["Parameters"]["PowertoolsLayerArn"]
        parameter["Default"] = parameter["Default"].replace(pin, older)

    assert mentions(function_problems(broken(older_layer)), f"Powertools layer {older} is not {pin}")
    # The other side: the template as it is, against another pin.
    transformed = broken(lambda source: None)
    assert mentions(function_problems(transformed, pin=older), f"Powertools layer {pin} is not {older}")


def test_check_catches_a_layer_not_read_from_ssm():
    def literal(source):
        source["Parameters"]["PowertoolsLayerArn"]["Type"] = "String"

    def pasted(source):
        source["Globals"]["Function"]["Layers"] = [
            "arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:27"
        ]

    def elsewhere(source):
        source["Parameters"]["PowertoolsLayerArn"]["Default"] = "/my/own/powertools"

    mutated = load_source()
    literal(mutated)
    assert mentions(function_problems(broken(literal), mutated), "is a String, not AWS::SSM")
    assert mentions(function_problems(broken(pasted)), "not one Ref to the Powertools layer's SSM parameter")
    assert mentions(function_problems(broken(elsewhere)), "is not AWS's Powertools layer parameter")
