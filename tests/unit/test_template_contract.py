"""Contract tests on the TRANSFORMED template: what CloudFormation receives after LanguageExtensions
and the SAM translator, not the SAM source. Infrastructure tools have silently dropped method scopes
before (aws/serverless-application-model#1752, #3325; aws/aws-cdk#30444), so the checks read the
OpenAPI body, roles and permissions that the translator wrote.

The expectation comes from template.yaml itself: each function event's `Auth` is the documented
contract of its route. Every check is a plain function returning a list of problems; the same
functions are run on the real template (no problems) and on templates broken on purpose (the
problem is reported), so a check that cannot fail does not pass unnoticed.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import json
import re
import tomllib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer

from local.cloudformation.resolve import Resolver
from local.cloudformation.spec import active
from local.cloudformation.template import ROOT, Template, load_source, openapi_body, translate

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
# OIDC and Cognito scopes a client may name without a resource server.
STANDARD_SCOPES = {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}

# Output -> the resource its value must be built from.
REQUIRED_OUTPUTS = {
    "ApiUrl": "ProductApi",
    "TokenUrl": "UserPoolDomain",
    "Issuer": "UserPool",
    "JwksUrl": "UserPool",
    "UserPoolId": "UserPool",
    "UserPoolArn": "UserPool",
    "ProductAdminClientId": "ProductAdminClient",
    "ProductReaderClientId": "ProductReaderClient",
    "ProductUserClientId": "ProductUserClient",
    "SignInUrl": "ProductUserClient",
    "UserPoolDomainUrl": "UserPoolDomain",
    "TableName": "ProductsTable",
}
CORS_GATEWAY_RESPONSES = ("DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED")
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method"}

SOURCE = load_source()


# ---------------------------------------------------------------- the documented routes (SAM source)


@dataclass(frozen=True)
class Route:
    """One function event of type Api, as written in template.yaml."""

    function: str
    event: str
    method: str  # upper case
    path: str
    authorizer: str | None
    scopes: tuple[str, ...]
    api_key_required: bool | None  # the event's own Auth.ApiKeyRequired, None to follow the API
    # A route that takes an ID token on purpose: no scopes, and its function declares REQUIRED_SCOPES
    # empty to say so (a route that merely lost its scopes still names them there).
    takes_id_token: bool = False

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def source_routes(source: dict[str, Any]) -> list[Route]:
    """Every Api event of every function, its authorizer and scopes resolved as SAM resolves them:
    the event's own, else the API's DefaultAuthorizer and that authorizer's AuthorizationScopes."""
    resources = source["Resources"]
    routes = []
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Serverless::Function":
            continue
        for event_name, event in (resource["Properties"].get("Events") or {}).items():
            if event["Type"] != "Api":
                continue
            props = event["Properties"]
            api_ref = props.get("RestApiId", {}).get("Ref")
            api_auth = resources[api_ref]["Properties"].get("Auth", {}) if api_ref else {}
            auth = props.get("Auth", {})
            authorizer = auth.get("Authorizer", api_auth.get("DefaultAuthorizer"))
            default_scopes = api_auth.get("Authorizers", {}).get(authorizer, {}).get("AuthorizationScopes")
            scopes = auth.get("AuthorizationScopes", default_scopes) or []
            variables = (resource["Properties"].get("Environment") or {}).get("Variables") or {}
            routes.append(
                Route(
                    function=name,
                    event=event_name,
                    method=props["Method"].upper(),
                    path=props["Path"],
                    authorizer=authorizer,
                    scopes=tuple(scopes),
                    api_key_required=auth.get("ApiKeyRequired"),
                    takes_id_token=not scopes and variables.get("REQUIRED_SCOPES") == "",
                )
            )
    return sorted(routes, key=lambda r: (r.path, r.method))


ROUTES = source_routes(SOURCE)
SCOPED_ROUTES = [r for r in ROUTES if r.scopes]
# Functions that read products and write nothing (an ID-token route such as GET /me reads no table).
READ_FUNCTIONS = sorted(
    {r.function for r in SCOPED_ROUTES} - {r.function for r in ROUTES if r.method not in ("GET", "HEAD")}
)


# ---------------------------------------------------------------- helpers on the transformed template


def operations(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, METHOD, operation) for every method of the REST API."""
    for path, methods in openapi_body(template)["paths"].items():
        for method, operation in methods.items():
            if method in HTTP_METHODS:
                yield path, method.upper(), operation


def operation(template: Template, route: Route) -> dict[str, Any] | None:
    return openapi_body(template)["paths"].get(route.path, {}).get(route.method.lower())


def cognito_schemes(template: Template) -> set[str]:
    schemes = openapi_body(template).get("components", {}).get("securitySchemes", {})
    return {n for n, s in schemes.items() if s.get("x-amazon-apigateway-authtype") == "cognito_user_pools"}


def api_key_schemes(template: Template) -> set[str]:
    schemes = openapi_body(template).get("components", {}).get("securitySchemes", {})
    return {
        name
        for name, s in schemes.items()
        if s.get("type") == "apiKey" and s.get("in") == "header" and s.get("name", "").lower() == "x-api-key"
    }


def references(value: Any) -> set[str]:
    """Logical ids a value refers to: Ref, Fn::GetAtt and ${Name} / ${Name.Attr} in strings."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                found.add(inner[0] if isinstance(inner, list) else inner.split(".")[0])
            else:
                found |= references(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= references(inner)
    elif isinstance(value, str):
        found |= {m.split(".")[0] for m in re.findall(r"\$\{([^}!][^}]*)\}", value)}
    return {r for r in found if not r.startswith("AWS::")}


def text_of(value: Any) -> str:
    """The string inside a plain string or an Fn::Sub."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        sub = value["Fn::Sub"]
        return sub[0] if isinstance(sub, list) else sub
    return value if isinstance(value, str) else json.dumps(value)


def evaluate_condition(template: Template, name: str) -> bool:
    def ev(node: Any) -> Any:
        if isinstance(node, dict) and len(node) == 1:
            ((fn, args),) = node.items()
            if fn == "Fn::Equals":
                return ev(args[0]) == ev(args[1])
            if fn == "Fn::Not":
                return not ev(args[0])
            if fn == "Fn::And":
                return all(ev(a) for a in args)
            if fn == "Fn::Or":
                return any(ev(a) for a in args)
            if fn == "Condition":
                return ev(template.conditions[args])
            if fn == "Ref":
                return template.parameters[args]
        return node

    return bool(ev(template.conditions[name]))


def statements(template: Template, function: str) -> Iterator[dict[str, Any]]:
    role = references(template.resources[function]["Properties"]["Role"]).pop()
    for policy in template.resources[role]["Properties"].get("Policies", []):
        statement = policy["PolicyDocument"]["Statement"]
        yield from statement if isinstance(statement, list) else [statement]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def resource_server_scopes(template: Template) -> set[str]:
    return {
        f"{rs['Properties']['Identifier']}/{scope['ScopeName']}"
        for rs in template.of_type("AWS::Cognito::UserPoolResourceServer").values()
        for scope in rs["Properties"].get("Scopes", [])
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


# ---------------------------------------------------------------- the checks


def route_authorization_problems(template: Template, route: Route) -> list[str]:
    """The route's method uses the Cognito authorizer with exactly the route's scopes."""
    op = operation(template, route)
    if op is None:
        return [f"{route.label}: declared in template.yaml but not a method of the API"]
    problems = []
    security = op.get("security") or []
    cognito = cognito_schemes(template)
    api_keys = api_key_schemes(template)
    granted = [req for req in security if set(req) & cognito]
    others = sorted({name for req in security for name in req} - cognito - api_keys)
    if not granted:
        problems.append(f"{route.label}: open, no Cognito authorizer (security: {security})")
    if others:
        problems.append(f"{route.label}: security names {others}, which are not the Cognito authorizer")
    if len(granted) > 1:
        problems.append(f"{route.label}: more than one Cognito requirement: {granted}")
    for requirement in granted:
        for name, scopes in requirement.items():
            if name not in cognito:
                continue
            if sorted(scopes) != sorted(route.scopes) or len(set(scopes)) != len(scopes):
                problems.append(
                    f"{route.label}: method scopes {scopes} are not the documented {list(route.scopes)}"
                )
    if not route.scopes and not route.takes_id_token:
        problems.append(
            f"{route.label}: no AuthorizationScopes; the authorizer would then want an ID token and "
            "refuse every client_credentials access token"
        )
    return problems


def authorization_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """Every method but OPTIONS is exactly a documented route, guarded as documented."""
    routes = source_routes(source)
    documented = {(r.method, r.path) for r in routes}
    problems = [
        f"{method} {path}: a method of the API that no function event declares"
        for path, method, _ in operations(template)
        if method != "OPTIONS" and (method, path) not in documented
    ]
    for route in routes:
        problems += route_authorization_problems(template, route)
    return problems


def api_key_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """With RequireApiKey, every method but OPTIONS wants the key and the key, plan and plan key
    are created; without it, no method wants a key and none of them is created."""
    required = template.parameters["RequireApiKey"] == "true"
    api_keys = api_key_schemes(template)
    problems = []
    for path, method, op in operations(template):
        wants_key = any(set(req) & api_keys for req in op.get("security") or [])
        if method == "OPTIONS" and wants_key:
            problems.append(f"OPTIONS {path}: wants an API key, so CORS preflight fails")
        elif method != "OPTIONS" and wants_key != required:
            problems.append(f"{method} {path}: API key {'not ' if required else ''}required")
    for resource_type in (
        "AWS::ApiGateway::ApiKey",
        "AWS::ApiGateway::UsagePlan",
        "AWS::ApiGateway::UsagePlanKey",
    ):
        found = template.of_type(resource_type)
        if len(found) != 1:
            problems.append(f"expected one {resource_type}, found {sorted(found)}")
            continue
        name, resource = next(iter(found.items()))
        condition = resource.get("Condition")
        if condition is None:
            problems.append(f"{name}: created whether or not RequireApiKey is true")
        elif evaluate_condition(template, condition) != required:
            problems.append(
                f"{name}: condition {condition} is not {required} when RequireApiKey is {required}"
            )
    return problems


def required_scopes_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """Each function's REQUIRED_SCOPES (the handler's own check) is its route's AuthorizationScopes."""
    problems = []
    for route in source_routes(source):
        env = template.resources[route.function]["Properties"].get("Environment", {}).get("Variables", {})
        required = env.get("REQUIRED_SCOPES")
        if not isinstance(required, str) or sorted(required.split()) != sorted(route.scopes):
            problems.append(
                f"{route.function}: REQUIRED_SCOPES {required!r} is not {route.label}'s {list(route.scopes)}"
            )
    return problems


