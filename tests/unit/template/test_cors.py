"""CORS and the gateway's own responses: every path answers preflight without a token, and the
preflight, the gateway's 4XX/5XX/401 and the handlers allow the same origin."""

from __future__ import annotations

import json

from sam_local_cloud.cloudformation.template import Template, openapi_body
from tests.harness import ROOT
from tests.unit.template.support import broken, mentions

CORS_GATEWAY_RESPONSES = ("DEFAULT_4XX", "DEFAULT_5XX", "UNAUTHORIZED")


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


def test_options_methods_are_unauthenticated_mock_integrations_for_cors_preflight(transformed):
    assert cors_preflight_problems(transformed) == []


def test_gateway_responses_carry_cors_headers(transformed):
    assert gateway_response_problems(transformed) == []


def test_preflight_gateway_and_handlers_allow_the_same_origin(transformed):
    assert cors_origin_problems(transformed) == []


def test_check_catches_preflight_that_needs_a_token():
    def token_on_preflight(source):
        source["Resources"]["ProductApi"]["Properties"]["Auth"]["AddDefaultAuthorizerToCorsPreflight"] = True

    assert mentions(cors_preflight_problems(broken(token_on_preflight)), "OPTIONS", "preflight")


def test_check_catches_gateway_response_without_cors():
    def no_cors(source):
        del source["Resources"]["ProductApi"]["Properties"]["GatewayResponses"]["UNAUTHORIZED"]

    assert mentions(gateway_response_problems(broken(no_cors)), "UNAUTHORIZED", "Access-Control-Allow-Origin")
