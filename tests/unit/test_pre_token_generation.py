"""The pre token generation trigger, through its lambda_handler, with Cognito's V2_0 events.

Groups and scopes come from the template (the trigger's GROUP_SCOPES); each test applies the answer
as Cognito does (the scopes asked for, plus scopesToAdd, minus scopesToSuppress: suppression wins)
and checks the access token's scopes that result.
"""

from __future__ import annotations

import copy
import importlib
import sys
from typing import Any

import pytest

from events.generate import group_scopes, pre_token_function
from product_api.settings import SettingsError
from sam_local_cloud.cognito.events import pre_token_generation_event

SIGN_IN_API = "TokenGeneration_Authentication"
HOSTED = "TokenGeneration_HostedAuth"
REFRESH = "TokenGeneration_RefreshTokens"
SIGN_IN_API_SCOPE = "aws.cognito.signin.user.admin"
CLIENT_ID = "47d8f3fadfdca100d1db8abe8c"
USERNAME = "8be5d10b-3a54-5d99-981e-9bacab16fe02"


@pytest.fixture(scope="module")
def mapping(template) -> dict[str, frozenset[str]]:
    return {group: frozenset(scopes) for group, scopes in group_scopes(template).items()}


@pytest.fixture(scope="module")
def product_scopes(mapping) -> frozenset[str]:
    return frozenset().union(*mapping.values())


@pytest.fixture
def sign_in(template, call_trigger):
    """sign_in(source, groups, scopes) -> (the access token's scopes, the trigger's answer)."""

    def run(source: str, groups: list[str], scopes: list[str]) -> tuple[set[str], dict[str, Any]]:
        event = pre_token_generation_event(
            trigger_source=source,
            region="us-east-1",
            user_pool_id="us-east-1_EXAMPLE",
            username=USERNAME,
            client_id=CLIENT_ID,
            user_attributes={"sub": USERNAME, "email_verified": "true", "email": "ada@example.com"},
            groups=groups,
            scopes=scopes,
        )
        sent = copy.deepcopy(event)
        result = call_trigger(pre_token_function(template), event)
        assert {k: v for k, v in result.items() if k != "response"} == {
            k: v for k, v in sent.items() if k != "response"
        }
        access = result["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
        token_scopes = (set(scopes) | set(access["scopesToAdd"])) - set(access["scopesToSuppress"])
        return token_scopes, result["response"]["claimsAndScopeOverrideDetails"]

    return run


def groups_granting_some_but_not_all(mapping, product_scopes) -> list[str]:
    return [g for g, scopes in mapping.items() if scopes < product_scopes]


# ---------------------------------------------------------------- the sign-in API: every granted scope


def test_the_template_has_groups_that_grant_some_and_all_product_scopes(mapping, product_scopes):
    assert groups_granting_some_but_not_all(mapping, product_scopes)
    assert any(scopes == product_scopes for scopes in mapping.values())


def test_each_group_signing_in_through_the_api_gets_exactly_its_scopes(sign_in, mapping, product_scopes):
    for group, granted in mapping.items():
        scopes, details = sign_in(SIGN_IN_API, [group], [SIGN_IN_API_SCOPE])

        assert scopes == {SIGN_IN_API_SCOPE, *granted}, group
        assert sorted(details["accessTokenGeneration"]["scopesToSuppress"]) == sorted(
            product_scopes - granted
        )


def test_several_groups_get_the_union_of_their_scopes(sign_in, mapping, product_scopes):
    partial = groups_granting_some_but_not_all(mapping, product_scopes)
    smallest, largest = (
        min(partial, key=lambda g: len(mapping[g])),
        max(partial, key=lambda g: len(mapping[g])),
    )
    assert mapping[smallest] != mapping[largest]

    scopes, _ = sign_in(SIGN_IN_API, [smallest, largest], [SIGN_IN_API_SCOPE])

    assert scopes == {SIGN_IN_API_SCOPE, *mapping[smallest], *mapping[largest]}


@pytest.mark.parametrize("groups", [[], ["shoppers"]], ids=["no group", "a group the mapping does not name"])
def test_a_person_without_a_product_group_gets_no_product_scope(sign_in, product_scopes, groups):
    scopes, details = sign_in(SIGN_IN_API, groups, [SIGN_IN_API_SCOPE])

    assert scopes == {SIGN_IN_API_SCOPE}
    assert set(details["accessTokenGeneration"]["scopesToSuppress"]) == product_scopes


@pytest.mark.parametrize(
    "source", ["TokenGeneration_NewPasswordChallenge", "TokenGeneration_AuthenticateDevice"]
)
def test_the_other_sign_in_api_sources_get_every_granted_scope(sign_in, mapping, product_scopes, source):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)

    scopes, _ = sign_in(source, [admins], [SIGN_IN_API_SCOPE])

    assert scopes == {SIGN_IN_API_SCOPE, *product_scopes}