def authorizer_problems(template: Template) -> list[str]:
    """One COGNITO_USER_POOLS authorizer, on the user pool's ARN, reading the Authorization header."""
    schemes = openapi_body(template).get("components", {}).get("securitySchemes", {})
    cognito = cognito_schemes(template)
    if len(cognito) != 1:
        return [f"expected one Cognito authorizer, found {sorted(cognito)}"]
    name = next(iter(cognito))
    scheme = schemes[name]
    pool, _ = template.the_one("AWS::Cognito::UserPool")
    authorizer = scheme.get("x-amazon-apigateway-authorizer", {})
    problems = []
    if authorizer.get("type") != "cognito_user_pools":
        problems.append(f"{name}: type {authorizer.get('type')!r}, not cognito_user_pools")
    if authorizer.get("providerARNs") != [{"Fn::GetAtt": [pool, "Arn"]}]:
        problems.append(f"{name}: providerARNs {authorizer.get('providerARNs')} are not {pool}'s ARN")
    if (scheme.get("type"), scheme.get("in"), scheme.get("name")) != ("apiKey", "header", "Authorization"):
        problems.append(
            f"{name}: reads {scheme.get('in')} {scheme.get('name')!r}, not the Authorization header"
        )
    return problems


def cors_preflight_problems(template: Template) -> list[str]:
    """Every path answers OPTIONS from a mock integration, with no token and no key."""
    problems = []
    for path, methods in openapi_body(template)["paths"].items():
        op = methods.get("options")
        if op is None:
            problems.append(f"{path}: no OPTIONS method, so browsers cannot preflight")
            continue
        integration = op.get("x-amazon-apigateway-integration", {})
        if integration.get("type") != "mock":
            problems.append(f"OPTIONS {path}: integration {integration.get('type')!r}, not mock")
        if op.get("security"):
            problems.append(f"OPTIONS {path}: wants {op['security']}, so preflight without a token fails")
        params = integration.get("responses", {}).get("default", {}).get("responseParameters", {})
        allow_headers = params.get("method.response.header.Access-Control-Allow-Headers", "")
        if "method.response.header.Access-Control-Allow-Origin" not in params:
            problems.append(f"OPTIONS {path}: no Access-Control-Allow-Origin")
        allowed = {h.strip().lower() for h in allow_headers.strip("'").split(",")}
        for header in {"Authorization", *_contract_request_headers(path)}:
            if header.lower() not in allowed:
                problems.append(f"OPTIONS {path}: Access-Control-Allow-Headers does not allow {header}")
    return problems


def _contract_request_headers(path: str) -> set[str]:
    """The request headers docs/openapi.json documents on a path, for any method."""
    methods = json.loads((ROOT / "docs" / "openapi.json").read_text())["paths"].get(path, {})
    return {
        parameter["name"]
        for operation in methods.values()
        for parameter in operation.get("parameters", [])
        if parameter.get("in") == "header"
    }


def integration_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """Each method invokes its route's function; each permission names a function of the stack."""
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
        api, _ = template.the_one("AWS::ApiGateway::RestApi")
        if api not in references(props.get("SourceArn")):
            problems.append(f"{name}: SourceArn is not limited to {api}")
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


def cognito_problems(template: Template, source: dict[str, Any]) -> list[str]:
    """Clients name only scopes that the resource server defines; machine clients are
    client_credentials-only with a secret; each route's scopes exist and some client holds them."""
    defined = resource_server_scopes(template)
    servers = set(template.of_type("AWS::Cognito::UserPoolResourceServer"))
    problems = []
    held: set[str] = set()
    for name, client in template.of_type("AWS::Cognito::UserPoolClient").items():
        props = client["Properties"]
        scopes = set(props.get("AllowedOAuthScopes", []))
        held |= scopes
        for scope in sorted(scopes - defined - STANDARD_SCOPES):
            problems.append(f"{name}: names {scope}, which no resource server defines")
        if scopes - STANDARD_SCOPES and not servers <= set(as_list(client.get("DependsOn", []))):
            problems.append(f"{name}: does not depend on the resource server, so it may be created first")
        if "client_credentials" in props.get("AllowedOAuthFlows", []):
            if props["AllowedOAuthFlows"] != ["client_credentials"]:
                problems.append(f"{name}: machine client with other flows too: {props['AllowedOAuthFlows']}")
            if props.get("GenerateSecret") is not True:
                problems.append(f"{name}: machine client without a secret")
            if props.get("AllowedOAuthFlowsUserPoolClient") is not True:
                problems.append(f"{name}: AllowedOAuthFlowsUserPoolClient is not true")
    for route in source_routes(source):
        for scope in route.scopes:
            if scope not in defined:
                problems.append(f"{route.label}: scope {scope} is not defined by the resource server")
            elif scope not in held:
                problems.append(f"{route.label}: no client may ask for {scope}")
    return problems


