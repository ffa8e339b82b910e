"""Shared by the template contract tests: the documented routes (read from the SAM source), helpers
on the transformed template, and `broken` / `mentions` for the checks that must catch drift."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sam_local_cloud.cloudformation.template import Template, load_source, openapi_body, translate

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "x-amazon-apigateway-any-method"}

SOURCE = load_source()


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


def operations(template: Template) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(path, METHOD, operation) for every method of the REST API."""
    for path, methods in openapi_body(template)["paths"].items():
        for method, operation in methods.items():
            if method in HTTP_METHODS:
                yield path, method.upper(), operation


def operation(template: Template, route: Route) -> dict[str, Any] | None:
    return openapi_body(template)["paths"].get(route.path, {}).get(route.method.lower())


# ---------------------------------------------------------------- the HTTP API


@dataclass(frozen=True)
class HttpRoute:
    """One operation of the HTTP API's OpenAPI body, as the SAM translator wrote it."""

    method: str  # upper case
    path: str
    function: str | None  # the logical id its integration invokes
    authorizers: tuple[str, ...]  # the names in its `security`
    scopes: tuple[str, ...]  # those of its JWT authorizer's requirement
    payload_format: str | None

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


def http_api(template: Template) -> tuple[str, dict[str, Any]]:
    """The one AWS::ApiGatewayV2::Api: its logical id and its OpenAPI body."""
    name, api = template.the_one("AWS::ApiGatewayV2::Api")
    return name, api["Properties"]["Body"]


def jwt_schemes(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The body's JWT authorizers: name -> x-amazon-apigateway-authorizer."""
    schemes = body.get("components", {}).get("securitySchemes", {})
    return {
        name: scheme["x-amazon-apigateway-authorizer"]
        for name, scheme in schemes.items()
        if scheme.get("x-amazon-apigateway-authorizer", {}).get("type") == "jwt"
    }


def http_routes(template: Template) -> dict[tuple[str, str], HttpRoute]:
    """Every operation of the HTTP API by (METHOD, path)."""
    _, body = http_api(template)
    jwt = jwt_schemes(body)
    functions = set(template.of_type("AWS::Lambda::Function"))
    routes = {}
    for path, methods in body.get("paths", {}).items():
        for method, op in methods.items():
            if method not in HTTP_METHODS:
                continue
            integration = op.get("x-amazon-apigateway-integration", {})
            targets = sorted(references(integration.get("uri")) & functions)
            security = op.get("security") or []
            scopes = [s for req in security for name, granted in req.items() if name in jwt for s in granted]
            route = HttpRoute(
                method=method.upper(),
                path=path,
                function=targets[0] if len(targets) == 1 else None,
                authorizers=tuple(name for requirement in security for name in requirement),
                scopes=tuple(scopes),
                payload_format=integration.get("payloadFormatVersion"),
            )
            routes[(route.method, route.path)] = route
    return routes


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