# ---------------------------------------------------------------- code flow: least privilege


def test_the_code_flow_suppresses_a_scope_the_client_asked_for_that_the_groups_do_not_grant(
    sign_in, mapping, product_scopes
):
    group = groups_granting_some_but_not_all(mapping, product_scopes)[0]
    asked = ["openid", "email", *sorted(product_scopes)]

    scopes, details = sign_in(HOSTED, [group], asked)

    assert scopes == {"openid", "email", *mapping[group]}
    assert set(details["accessTokenGeneration"]["scopesToSuppress"]) == product_scopes - mapping[group]
    assert details["accessTokenGeneration"]["scopesToAdd"] == []


def test_the_code_flow_narrows_to_the_product_scopes_asked_for(sign_in, mapping, product_scopes):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)
    one = sorted(product_scopes)[0]

    scopes, _ = sign_in(HOSTED, [admins], ["openid", one])

    assert scopes == {"openid", one}


@pytest.mark.parametrize("identity", [["openid"], ["openid", "email", "profile"]])
def test_a_code_flow_asking_for_identity_scopes_only_gets_no_product_scope(
    sign_in, mapping, product_scopes, identity
):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)

    scopes, details = sign_in(HOSTED, [admins], identity)

    assert scopes == set(identity)
    assert details["accessTokenGeneration"]["scopesToAdd"] == []


def test_the_code_flow_suppresses_an_unmapped_scope_of_the_same_resource_server(
    sign_in, mapping, product_scopes
):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)
    identifier = sorted(product_scopes)[0].split("/")[0]

    scopes, _ = sign_in(HOSTED, [admins], ["openid", f"{identifier}/export_everything"])

    assert scopes == {"openid"}


def test_scopes_of_other_resource_servers_and_identity_scopes_pass_through(sign_in):
    scopes, details = sign_in(HOSTED, [], ["openid", "profile", "phone", "other-api/read"])

    assert scopes == {"openid", "profile", "phone", "other-api/read"}
    suppressed = set(details["accessTokenGeneration"]["scopesToSuppress"])
    assert not suppressed & {"openid", "profile", "phone", "other-api/read"}


def test_an_unknown_trigger_source_gets_only_what_it_asks_for(sign_in, mapping, product_scopes):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)

    scopes, _ = sign_in("TokenGeneration_SomethingNew", [admins], [SIGN_IN_API_SCOPE])

    assert scopes == {SIGN_IN_API_SCOPE}


# ---------------------------------------------------------------- refresh


def test_refreshing_a_sign_in_api_session_reads_the_groups_again(sign_in, mapping, product_scopes):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)
    fewer = groups_granting_some_but_not_all(mapping, product_scopes)[0]

    before, _ = sign_in(REFRESH, [admins], [SIGN_IN_API_SCOPE])
    after, _ = sign_in(REFRESH, [fewer], [SIGN_IN_API_SCOPE])  # removed from the admins since

    assert before == {SIGN_IN_API_SCOPE, *product_scopes}
    assert after == {SIGN_IN_API_SCOPE, *mapping[fewer]}


def test_refreshing_a_code_flow_session_keeps_what_the_sign_in_asked_for(sign_in, mapping, product_scopes):
    admins = next(g for g, scopes in mapping.items() if scopes == product_scopes)
    one = sorted(product_scopes)[0]

    narrowed, _ = sign_in(REFRESH, [admins], ["openid", "email", one])
    identity_only, _ = sign_in(REFRESH, [admins], ["openid", "email"])

    assert narrowed == {"openid", "email", one}
    assert identity_only == {"openid", "email"}


# ---------------------------------------------------------------- the rest of the answer


def test_groups_are_passed_back_unchanged_and_the_id_token_is_left_alone(sign_in, mapping):
    group = next(iter(mapping))

    _, details = sign_in(SIGN_IN_API, [group], [SIGN_IN_API_SCOPE])

    assert details["groupOverrideDetails"] == {"groupsToOverride": [group], "iamRolesToOverride": []}
    assert "idTokenGeneration" not in details
    assert set(details["accessTokenGeneration"]) == {"scopesToAdd", "scopesToSuppress"}


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("", "missing"),
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        ('{"product-viewers": "product-api/read_product"}', "product-viewers"),
        ('{"product-viewers": ["read_product"]}', "identifier/name"),
    ],
)
def test_a_malformed_group_scopes_stops_the_function_so_sign_in_fails_closed(monkeypatch, value, says):
    monkeypatch.setenv("GROUP_SCOPES", value)
    sys.modules.pop("product_api.triggers.pre_token_generation", None)

    with pytest.raises(SettingsError, match=says):
        importlib.import_module("product_api.triggers.pre_token_generation")