def gateway_response_problems(template: Template) -> list[str]:
    """The gateway's own 4XX/5XX/401 answers carry CORS headers, or browsers see a network error."""
    responses = openapi_body(template).get("x-amazon-apigateway-gateway-responses", {})
    problems = []
    for kind in CORS_GATEWAY_RESPONSES:
        params = responses.get(kind, {}).get("responseParameters", {})
        if "gatewayresponse.header.Access-Control-Allow-Origin" not in params:
            problems.append(f"{kind}: no Access-Control-Allow-Origin")
        if (
            "authorization"
            not in params.get("gatewayresponse.header.Access-Control-Allow-Headers", "").lower()
        ):
            problems.append(f"{kind}: Access-Control-Allow-Headers does not allow Authorization")
    if responses.get("UNAUTHORIZED", {}).get("statusCode", "401") != "401":
        problems.append("UNAUTHORIZED: status is not 401")
    return problems


def cors_origin_problems(template: Template) -> list[str]:
    """Preflight, gateway responses and the handlers' own responses allow the same origin."""
    body = openapi_body(template)
    origins = {
        f"OPTIONS {path}": methods["options"]["x-amazon-apigateway-integration"]["responses"]["default"][
            "responseParameters"
        ].get("method.response.header.Access-Control-Allow-Origin")
        for path, methods in body["paths"].items()
        if "options" in methods
    }
    for kind, response in body.get("x-amazon-apigateway-gateway-responses", {}).items():
        origins[kind] = response.get("responseParameters", {}).get(
            "gatewayresponse.header.Access-Control-Allow-Origin"
        )
    for name, function in template.of_type("AWS::Lambda::Function").items():
        origin = function["Properties"].get("Environment", {}).get("Variables", {}).get("CORS_ALLOW_ORIGIN")
        origins[name] = f"'{origin}'"
    if len(set(origins.values())) != 1:
        return [f"allowed origins differ: {origins}"]
    return []


def output_problems(template: Template) -> list[str]:
    problems = []
    for name, resource in REQUIRED_OUTPUTS.items():
        output = template.outputs.get(name)
        if output is None:
            problems.append(f"no output {name}")
        elif "Condition" in output:
            problems.append(f"output {name} exists only under condition {output['Condition']}")
        elif resource not in references(output["Value"]):
            problems.append(f"output {name} is not built from {resource}: {output['Value']}")
    return problems


# ---------------------------------------------------------------- the real template passes


@pytest.fixture(params=["false", "true"], ids=["no-api-key", "api-key"])
def transformed(request) -> Template:
    """The template as deployed, with RequireApiKey false and true."""
    return translate({"RequireApiKey": request.param})


def test_template_declares_routes_to_check():
    assert len(ROUTES) >= 5
    assert READ_FUNCTIONS


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_method_uses_cognito_authorizer_with_exactly_its_documented_scopes(transformed, route):
    assert route_authorization_problems(transformed, route) == []


def test_every_method_but_options_is_a_documented_guarded_route(transformed):
    assert authorization_problems(transformed, SOURCE) == []


def test_api_key_is_required_on_every_method_exactly_when_require_api_key_is_true(transformed):
    assert api_key_problems(transformed, SOURCE) == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_api_key_setting_reaches_the_method_security(route):
    def schemes(require_api_key: str) -> set[str]:
        t = translate({"RequireApiKey": require_api_key})
        return {name for req in operation(t, route)["security"] for name in req} & api_key_schemes(t)

    assert schemes("true")
    assert not schemes("false")


def test_function_required_scopes_equal_its_route_authorization_scopes(transformed):
    assert required_scopes_problems(transformed, SOURCE) == []


def test_authorizer_is_cognito_user_pools_on_the_pool_arn_reading_authorization(transformed):
    assert authorizer_problems(transformed) == []


def test_options_methods_are_unauthenticated_mock_integrations_for_cors_preflight(transformed):
    assert cors_preflight_problems(transformed) == []


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


def test_clients_name_only_resource_server_scopes_and_machine_clients_use_client_credentials(transformed):
    assert cognito_problems(transformed, SOURCE) == []


def test_gateway_responses_carry_cors_headers(transformed):
    assert gateway_response_problems(transformed) == []


def test_preflight_gateway_and_handlers_allow_the_same_origin(transformed):
    assert cors_origin_problems(transformed) == []


def test_outputs_give_what_clients_and_tests_need(transformed):
    assert output_problems(transformed) == []


# ---------------------------------------------------------------- the checks catch drift


def event_auth(source: dict[str, Any], route: Route) -> dict[str, Any]:
    props = source["Resources"][route.function]["Properties"]["Events"][route.event]["Properties"]
    return props.setdefault("Auth", {})


def broken(mutate: Callable[[dict[str, Any]], None], **overrides: str) -> Template:
    """template.yaml with one change, through LanguageExtensions and SAM as CloudFormation would."""
    source = load_source()
    mutate(source)
    return translate(overrides or None, source=source)


def mentions(problems: list[str], *words: str) -> bool:
    return any(all(w in p for w in words) for p in problems)


@pytest.mark.parametrize("route", SCOPED_ROUTES, ids=lambda r: r.label)
def test_check_catches_method_whose_scopes_were_removed(route):
    def drop_scopes(source):
        # The route's scopes are gone from the source (and so from the method); REQUIRED_SCOPES still
        # names them, and the documented routes all need an access token.
        event_auth(source, route).pop("AuthorizationScopes")

    t = broken(drop_scopes)
    source = load_source()
    drop_scopes(source)

    (changed,) = [r for r in source_routes(source) if r.label == route.label]

    assert mentions(route_authorization_problems(t, changed), "no AuthorizationScopes")
    assert mentions(authorization_problems(t, source), route.label, "no AuthorizationScopes")
    assert mentions(required_scopes_problems(t, source), route.function, "REQUIRED_SCOPES")


@pytest.mark.parametrize("route", SCOPED_ROUTES, ids=lambda r: r.label)
def test_check_catches_method_whose_scopes_the_transform_dropped(route):
    # What SAM has done before (aws/serverless-application-model#1752): the source is right and the
    # method in the OpenAPI body has lost its scopes.
    good = translate()
    t = dataclasses.replace(good, resources=copy.deepcopy(good.resources))
    for requirement in operation(t, route)["security"]:
        for name in set(requirement) & cognito_schemes(t):
            requirement[name] = []

    assert mentions(authorization_problems(t, SOURCE), route.label, "not the documented")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_check_catches_method_opened_with_authorizer_none(route):
    def open_route(source):
        event_auth(source, route).clear()
        event_auth(source, route)["Authorizer"] = "NONE"

    t = broken(open_route)

    assert mentions(authorization_problems(t, SOURCE), route.label, "open")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_check_catches_route_scope_changed_without_required_scopes(route):
    other = next(s for s in sorted(resource_server_scopes(translate())) if s not in route.scopes)

    def change_scope(source):
        event_auth(source, route)["AuthorizationScopes"] = [other]

    source = load_source()
    change_scope(source)
    t = broken(change_scope)

    assert mentions(required_scopes_problems(t, source), route.function, other)
    # Against the unchanged documentation, the method itself is wrong too.
    assert mentions(authorization_problems(t, SOURCE), route.label, other)


