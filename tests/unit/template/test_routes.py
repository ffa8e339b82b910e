"""Routes and their authorization: each method of the API is a documented route, guarded by the
Cognito authorizer with exactly the route's scopes (or, for an ID-token route, none), and each
function checks the same scopes itself."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import Template, load_source, openapi_body, translate
from tests.unit.template.support import (
    READ_FUNCTIONS,
    ROUTES,
    SCOPED_ROUTES,
    SOURCE,
    Route,
    api_key_schemes,
    broken,
    cognito_schemes,
    event_auth,
    mentions,
    operation,
    operations,
    resource_server_scopes,
    source_routes,
)


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


def test_template_declares_routes_to_check():
    assert len(ROUTES) >= 5
    assert READ_FUNCTIONS


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_method_uses_cognito_authorizer_with_exactly_its_documented_scopes(transformed, route):
    assert route_authorization_problems(transformed, route) == []


def test_every_method_but_options_is_a_documented_guarded_route(transformed):
    assert authorization_problems(transformed, SOURCE) == []


def test_function_required_scopes_equal_its_route_authorization_scopes(transformed):
    assert required_scopes_problems(transformed, SOURCE) == []


def test_authorizer_is_cognito_user_pools_on_the_pool_arn_reading_authorization(transformed):
    assert authorizer_problems(transformed) == []


def test_me_takes_an_id_token_through_the_cognito_authorizer(transformed):
    (me,) = [r for r in ROUTES if (r.method, r.path) == ("GET", "/me")]

    assert me.takes_id_token
    assert route_authorization_problems(transformed, me) == []
    assert [
        req for req in operation(transformed, me)["security"] if set(req) & cognito_schemes(transformed)
    ] == [{name: [] for name in cognito_schemes(transformed)}]


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


def test_check_catches_a_route_without_scopes_that_does_not_declare_itself_an_id_token_route():
    def forget(source):
        del source["Resources"]["GetMeFunction"]["Properties"]["Environment"]

    source = load_source()
    forget(source)
    t = broken(forget)

    assert mentions(authorization_problems(t, source), "GET /me", "no AuthorizationScopes")
    assert mentions(required_scopes_problems(t, source), "GetMeFunction", "REQUIRED_SCOPES")
