"""API keys: with RequireApiKey every method but OPTIONS wants the key, and the key, usage plan and
plan key exist; without it, none of them."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import Template, translate
from tests.unit.template.support import (
    ROUTES,
    SOURCE,
    api_key_schemes,
    broken,
    evaluate_condition,
    event_auth,
    mentions,
    operation,
    operations,
)


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


def test_api_key_is_required_on_every_method_exactly_when_require_api_key_is_true(transformed):
    assert api_key_problems(transformed, SOURCE) == []


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: r.label)
def test_api_key_setting_reaches_the_method_security(route):
    def schemes(require_api_key: str) -> set[str]:
        t = translate({"RequireApiKey": require_api_key})
        return {name for req in operation(t, route)["security"] for name in req} & api_key_schemes(t)

    assert schemes("true")
    assert not schemes("false")


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