def test_check_catches_route_scope_that_no_resource_server_defines():
    route = ROUTES[0]

    def misspell(source):
        event_auth(source, route)["AuthorizationScopes"] = ["product-api/read_products"]

    source = load_source()
    misspell(source)

    assert mentions(cognito_problems(broken(misspell), source), "product-api/read_products", "not defined")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_check_catches_method_that_drops_the_api_key(route):
    def no_key(source):
        event_auth(source, route)["ApiKeyRequired"] = False

    t = broken(no_key, RequireApiKey="true")

    assert mentions(api_key_problems(t, SOURCE), route.label, "API key not required")


def test_check_catches_api_key_resources_created_without_their_condition():
    def unconditional(source):
        source["Resources"]["ProductUsagePlan"].pop("Condition")

    assert mentions(api_key_problems(broken(unconditional), SOURCE), "ProductUsagePlan", "whether or not")


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


def test_check_catches_client_naming_a_scope_no_resource_server_defines():
    def extra_scope(source):
        source["Resources"]["ProductReaderClient"]["Properties"]["AllowedOAuthScopes"].append(
            "product-api/admin"
        )

    assert mentions(cognito_problems(broken(extra_scope), SOURCE), "ProductReaderClient", "product-api/admin")


def test_check_catches_machine_client_without_secret_or_with_a_user_flow():
    def weaken(source):
        props = source["Resources"]["ProductAdminClient"]["Properties"]
        props["GenerateSecret"] = False
        props["AllowedOAuthFlows"] = ["client_credentials", "code"]
        props["CallbackURLs"] = ["https://example.com/callback"]

    problems = cognito_problems(broken(weaken), SOURCE)

    assert mentions(problems, "ProductAdminClient", "without a secret")
    assert mentions(problems, "ProductAdminClient", "other flows")


def test_check_catches_preflight_that_needs_a_token():
    def token_on_preflight(source):
        source["Resources"]["ProductApi"]["Properties"]["Auth"]["AddDefaultAuthorizerToCorsPreflight"] = True

    assert mentions(cors_preflight_problems(broken(token_on_preflight)), "OPTIONS", "preflight")


def test_check_catches_gateway_response_without_cors():
    def no_cors(source):
        del source["Resources"]["ProductApi"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]

    assert mentions(gateway_response_problems(broken(no_cors)), "UNAUTHORIZED", "Access-Control-Allow-Origin")


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


def test_check_catches_missing_output():
    def drop(source):
        del source["Outputs"]["JwksUrl"]

    assert output_problems(broken(drop)) == ["no output JwksUrl"]


# ---------------------------------------------------------------- people: user client, groups, trigger

