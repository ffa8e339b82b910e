"""People: the user client (public, code flow with PKCE), the groups and the scopes GROUP_SCOPES
gives them, the pre token generation trigger, and the sign-in URL."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import Template, load_source, translate
from tests.harness import ROOT
from tests.unit.template.support import (
    SOURCE,
    broken,
    mentions,
    references,
    resource_server_scopes,
    source_routes,
    statements,
    text_of,
)

# Standard scopes a person's client asks for; `aws.cognito.signin.user.admin` is left out on purpose:
# the trigger tells a refresh of a sign-in-API session by it (product_api/group_scopes.py).
IDENTITY_SCOPES = {"openid", "email", "profile"}
USER_CLIENT_AUTH_FLOWS = {"ALLOW_USER_SRP_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"}
TRIGGER_TIMEOUT = 5  # Cognito waits 5 s for a trigger
URL_PARAMETERS = ("UserCallbackUrls", "UserLogoutUrls")
PAGE_CALLBACKS = "ApiPageCallbackUrls"  # API pages (Swagger UI's oauth2-redirect.html) people sign in from


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
    page_callbacks = template.parameters.get(PAGE_CALLBACKS, "")
    for prop, parameter in zip(("CallbackURLs", "LogoutURLs"), URL_PARAMETERS, strict=True):
        expected = template.parameters[parameter].split(",")
        if prop == "CallbackURLs" and page_callbacks:  # the API pages' redirects come after the app's
            expected += page_callbacks.split(",")
        if props.get(prop) != expected:
            problems.append(f"{name}: {prop} {props.get(prop)} are not {expected} (the URL parameters)")
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


@pytest.mark.parametrize(
    "page_callbacks", ["", "http://localhost:3000/docs/oauth2-redirect.html,https://docs.example.com/o2.html"]
)
def test_api_pages_callback_urls_join_the_user_clients_and_the_sign_in_url_keeps_the_first(page_callbacks):
    template = translate({PAGE_CALLBACKS: page_callbacks})
    (props,) = user_clients(template).values()

    assert user_client_problems(template) == []
    assert props["CallbackURLs"][0] == template.parameters["UserCallbackUrls"].split(",")[0]
    assert len(props["CallbackURLs"]) == 1 + len([url for url in page_callbacks.split(",") if url])
    assert "docs" not in sign_in_url(template)


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),  # none: the default
        ("http://localhost:3000/docs/oauth2-redirect.html", True),
        (
            "https://docs.example.com/oauth2-redirect.html,http://localhost:3000/docs/oauth2-redirect.html",
            True,
        ),
        ("https://docs.example.com/o2.html,", False),  # an empty URL would reach CallbackURLs
        ("https://docs.example.com/o2.html#x", False),
    ],
)
def test_api_page_callbacks_parameter_allows_urls_or_nothing(value, allowed):
    pattern = SOURCE["Parameters"][PAGE_CALLBACKS]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, value)) == allowed


def test_groups_and_scopes_of_group_scopes_are_the_templates(transformed):
    assert group_scope_problems(transformed) == []
    assert group_scopes_of(transformed)  # the check read a mapping


def test_pre_token_generation_trigger_is_wired_to_the_pool(transformed):
    assert trigger_problems(transformed) == []


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


def test_people_doc_groups_table_is_group_scopes():
    documented = {}
    for line in (ROOT / "docs" / "people.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 2 and re.fullmatch(r"`[\w-]+`", cells[0]) and "/" in cells[1]:
            documented[cells[0].strip("`")] = sorted(re.findall(r"`([^`]+)`", cells[1]))

    assert documented == {group: sorted(scopes) for group, scopes in group_scopes_of(translate()).items()}
