"""The HTTP API's routes: each is the twin of a REST method (same path, method and function), guarded
by the JWT authorizer with exactly its twin's scopes, and invoked with payload format 2.0 under a
permission limited to the HTTP API. Both sides are read from the transformed template."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import Template
from tests.unit.template.support import (
    ROUTES,
    broken,
    cognito_schemes,
    http_api,
    http_routes,
    jwt_schemes,
    mentions,
    operations,
    references,
)

PAYLOAD_FORMAT = "2.0"  # what product_api/rest.py's HTTP resolver reads


def rest_methods(template: Template) -> dict[tuple[str, str], tuple[str | None, tuple[str, ...]]]:
    """(METHOD, path) -> (function, Cognito scopes) for every REST method but the CORS preflights."""
    functions = set(template.of_type("AWS::Lambda::Function"))
    cognito = cognito_schemes(template)
    methods = {}
    for path, method, op in operations(template):
        if method == "OPTIONS":
            continue
        targets = sorted(references(op.get("x-amazon-apigateway-integration", {}).get("uri")) & functions)
        security = op.get("security") or []
        scopes = [s for req in security for name, granted in req.items() if name in cognito for s in granted]
        methods[(method, path)] = (targets[0] if len(targets) == 1 else None, tuple(scopes))
    return methods


def twin_problems(template: Template) -> list[str]:
    """Every REST method has an HTTP API route with the same function and scopes, and no more routes."""
    rest = rest_methods(template)
    http = http_routes(template)
    problems = [f"{m} {p}: a REST method with no HTTP API route" for m, p in sorted(rest.keys() - http)]
    problems += [f"{m} {p}: an HTTP API route with no REST method" for m, p in sorted(http.keys() - rest)]
    for key in sorted(rest.keys() & http.keys()):
        function, scopes = rest[key]
        route = http[key]
        if route.function != function:
            problems.append(f"{route.label}: invokes {route.function} on the HTTP API, {function} on REST")
        if sorted(route.scopes) != sorted(scopes) or len(set(route.scopes)) != len(route.scopes):
            problems.append(
                f"{route.label}: HTTP API scopes {list(route.scopes)} are not REST's {list(scopes)}"
            )
    return problems


def guard_problems(template: Template) -> list[str]:
    """Every HTTP API route needs the JWT authorizer and nothing else, and gets payload format 2.0."""
    _, body = http_api(template)
    jwt = set(jwt_schemes(body))
    problems = []
    for route in http_routes(template).values():
        if set(route.authorizers) != jwt or len(jwt) != 1:
            problems.append(
                f"{route.label}: open, or guarded by {list(route.authorizers)} and not the JWT authorizer"
            )
        if route.payload_format != PAYLOAD_FORMAT:
            problems.append(f"{route.label}: payload format {route.payload_format}, not {PAYLOAD_FORMAT}")
    return problems


def permission_problems(template: Template) -> list[str]:
    """API Gateway may invoke each HTTP route's function, from the HTTP API only."""
    api, _ = http_api(template)
    permitted = {
        function
        for permission in template.of_type("AWS::Lambda::Permission").values()
        if api in references(permission["Properties"].get("SourceArn"))
        and permission["Properties"].get("Principal") == "apigateway.amazonaws.com"
        for function in references(permission["Properties"]["FunctionName"])
    }
    return [
        f"{route.label}: API Gateway may not invoke {route.function} from {api}"
        for route in http_routes(template).values()
        if route.function not in permitted
    ]


def test_every_rest_method_has_an_http_api_twin_with_the_same_function_and_scopes(transformed):
    assert rest_methods(transformed)
    assert twin_problems(transformed) == []


def test_every_http_api_route_needs_the_jwt_authorizer_and_gets_payload_2(transformed):
    assert guard_problems(transformed) == []


def test_api_gateway_may_invoke_every_http_api_routes_function(transformed):
    assert permission_problems(transformed) == []


# ---------------------------------------------------------------- the checks catch drift


def http_event(source: dict[str, Any], function: str) -> dict[str, Any]:
    (props,) = [
        e["Properties"]
        for e in source["Resources"][function]["Properties"]["Events"].values()
        if e["Type"] == "HttpApi"
    ]
    return props


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_check_catches_http_route_whose_scopes_differ_from_its_rest_twin(route):
    def other_scope(source):
        http_event(source, route.function).setdefault("Auth", {})["AuthorizationScopes"] = ["openid"]

    assert mentions(twin_problems(broken(other_scope)), route.label, "are not REST's")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_check_catches_rest_method_without_http_route(route):
    def drop(source):
        events = source["Resources"][route.function]["Properties"]["Events"]
        (name,) = [n for n, e in events.items() if e["Type"] == "HttpApi"]
        del events[name]

    assert mentions(twin_problems(broken(drop)), route.label, "no HTTP API route")


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_check_catches_http_route_opened(route):
    def open_route(source):
        http_event(source, route.function)["Auth"] = {"Authorizer": "NONE"}

    assert mentions(guard_problems(broken(open_route)), route.label, "open")


def test_check_catches_payload_format_1():
    def v1(source):
        http_event(source, "ListProductsFunction")["PayloadFormatVersion"] = "1.0"

    assert mentions(guard_problems(broken(v1)), "GET /products", "payload format 1.0")


def test_check_catches_http_route_on_another_path():
    def moved(source):
        http_event(source, "GetMeFunction")["Path"] = "/whoami"

    problems = twin_problems(broken(moved))

    assert mentions(problems, "GET /me", "no HTTP API route")
    assert mentions(problems, "GET /whoami", "no REST method")


def test_check_catches_missing_invoke_permission():
    good = broken(lambda source: None)
    api, _ = http_api(good)
    permission = next(
        name
        for name, p in good.of_type("AWS::Lambda::Permission").items()
        if api in references(p["Properties"].get("SourceArn"))
    )
    del good.resources[permission]

    assert mentions(permission_problems(good), "may not invoke")