# Standard scopes a person's client asks for; `aws.cognito.signin.user.admin` is left out on purpose:
# the trigger tells a refresh of a sign-in-API session by it (product_api/group_scopes.py).
IDENTITY_SCOPES = {"openid", "email", "profile"}
USER_CLIENT_AUTH_FLOWS = {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
TRIGGER_TIMEOUT = 5  # Cognito waits 5 s for a trigger
URL_PARAMETERS = ("UserCallbackUrls", "UserLogoutUrls")


def user_clients(template: Template) -> dict[str, dict[str, Any]]:
    """App clients for people: every client without client_credentials."""
    return {
        name: client["Properties"]
        for name, client in template.of_type("AWS::Cognito::UserPoolClient").items()
        if "client_credentials" not in client["Properties"].get("AllowedOAuthFlows", [])
    }


def trigger_of(template: Template) -> str | None:
    """The logical id of the pool's pre token generation function, if it has one."""
    _, pool = template.the_one("AWS::Cognito::UserPool")
    config = pool["Properties"].get("LambdaConfig", {}).get("PreTokenGenerationConfig", {})
    found = references(config.get("LambdaArn")) & set(template.of_type("AWS::Lambda::Function"))
    return found.pop() if len(found) == 1 else None


def group_scopes_of(template: Template) -> dict[str, list[str]]:
    """Groups -> scopes as the trigger reads them: its GROUP_SCOPES, a JSON object."""
    trigger = trigger_of(template)
    variables = template.resources[trigger]["Properties"]["Environment"]["Variables"] if trigger else {}
    return json.loads(variables.get("GROUP_SCOPES", "{}"))


def template_groups(template: Template) -> set[str]:
    return {g["Properties"]["GroupName"] for g in template.of_type("AWS::Cognito::UserPoolGroup").values()}


def user_client_problems(template: Template) -> list[str]:
    """A public client for the code flow with PKCE: no secret, no implicit flow, the identity scopes and
    every product scope, the hosted sign-in, revocation, a stated refresh token lifetime, SRP and refresh
    always and the plain password only when AllowUserPasswordAuth is true."""
    clients = user_clients(template)
    if len(clients) != 1:
        return [f"expected one client for people, found {sorted(clients)}"]
    name, props = next(iter(clients.items()))
    problems = []
    if props.get("GenerateSecret") is not False:
        problems.append(f"{name}: has a secret (or does not say): a browser or an app cannot keep one")
    if props.get("AllowedOAuthFlows") != ["code"]:
        problems.append(f"{name}: flows {props.get('AllowedOAuthFlows')}, not the code flow alone")
    if props.get("AllowedOAuthFlowsUserPoolClient") is not True:
        problems.append(f"{name}: AllowedOAuthFlowsUserPoolClient is not true")
    expected_scopes = IDENTITY_SCOPES | resource_server_scopes(template)
    if set(props.get("AllowedOAuthScopes", [])) != expected_scopes:
        problems.append(f"{name}: scopes {props.get('AllowedOAuthScopes')}, not {sorted(expected_scopes)}")
    if "COGNITO" not in props.get("SupportedIdentityProviders", []):
        problems.append(f"{name}: the user pool is not an identity provider, so the hosted sign-in fails")
    for prop, parameter in zip(("CallbackURLs", "LogoutURLs"), URL_PARAMETERS, strict=True):
        if props.get(prop) != template.parameters[parameter].split(","):
            problems.append(f"{name}: {prop} {props.get(prop)} are not the parameter {parameter}")
    flows = set(props.get("ExplicitAuthFlows", []))
    expected_flows = USER_CLIENT_AUTH_FLOWS | (
        {"ALLOW_USER_PASSWORD_AUTH"} if template.parameters["AllowUserPasswordAuth"] == "true" else set()
    )
    if flows != expected_flows:
        problems.append(f"{name}: ExplicitAuthFlows {sorted(flows)}, not {sorted(expected_flows)}")
    if props.get("EnableTokenRevocation") is not True:
        problems.append(f"{name}: token revocation is off")
    if "RefreshTokenValidity" not in props or "RefreshToken" not in props.get("TokenValidityUnits", {}):
        problems.append(f"{name}: refresh token lifetime not stated (value and unit)")
    if props.get("PreventUserExistenceErrors") != "ENABLED":
        problems.append(f"{name}: sign-in errors tell whether a user exists")
    return problems


def group_scope_problems(template: Template) -> list[str]:
    """GROUP_SCOPES names exactly the template's groups, only resource-server scopes, and every route's
    scope is granted by some group."""
    mapping = group_scopes_of(template)
    groups = template_groups(template)
    defined = resource_server_scopes(template)
    problems = [
        f"GROUP_SCOPES names {g}, which is not a group of the pool" for g in sorted(set(mapping) - groups)
    ]
    problems += [
        f"group {g} is not in GROUP_SCOPES, so it grants nothing" for g in sorted(groups - set(mapping))
    ]
    for group, scopes in sorted(mapping.items()):
        problems += [
            f"GROUP_SCOPES[{group}] names {s}, which no resource server defines"
            for s in scopes
            if s not in defined
        ]
    granted = {s for scopes in mapping.values() for s in scopes}
    for route in source_routes(load_source()):
        problems += [f"{route.label}: no group grants {s}" for s in route.scopes if s not in granted]
    pool, _ = template.the_one("AWS::Cognito::UserPool")
    for name, group in template.of_type("AWS::Cognito::UserPoolGroup").items():
        if references(group["Properties"].get("UserPoolId")) != {pool}:
            problems.append(f"{name}: not a group of {pool}")
    return problems


def trigger_problems(template: Template) -> list[str]:
    """The pool calls a function of the stack as its V2_0 pre token generation trigger (Essentials or
    Plus), may invoke it and nothing else may; the function answers within Cognito's 5 s and needs no
    AWS access."""
    pool, props = template.the_one("AWS::Cognito::UserPool")
    pool_props = props["Properties"]
    trigger = trigger_of(template)
    problems = []
    if trigger is None:
        return [f"{pool}: no PreTokenGenerationConfig naming a function of the stack"]
    config = pool_props["LambdaConfig"]["PreTokenGenerationConfig"]
    if config.get("LambdaVersion") != "V2_0":
        problems.append(f"{pool}: trigger version {config.get('LambdaVersion')}, not V2_0 (access tokens)")
    if "PreTokenGeneration" in pool_props["LambdaConfig"]:
        problems.append(f"{pool}: the V1 PreTokenGeneration is set too")
    if pool_props.get("UserPoolTier") not in ("ESSENTIALS", "PLUS"):
        problems.append(
            f"{pool}: tier {pool_props.get('UserPoolTier')}: a V2_0 trigger needs Essentials or Plus"
        )
    permitted = []
    for name, permission in template.of_type("AWS::Lambda::Permission").items():
        p = permission["Properties"]
        if p.get("Principal") != "cognito-idp.amazonaws.com":
            continue
        if references(p["FunctionName"]) != {trigger} or pool not in references(p.get("SourceArn")):
            problems.append(f"{name}: lets Cognito invoke {p['FunctionName']} from {p.get('SourceArn')}")
        elif p.get("Action") == "lambda:InvokeFunction":
            permitted.append(name)
    if not permitted:
        problems.append(f"{trigger}: Cognito has no permission to invoke it, so every sign-in fails")
    function = template.resources[trigger]["Properties"]
    if function.get("Timeout", 3) > TRIGGER_TIMEOUT:
        problems.append(f"{trigger}: Timeout {function['Timeout']} s outlives Cognito's {TRIGGER_TIMEOUT} s")
    problems += [
        f"{trigger}: may {s.get('Action')}, but needs no AWS access" for s in statements(template, trigger)
    ]
    return problems


def sign_in_url(template: Template) -> str:
    """The SignInUrl output with its references filled in as Cognito would name them."""
    value = text_of(template.outputs["SignInUrl"]["Value"])
    return value.replace("${ProductUserClient}", "CLIENTID").replace("${UserPoolDomain}", "prefix")


@pytest.fixture(params=["false", "true"], ids=["no-password-auth", "password-auth"])
def with_password_auth(request) -> Template:
    return translate({"AllowUserPasswordAuth": request.param})


def test_user_client_is_a_public_code_flow_client_with_the_password_flow_only_on_request(with_password_auth):
    assert user_client_problems(with_password_auth) == []


def test_groups_and_scopes_of_group_scopes_are_the_templates(transformed):
    assert group_scope_problems(transformed) == []
    assert group_scopes_of(transformed)  # the check read a mapping


def test_pre_token_generation_trigger_is_wired_to_the_pool(transformed):
    assert trigger_problems(transformed) == []


def test_me_takes_an_id_token_through_the_cognito_authorizer(transformed):
    (me,) = [r for r in ROUTES if (r.method, r.path) == ("GET", "/me")]

    assert me.takes_id_token
    assert route_authorization_problems(transformed, me) == []
    assert [
        req for req in operation(transformed, me)["security"] if set(req) & cognito_schemes(transformed)
    ] == [{name: [] for name in cognito_schemes(transformed)}]


@pytest.mark.parametrize(
    ("callbacks", "domain", "redirect_uri"),
    [
        ({}, "https://prefix.auth.us-east-1.amazoncognito.com", "http://localhost:8080/callback"),
        (
            {"UserCallbackUrls": "https://shop.example.com/auth/callback,http://localhost:5173/cb"},
            "https://prefix.auth.us-east-1.amazoncognito.com",
            "https://shop.example.com/auth/callback",
        ),
        (
            {
                "UserCallbackUrls": "https://a-b.example.com:8443/x_y/~z",
                "CognitoCustomDomain": "auth.example.com",
                "CognitoCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/abc",
            },
            "https://auth.example.com",
            "https://a-b.example.com:8443/x_y/~z",
        ),
    ],
)
def test_sign_in_url_is_the_authorize_endpoint_with_the_first_callback_url_encoded(
    callbacks, domain, redirect_uri
):
    from urllib.parse import parse_qs, quote, urlsplit

    t = translate(callbacks)
    url = sign_in_url(t)

    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}" == domain
    assert parts.path == "/oauth2/authorize"
    assert parse_qs(parts.query) == {
        "client_id": ["CLIENTID"],
        "response_type": ["code"],
        "redirect_uri": [redirect_uri],
    }
    assert parts.query.endswith("redirect_uri=" + quote(redirect_uri, safe=""))
    assert text_of(t.outputs["UserPoolDomainUrl"]["Value"]).replace("${UserPoolDomain}", "prefix") == domain


@pytest.mark.parametrize("parameter", URL_PARAMETERS)
@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("http://localhost:8080/callback", True),
        ("https://shop.example.com/callback,http://localhost:8080/callback", True),
        ("https://shop.example.com/cb?next=/home", False),  # & = ? would need encoding in SignInUrl
        ("https://shop.example.com/cb#done", False),
        ("https://shop.example.com/a b", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_url_parameters_allow_only_urls_the_sign_in_url_can_carry(parameter, value, allowed):
    pattern = SOURCE["Parameters"][parameter]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) == allowed
    assert re.fullmatch(pattern, SOURCE["Parameters"][parameter]["Default"])


def test_check_catches_a_user_client_with_a_secret_the_implicit_flow_or_the_password_always_on():
    def weaken(source):
        props = source["Resources"]["ProductUserClient"]["Properties"]
        props["GenerateSecret"] = True
        props["AllowedOAuthFlows"] = ["code", "implicit"]
        props["AllowedOAuthScopes"].append("aws.cognito.signin.user.admin")
        props["ExplicitAuthFlows"] = [*USER_CLIENT_AUTH_FLOWS, "ALLOW_USER_PASSWORD_AUTH"]
        props["EnableTokenRevocation"] = False
        del props["RefreshTokenValidity"]

    problems = user_client_problems(broken(weaken))

    for says in (
        "has a secret",
        "not the code flow",
        "aws.cognito.signin.user.admin",
        "ExplicitAuthFlows",
        "revocation",
        "refresh token lifetime",
    ):
        assert mentions(problems, "ProductUserClient", says), says


