"""Cognito's machine clients and scopes: clients name only scopes a resource server defines, machine
clients use client_credentials with a secret, and every route's scope exists and is held."""

from __future__ import annotations

from typing import Any

from sam_local_cloud.cloudformation.template import Template, load_source
from tests.unit.template.support import (
    ROUTES,
    SOURCE,
    as_list,
    broken,
    event_auth,
    mentions,
    resource_server_scopes,
    source_routes,
)

# OIDC and Cognito scopes a client may name without a resource server.
STANDARD_SCOPES = {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}


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


def test_clients_name_only_resource_server_scopes_and_machine_clients_use_client_credentials(transformed):
    assert cognito_problems(transformed, SOURCE) == []


def test_check_catches_route_scope_that_no_resource_server_defines():
    route = ROUTES[0]

    def misspell(source):
        event_auth(source, route)["AuthorizationScopes"] = ["product-api/read_products"]

    source = load_source()
    misspell(source)

    assert mentions(cognito_problems(broken(misspell), source), "product-api/read_products", "not defined")


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
