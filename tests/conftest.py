"""Fixtures shared by the unit tests: the translated template, a moto table made from its key
schema, functions run with their own environment from the template, and an event builder for each
API (REST's payload format 1.0, the HTTP API's 2.0)."""

from __future__ import annotations

import importlib
import json
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import boto3
import pytest

from sam_local_cloud.apigateway.events import authorizer_claims, rest_event
from sam_local_cloud.apigateway.events_v2 import http_api_event
from sam_local_cloud.apigateway.routes import RouteTable
from sam_local_cloud.cloudformation.resolve import Resolver
from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import Template, translate
from sam_local_cloud.cognito.tokens import client_credentials_claims, user_access_token_claims
from sam_local_cloud.lambda_.functions import function_config
from tests.offline_aws import offline_aws

REGION = "us-east-1"
TABLE_NAME = "products"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{REGION}_EXAMPLE"


@pytest.fixture(scope="session")
def template() -> Template:
    return translate()


# ---------------------------------------------------------------- callers


def machine_claims(scopes: Iterable[str], client_id: str = "4example0client0id000000") -> dict[str, Any]:
    """The claims of a Cognito client_credentials access token, as the local token endpoint makes them."""
    return client_credentials_claims(client_id, scopes, ISSUER)


def person_claims(username: str, scopes: Iterable[str], client_id: str) -> dict[str, Any]:
    """The claims of a person's access token, as the local user pool makes them (no groups: the scopes
    are given)."""
    now = int(time.time())
    return user_access_token_claims(
        sub=str(uuid.uuid5(uuid.NAMESPACE_URL, username)),
        username=username,
        client_id=client_id,
        groups=(),
        scopes=scopes,
        issuer=ISSUER,
        auth_time=now,
        origin_jti=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
    )


# ---------------------------------------------------------------- events


def _route_of(template: Template, method: str, path: str) -> tuple[str, dict[str, str]]:
    """The template path (API Gateway's `resource`) that a concrete path matches, and its parameters,
    matched as the local gateway matches them (sam_local_cloud/apigateway/routes.py)."""
    matched = RouteTable(read_spec(template).api.routes).match(path, method)
    if matched is None:
        raise ValueError(f"{method} {path} matches no route in template.yaml")
    route, parameters = matched
    return route.resource, parameters


@pytest.fixture
def make_rest_event(template: Template) -> Callable[..., dict[str, Any]]:
    """make_rest_event(method, path, scopes=..., claims=..., body=..., query=...): one proxy event."""

    def make(
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        resource, params = _route_of(template, method, path)
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        return rest_event(
            method=method,
            resource=resource,
            path=path,
            path_parameters=params,
            query=list((query or {}).items()),
            headers=[
                ("Content-Type", "application/json"),
                ("User-Agent", "pytest"),
                *(headers or {}).items(),
            ],
            body=body,
            claims=authorizer_claims(claims if claims is not None else machine_claims(scopes)),
        )

    return make


@pytest.fixture
def make_http_event(template: Template) -> Callable[..., dict[str, Any]]:
    """make_http_event(method, path, ...): the HTTP API's payload 2.0 event for what make_rest_event
    makes, the same arguments in; `jwt.scopes` follows the route's scopes in the HTTP API."""
    (http_api,) = read_spec(template).http_apis
    route_scopes_of = {(route.method, route.resource): route.scopes for route in http_api.routes}

    def make(
        method: str,
        path: str,
        *,
        scopes: Iterable[str] = (),
        claims: Mapping[str, Any] | None = None,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        resource, params = _route_of(template, method, path)
        if body is not None and not isinstance(body, str):
            body = json.dumps(body)
        return http_api_event(
            method=method,
            route_key=f"{method} {resource}",
            path=path,
            path_parameters=params,
            query=list((query or {}).items()),
            headers=[
                ("Content-Type", "application/json"),
                ("User-Agent", "pytest"),
                *(headers or {}).items(),
            ],
            body=body,
            token_claims=claims if claims is not None else machine_claims(scopes),
            route_scopes=route_scopes_of[(method, resource)],
        )

    return make


# ---------------------------------------------------------------- AWS


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


@pytest.fixture
def aws():
    """moto in place of AWS, with dummy credentials and nothing pointing elsewhere."""
    with offline_aws(REGION):
        yield


def table_names(template: Template) -> dict[str, str]:
    """Each table's name in the tests, from its logical id: ProductsTable is `products`."""
    return {name: name.removesuffix("Table").lower() for name in template.of_type("AWS::DynamoDB::Table")}


@pytest.fixture
def products_table(aws, template: Template) -> str:
    """Every table of the template, made from its own key schema; the products table's name."""
    names = table_names(template)
    for logical_id, table in template.of_type("AWS::DynamoDB::Table").items():
        props = table["Properties"]
        boto3.client("dynamodb").create_table(
            TableName=names[logical_id],
            KeySchema=props["KeySchema"],
            AttributeDefinitions=props["AttributeDefinitions"],
            BillingMode=props["BillingMode"],
        )
    assert TABLE_NAME in names.values()
    return TABLE_NAME


def function_env(template: Template, logical_id: str) -> dict[str, str]:
    """The function's own environment from the template (its one record), its tables' Refs resolved
    to the test tables."""
    resolver = Resolver(
        parameters=template.parameters,
        conditions=template.conditions,
        refs={name: name for name in template.resources},
    )
    resolver.refs.update(table_names(template))
    return function_config(template, logical_id, resolver).variables


def _fresh_handler(handler: str) -> Callable[..., dict[str, Any]]:
    """Import the handler module anew, as a cold start would, and return its entry point."""
    module_name, function_name = handler.rsplit(".", 1)
    sys.modules.pop(module_name, None)
    return getattr(importlib.import_module(module_name), function_name)


@pytest.fixture
def call_function(
    products_table: str, template: Template, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """call_function(logical_id, event): run that function's handler with its environment."""

    def call(logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        for name, value in function_env(template, logical_id).items():
            monkeypatch.setenv(name, value)
        handler = _fresh_handler(template.resources[logical_id]["Properties"]["Handler"])
        return handler(event, lambda_context)

    return call


@pytest.fixture
def call_trigger(
    template: Template, monkeypatch: pytest.MonkeyPatch, lambda_context: LambdaContext
) -> Callable[[str, dict[str, Any]], dict[str, Any]]:
    """call_trigger(logical_id, event): run a Cognito trigger's handler with its environment (no AWS)."""

    def call(logical_id: str, event: dict[str, Any]) -> dict[str, Any]:
        for name, value in function_env(template, logical_id).items():
            monkeypatch.setenv(name, value)
        handler = _fresh_handler(template.resources[logical_id]["Properties"]["Handler"])
        return handler(event, lambda_context)

    return call