def test_check_catches_group_scopes_naming_an_unknown_group_or_scope_or_missing_a_group():
    def drift(source):
        trigger = source["Resources"]["PreTokenGenerationFunction"]["Properties"]
        mapping = trigger["Environment"]["Variables"]["GROUP_SCOPES"]["Fn::ToJsonString"]
        mapping["product-auditors"] = ["product-api/read_products"]
        del mapping["product-admins"]

    problems = group_scope_problems(broken(drift))

    assert mentions(problems, "product-auditors", "not a group")
    assert mentions(problems, "product-api/read_products", "no resource server")
    assert mentions(problems, "product-admins", "grants nothing")
    assert mentions(problems, "DELETE /products/{id}", "no group grants product-api/delete_product")


def test_check_catches_a_trigger_of_the_wrong_version_without_permission_or_too_slow():
    def drift(source):
        source["Resources"]["UserPool"]["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"][
            "LambdaVersion"
        ] = "V1_0"
        del source["Resources"]["PreTokenGenerationPermission"]
        trigger = source["Resources"]["PreTokenGenerationFunction"]["Properties"]
        trigger["Timeout"] = 10
        trigger["Policies"] = [
            {"Statement": [{"Effect": "Allow", "Action": ["cognito-idp:ListUsers"], "Resource": "*"}]}
        ]

    problems = trigger_problems(broken(drift))

    assert mentions(problems, "UserPool", "V1_0")
    assert mentions(problems, "PreTokenGenerationFunction", "no permission")
    assert mentions(problems, "PreTokenGenerationFunction", "Timeout 10")
    assert mentions(problems, "PreTokenGenerationFunction", "cognito-idp:ListUsers")


def test_check_catches_a_trigger_permission_for_another_function():
    def drift(source):
        permission = source["Resources"]["PreTokenGenerationPermission"]["Properties"]
        permission["FunctionName"] = {"Fn::GetAtt": ["GetMeFunction", "Arn"]}

    problems = trigger_problems(broken(drift))

    assert mentions(problems, "PreTokenGenerationPermission", "GetMeFunction")
    assert mentions(problems, "no permission")


def test_check_catches_a_route_without_scopes_that_does_not_declare_itself_an_id_token_route():
    def forget(source):
        del source["Resources"]["GetMeFunction"]["Properties"]["Environment"]

    source = load_source()
    forget(source)
    t = broken(forget)

    assert mentions(authorization_problems(t, source), "GET /me", "no AuthorizationScopes")
    assert mentions(required_scopes_problems(t, source), "GetMeFunction", "REQUIRED_SCOPES")


