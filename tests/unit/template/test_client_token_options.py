"""Cognito's newer client settings in the template (docs/aws-behaviour.md §4.2, docs/decisions.md §28):
refresh-token rotation as the RotateRefreshTokens option, and machine tokens through GetClientToken,
which CloudFormation's schema for app clients does not take yet."""

from __future__ import annotations

from typing import Any

from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from sam_local_cloud.cloudformation.template import Template, load_source, translate
from tests.unit.template.support import mentions

CLIENT_TOKEN_FLOW = "ALLOW_CLIENT_TOKEN_AUTH"
MAX_GRACE_SECONDS = 60  # RetryGracePeriodSeconds: 0 to 60


def rotation_problems(template: Template) -> list[str]:
    """A rotating client refreshes through GetTokensFromRefreshToken or /oauth2/token, never InitiateAuth's
    REFRESH_TOKEN_AUTH (Cognito refuses it), and keeps an old token at most 60 seconds."""
    problems = []
    for name, client in template.of_type("AWS::Cognito::UserPoolClient").items():
        rotation = client["Properties"].get("RefreshTokenRotation") or {}
        if rotation.get("Feature") != "ENABLED":
            continue
        if "ALLOW_REFRESH_TOKEN_AUTH" in client["Properties"].get("ExplicitAuthFlows", []):
            problems.append(f"{name}: rotates refresh tokens but allows ALLOW_REFRESH_TOKEN_AUTH")
        if not 0 <= rotation.get("RetryGracePeriodSeconds", 0) <= MAX_GRACE_SECONDS:
            problems.append(f"{name}: a grace period outside 0-{MAX_GRACE_SECONDS} s")
    return problems


def rotating_clients(template: Template) -> set[str]:
    return {
        name
        for name, client in template.of_type("AWS::Cognito::UserPoolClient").items()
        if (client["Properties"].get("RefreshTokenRotation") or {}).get("Feature") == "ENABLED"
    }


def test_rotate_refresh_tokens_turns_rotation_on_for_the_people_client_only() -> None:
    on = translate({"RotateRefreshTokens": "true"})
    people = {
        name
        for name, client in on.of_type("AWS::Cognito::UserPoolClient").items()
        if "code" in client["Properties"].get("AllowedOAuthFlows", [])
    }

    assert rotating_clients(translate()) == set()  # off by default
    assert rotating_clients(on) == people != set()
    assert rotation_problems(on) == []
    assert (
        rotation_problems(translate({"RotateRefreshTokens": "true", "AllowUserPasswordAuth": "true"})) == []
    )


def test_check_catches_a_rotating_client_that_still_allows_refresh_token_auth() -> None:
    source = load_source()
    props = source["Resources"]["ProductUserClient"]["Properties"]
    props["RefreshTokenRotation"] = {"Feature": "ENABLED", "RetryGracePeriodSeconds": 90}
    props["ExplicitAuthFlows"] = ["ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]

    problems = rotation_problems(translate(source=source))

    assert mentions(problems, "ProductUserClient", "allows ALLOW_REFRESH_TOKEN_AUTH")
    assert mentions(problems, "ProductUserClient", "grace period")


def _schema_flows() -> list[Any]:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", "AWS::Cognito::UserPoolClient").schema
    return list(schema["properties"]["ExplicitAuthFlows"]["items"]["enum"])


def test_cloudformation_does_not_take_allow_client_token_auth_yet_so_the_template_does_not_name_it() -> None:
    """When this fails, CloudFormation's schema lists the flow: offer GetClientToken as a template option
    (docs/decisions.md §28) and delete this test."""
    flows = _schema_flows()
    named = {
        flow
        for client in translate().of_type("AWS::Cognito::UserPoolClient").values()
        for flow in client["Properties"].get("ExplicitAuthFlows", [])
    }

    assert "ALLOW_REFRESH_TOKEN_AUTH" in flows  # the schema was read
    assert CLIENT_TOKEN_FLOW not in flows
    assert CLIENT_TOKEN_FLOW not in named