def test_people_doc_groups_table_is_group_scopes():
    documented = {}
    for line in (ROOT / "docs" / "people.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and re.fullmatch(r"`[\w-]+`", cells[0]) and "/" in cells[1]:
            documented[cells[0].strip("`")] = sorted(re.findall(r"`([^`]+)`", cells[1]))

    assert documented == {group: sorted(scopes) for group, scopes in group_scopes_of(translate()).items()}


# ---------------------------------------------------------------- deploys on the first try, side by side
# Each check reads CloudFormation's documented behaviour: Cognito domain prefixes are unique per
# region across all accounts; API Gateway refuses a stage with access logs until the account has its
# CloudWatch role; DependsOn may not name a resource whose condition is false; Retain keeps a
# resource even when the stack's first create rolls back.

COGNITO_DOMAIN_PREFIX = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
COGNITO_RESERVED_WORDS = ("aws", "amazon", "cognito")
ACCOUNT_ROLE_PARAMETER = "SetApiGatewayAccountRole"


def samconfig_stack_names() -> dict[str, str]:
    """Each samconfig.toml environment's stack name."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return {
        env: sections["global"]["parameters"]["stack_name"]
        for env, sections in config.items()
        if isinstance(sections, dict) and "stack_name" in sections.get("global", {}).get("parameters", {})
    }


def domain_prefix_problems(stack_names: list[str], source: dict[str, Any] | None = None) -> list[str]:
    """The Cognito domain prefix of stacks side by side in one account and region: valid and distinct."""
    prefixes: dict[str, str] = {}
    problems = []
    for stack_name in stack_names:
        t = translate(source=source, stack_name=stack_name) if source else translate(stack_name=stack_name)
        _, domain = t.the_one("AWS::Cognito::UserPoolDomain")
        prefix = domain["Properties"]["Domain"]
        if not isinstance(prefix, str) or not COGNITO_DOMAIN_PREFIX.match(prefix):
            problems.append(f"stack {stack_name}: domain prefix {prefix!r} is not one Cognito accepts")
        elif any(word in prefix for word in COGNITO_RESERVED_WORDS):
            problems.append(f"stack {stack_name}: domain prefix {prefix!r} holds a word Cognito reserves")
        if prefix in prefixes.values():
            other = next(name for name, p in prefixes.items() if p == prefix)
            problems.append(f"stacks {other} and {stack_name} share the domain prefix {prefix!r}")
        prefixes[stack_name] = prefix
    return problems


def created(template: Template, name: str) -> bool:
    condition = template.resources[name].get("Condition")
    return condition is None or evaluate_condition(template, condition)


def dependencies(template: Template, name: str) -> set[str]:
    """What CloudFormation makes a resource wait for: DependsOn, and every Ref and GetAtt it holds."""
    resource = template.resources[name]
    found = set(as_list(resource.get("DependsOn", [])))
    found |= references(resource.get("Properties", {})) | references(resource.get("Metadata", {}))
    return {d for d in found if d in template.resources}


def waits_for(template: Template, name: str, target: str) -> bool:
    seen: set[str] = set()
    todo = [name]
    while todo:
        current = todo.pop()
        if current == target:
            return True
        if current not in seen:
            seen.add(current)
            todo.extend(dependencies(template, current))
    return False


def account_role_problems(template: Template) -> list[str]:
    """Stages that write access logs wait for the account's CloudWatch role when this stack sets it;
    the role and the account setting exist only when SetApiGatewayAccountRole is true; DependsOn
    never names a resource that is not created."""
    sets_it = template.parameters[ACCOUNT_ROLE_PARAMETER] == "true"
    accounts = [n for n in template.of_type("AWS::ApiGateway::Account") if created(template, n)]
    problems = []
    if sets_it and len(accounts) != 1:
        problems.append(f"{ACCOUNT_ROLE_PARAMETER}=true, yet {len(accounts)} AWS::ApiGateway::Account")
    if not sets_it and accounts:
        problems.append(f"{ACCOUNT_ROLE_PARAMETER}=false, yet {accounts} set the account-wide role")
    for name, resource in template.resources.items():
        for target in as_list(resource.get("DependsOn", [])):
            if target not in template.resources or not created(template, target):
                problems.append(
                    f"{name}: DependsOn {target}, which is not created, so the template is refused"
                )
    for stage, resource in template.of_type("AWS::ApiGateway::Stage").items():
        if not resource["Properties"].get("AccessLogSetting"):
            continue
        for account in accounts:
            if not waits_for(template, stage, account):
                problems.append(f"{stage}: turns on access logs without waiting for {account}")
    return problems


def deletion_policy_problems(template: Template) -> list[str]:
    """No Retain: a first create that rolls back must leave nothing behind (RetainExceptOnCreate)."""
    return [
        f"{name}: DeletionPolicy Retain keeps it when the first create rolls back; use RetainExceptOnCreate"
        for name, resource in template.resources.items()
        if resource.get("DeletionPolicy") == "Retain"
    ]


def custom_domain_problems(template: Template) -> list[str]:
    """With a custom domain, an output gives the CloudFront name its DNS record must point at."""
    custom = bool(template.parameters.get("CognitoCustomDomain"))
    aliases = [
        name
        for name, output in template.outputs.items()
        if output.get("Value") == {"Fn::GetAtt": ["UserPoolDomain", "CloudFrontDistribution"]}
    ]
    if len(aliases) != 1:
        return [f"expected one output with UserPoolDomain's CloudFront name, found {aliases}"]
    condition = template.outputs[aliases[0]].get("Condition")
    shown = condition is None or evaluate_condition(template, condition)
    if shown != custom:
        return [f"{aliases[0]}: shown={shown} with CognitoCustomDomain {'set' if custom else 'unset'}"]
    return []


CUSTOM_DOMAIN = {
    "CognitoCustomDomain": "auth.example.com",
    "CognitoCertificateArn": "arn:aws:acm:us-east-1:123456789012:certificate/0a1b2c3d",
}


def test_samconfig_environments_get_distinct_valid_cognito_domain_prefixes():
    names = samconfig_stack_names()

    assert len(names) >= 2
    assert domain_prefix_problems(sorted(names.values())) == []


def test_samconfig_environments_name_their_region():
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    for env in samconfig_stack_names():
        sections = config[env]
        parameters = {**sections["global"]["parameters"], **sections.get("deploy", {}).get("parameters", {})}
        assert "region" in parameters, f"[{env}] names no region: sam deploy would stop on it"
        assert re.fullmatch(r"[a-z]{2}(-[a-z]+)+-\d", parameters["region"])


@pytest.mark.parametrize("sets_it", ["true", "false"])
def test_stage_waits_for_the_account_role_and_the_role_is_optional(sets_it):
    assert account_role_problems(translate({ACCOUNT_ROLE_PARAMETER: sets_it})) == []


@pytest.mark.parametrize("protect", ["true", "false"])
def test_nothing_is_kept_when_the_first_create_rolls_back(protect):
    assert deletion_policy_problems(translate({"DeletionProtection": protect})) == []


def test_custom_domain_gets_its_dns_alias_target_as_an_output():
    assert custom_domain_problems(translate(CUSTOM_DOMAIN)) == []
    assert custom_domain_problems(translate()) == []


def test_check_catches_domain_prefix_shared_by_two_stacks():
    source = load_source()
    domain = source["Resources"]["UserPoolDomain"]["Properties"]["Domain"]
    domain["Fn::If"][2]["Fn::If"][2] = {"Fn::Sub": "product-api-${AWS::AccountId}"}

    assert mentions(domain_prefix_problems(["product-api", "product-api-prod"], source), "share")


def test_check_catches_stage_that_does_not_wait_for_the_account_role():
    def no_wait(source):
        del source["Resources"]["ProductApi"]["DependsOn"]

    assert mentions(account_role_problems(broken(no_wait)), "without waiting for ApiGatewayAccount")


def test_check_catches_depends_on_a_resource_that_is_not_created():
    def direct(source):
        source["Resources"]["ProductApi"]["DependsOn"] = "ApiGatewayAccount"

    problems = account_role_problems(broken(direct, **{ACCOUNT_ROLE_PARAMETER: "false"}))

    assert mentions(problems, "DependsOn ApiGatewayAccount", "not created")


def test_check_catches_retain_and_a_missing_alias_output():
    def retain(source):
        source["Resources"]["ApiGatewayCloudWatchRole"]["DeletionPolicy"] = "Retain"
        del source["Outputs"]["CustomDomainAliasTarget"]

    t = broken(retain, **CUSTOM_DOMAIN)

    assert mentions(deletion_policy_problems(t), "ApiGatewayCloudWatchRole", "RetainExceptOnCreate")
    assert mentions(custom_domain_problems(t), "expected one output")


# ---------------------------------------------------------------- idempotency, WAF, KMS, concurrency

SECURITY_ON = {"EnableWaf": "true", "CustomerManagedKey": "true", "FunctionReservedConcurrency": "5"}


def resolved(template: Template, value: Any) -> Any:
    """A property value with Fn::If settled for the template's parameters (None for NoValue); Refs
    and GetAtts of resources are left as they are, for `references`."""
    resolver = Resolver(parameters=template.parameters, conditions=template.conditions)
    resolver.refs.update({name: {"Ref": name} for name in template.resources})
    resolver.attributes = _KeptAttributes()
    return resolver.resolve({"value": value}).get("value")


class _KeptAttributes(dict):
    def __getitem__(self, key: tuple[str, str]) -> dict[str, list[str]]:
        return {"Fn::GetAtt": list(key)}


def idempotency_problems(template: Template) -> list[str]:
    """The create function's idempotency table has the key and TTL attribute Powertools writes, and
    only that function may use it."""
    defaults = inspect.signature(DynamoDBPersistenceLayer).parameters
    key_attr, expiry_attr = defaults["key_attr"].default, defaults["expiry_attr"].default
    create = next(r.function for r in ROUTES if (r.method, r.path) == ("POST", "/products"))
    env = template.resources[create]["Properties"]["Environment"]["Variables"]
    table = references(env.get("IDEMPOTENCY_TABLE_NAME"))
    if len(table) != 1 or next(iter(table)) not in template.of_type("AWS::DynamoDB::Table"):
        return [f"{create}: IDEMPOTENCY_TABLE_NAME names no table of the stack"]
    (table,) = table
    props = template.resources[table]["Properties"]
    problems = []
    if props.get("KeySchema") != [{"AttributeName": key_attr, "KeyType": "HASH"}]:
        problems.append(f"{table}: key {props.get('KeySchema')} is not Powertools' {key_attr!r}")
    ttl = props.get("TimeToLiveSpecification", {})
    if not ttl.get("Enabled") or ttl.get("AttributeName") != expiry_attr:
        problems.append(f"{table}: TTL {ttl} does not delete on Powertools' {expiry_attr!r}")
    for name in sorted(template.of_type("AWS::Lambda::Function")):
        actions = {
            action
            for statement in statements(template, name)
            if table in references(statement.get("Resource"))
            for action in as_list(statement.get("Action", []))
        }
        wanted = {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
        if name == create and actions != wanted:
            problems.append(f"{name}: may {sorted(actions)} on {table}, not {sorted(wanted)}")
        elif name != create and actions:
            problems.append(f"{name}: may {sorted(actions)} on {table}, which only {create} uses")
    return problems


def reserved_concurrency_problems(template: Template) -> list[str]:
    """Every function reserves FunctionReservedConcurrency executions; 0 reserves none."""
    wanted = int(template.parameters["FunctionReservedConcurrency"]) or None
    problems = []
    for name, function in sorted(template.of_type("AWS::Lambda::Function").items()):
        value = resolved(template, function["Properties"].get("ReservedConcurrentExecutions"))
        if (int(value) if value is not None else None) != wanted:
            problems.append(f"{name}: ReservedConcurrentExecutions {value}, not {wanted}")
    return problems


def waf_problems(template: Template) -> list[str]:
    """With EnableWaf, a regional web ACL that blocks by AWS's common rules and a per-IP rate limit
    guards the API's stage; without it, no WAF resource is created."""
    template = active(template)
    acls = template.of_type("AWS::WAFv2::WebACL")
    associations = template.of_type("AWS::WAFv2::WebACLAssociation")
    if template.parameters["EnableWaf"] != "true":
        return [f"{name}: created with EnableWaf false" for name in sorted({**acls, **associations})]
    if len(acls) != 1 or len(associations) != 1:
        return [f"expected one web ACL and one association, found {sorted(acls)}, {sorted(associations)}"]
    (acl_name, acl), (association_name, association) = *acls.items(), *associations.items()
    props = acl["Properties"]
    problems = []
    if props.get("Scope") != "REGIONAL":
        problems.append(f"{acl_name}: scope {props.get('Scope')}, not REGIONAL (a REST API stage)")
    rules = props.get("Rules", [])
    rate = [r for r in rules if "RateBasedStatement" in r["Statement"]]
    if not any(
        resolved(template, r["Statement"]["RateBasedStatement"]["Limit"])
        == template.parameters["WafRateLimit"]
        and r["Statement"]["RateBasedStatement"].get("AggregateKeyType") == "IP"
        and "Block" in r.get("Action", {})
        for r in rate
    ):
        problems.append(f"{acl_name}: no rule blocks an IP beyond WafRateLimit")
    managed = {
        r["Statement"]["ManagedRuleGroupStatement"]["Name"]: r
        for r in rules
        if r["Statement"].get("ManagedRuleGroupStatement", {}).get("VendorName") == "AWS"
    }
    common = managed.get("AWSManagedRulesCommonRuleSet")
    if common is None:
        problems.append(f"{acl_name}: no AWS managed common rule set")
    elif common.get("OverrideAction") != {"None": {}}:
        problems.append(f"{acl_name}: the common rule set only counts ({common.get('OverrideAction')})")
    props = association["Properties"]
    api, _ = template.the_one("AWS::ApiGateway::RestApi")
    if acl_name not in references(props.get("WebACLArn")):
        problems.append(f"{association_name}: associates {props.get('WebACLArn')}, not {acl_name}")
    arn = text_of(props.get("ResourceArn"))
    if api not in references(arn) or "/stages/" not in arn:
        problems.append(f"{association_name}: guards {arn}, not a stage of {api}")
    return problems


def customer_managed_key_problems(template: Template) -> list[str]:
    """With CustomerManagedKey, one rotated key encrypts every table and log group; without it, none."""
    template = active(template)
    keys = template.of_type("AWS::KMS::Key")
    wanted = template.parameters["CustomerManagedKey"] == "true"
    if not wanted:
        problems = [f"{name}: created with CustomerManagedKey false" for name in keys]
    elif len(keys) != 1:
        return [f"expected one KMS key, found {sorted(keys)}"]
    else:
        (key, props), *_ = keys.items()
        problems = [] if props["Properties"].get("EnableKeyRotation") is True else [f"{key}: no rotation"]
        retained = props.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate")
        if retained != (template.parameters["DeletionProtection"] == "true"):
            problems.append(f"{key}: DeletionPolicy {props.get('DeletionPolicy')} does not follow the data's")
    for name, table in sorted(template.of_type("AWS::DynamoDB::Table").items()):
        sse = resolved(template, table["Properties"].get("SSESpecification")) or {}
        uses_key = sse.get("SSEType") == "KMS" and set(keys) & references(sse.get("KMSMasterKeyId"))
        if bool(uses_key) != wanted or not sse.get("SSEEnabled"):
            problems.append(f"{name}: SSESpecification {sse}")
    for name, group in sorted(template.of_type("AWS::Logs::LogGroup").items()):
        key_id = resolved(template, group["Properties"].get("KmsKeyId"))
        if bool(set(keys) & references(key_id)) != wanted:
            problems.append(f"{name}: KmsKeyId {key_id}")
    return problems


def checkov_skip_problems(source: dict[str, Any]) -> list[str]:
    """Every checkov skip in template.yaml says why, next to the resource it concerns."""
    problems = []
    for name, resource in source["Resources"].items():
        for skip in resource.get("Metadata", {}).get("checkov", {}).get("skip", []):
            if not re.fullmatch(r"CKV2?_AWS_\d+", str(skip.get("id"))):
                problems.append(f"{name}: skip {skip} names no checkov check")
            if len(str(skip.get("comment", "")).split()) < 5:
                problems.append(f"{name}: skip {skip.get('id')} does not say why")
    return problems


@pytest.fixture(
    params=[{}, SECURITY_ON, {**SECURITY_ON, "DeletionProtection": "true"}], ids=["off", "on", "on+kept"]
)
def with_security(request) -> Template:
    return translate(request.param)


def test_create_function_has_an_idempotency_table_only_it_uses(with_security):
    assert idempotency_problems(with_security) == []


def test_functions_reserve_the_concurrency_asked_for_or_none(with_security):
    assert reserved_concurrency_problems(with_security) == []


def test_waf_guards_the_stage_exactly_when_enabled(with_security):
    assert waf_problems(with_security) == []


def test_a_customer_managed_key_encrypts_tables_and_logs_exactly_when_asked(with_security):
    assert customer_managed_key_problems(with_security) == []


def test_security_options_that_cost_money_or_can_fail_a_deploy_are_off_by_default():
    defaults = {name: p.get("Default") for name, p in SOURCE["Parameters"].items()}

    assert defaults["EnableWaf"] == "false"
    assert defaults["CustomerManagedKey"] == "false"
    assert defaults["FunctionReservedConcurrency"] == 0


def test_every_checkov_skip_says_why():
    assert checkov_skip_problems(SOURCE) == []


def test_check_catches_an_idempotency_table_without_powertools_ttl():
    def rename_ttl(source):
        source["Resources"]["IdempotencyTable"]["Properties"]["TimeToLiveSpecification"]["AttributeName"] = (
            "ttl"
        )

    assert mentions(idempotency_problems(broken(rename_ttl)), "IdempotencyTable", "TTL")


def test_check_catches_a_function_reserving_nothing_when_asked():
    def drop(source):
        del source["Globals"]["Function"]["ReservedConcurrentExecutions"]

    assert mentions(
        reserved_concurrency_problems(broken(drop, **SECURITY_ON)), "ReservedConcurrentExecutions None"
    )


def test_check_catches_a_web_acl_that_only_counts_or_guards_nothing():
    def weaken(source):
        rules = source["Resources"]["ApiWebAcl"]["Properties"]["Rules"]
        next(r for r in rules if r["Name"] == "AWSManagedRulesCommonRuleSet")["OverrideAction"] = {
            "Count": {}
        }
        source["Resources"]["ApiWebAclAssociation"]["Properties"]["ResourceArn"] = "arn:aws:elb:x"

    problems = waf_problems(broken(weaken, **SECURITY_ON))

    assert mentions(problems, "only counts")
    assert mentions(problems, "ApiWebAclAssociation", "not a stage")


def test_check_catches_a_log_group_left_out_of_the_customer_managed_key():
    def drop(source):
        del source["Resources"]["FunctionLogGroup"]["Properties"]["KmsKeyId"]

    assert mentions(customer_managed_key_problems(broken(drop, **SECURITY_ON)), "FunctionLogGroup")


def test_check_catches_a_checkov_skip_without_a_reason():
    source = load_source()
    source["Resources"]["IdempotencyTable"]["Metadata"]["checkov"]["skip"][0]["comment"] = "no"

    assert mentions(checkov_skip_problems(source), "IdempotencyTable", "does not say why")
