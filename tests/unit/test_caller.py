"""The typed caller, built from claims in the shape each API's authorizer passes them: the REST API's
Cognito authorizer (payload format 1.0) and the HTTP API's JWT authorizer (2.0)."""

import pytest

from product_api.caller import Caller, parse_groups
from sam_local_cloud.apigateway.events import authorizer_claims as rest_claims
from sam_local_cloud.apigateway.events import rest_event
from sam_local_cloud.apigateway.events_v2 import http_api_event


@pytest.mark.parametrize(
    ("rendered", "groups"),
    [
        ("admins", {"admins"}),
        ("admins,buyers", {"admins", "buyers"}),
        ("[admins buyers]", {"admins", "buyers"}),
        ("[admins]", {"admins"}),
        ('["admins", "buyers"]', {"admins", "buyers"}),
        (["admins", "buyers"], {"admins", "buyers"}),
        ("", set()),
        (None, set()),
    ],
)
def test_parse_groups_reads_every_rendering_aws_uses(rendered, groups):
    assert parse_groups(rendered) == groups


def test_a_machine_caller_is_its_client():
    caller = Caller.from_claims(
        {"sub": "abc", "client_id": "abc", "token_use": "access", "scope": "product-api/read_product x/y"}
    )

    assert caller.is_machine
    assert caller.principal == "abc"
    assert caller.scopes == {"product-api/read_product", "x/y"}
    assert caller.has_any_scope({"x/y", "z/w"})
    assert not caller.has_any_scope({"z/w"})


def test_a_person_is_recorded_by_username_and_keeps_their_groups():
    caller = Caller.from_claims(
        {
            "sub": "u-1",
            "client_id": "web",
            "username": "ada@example.com",
            "token_use": "access",
            "scope": "aws.cognito.signin.user.admin",
            "cognito:groups": "[admins buyers]",
        }
    )

    assert not caller.is_machine
    assert caller.principal == "ada@example.com"
    assert caller.groups == {"admins", "buyers"}


def test_claims_with_no_scope_grant_nothing():
    assert not Caller.from_claims({}).has_any_scope({"product-api/read_product"})


def test_a_person_from_an_id_token_has_email_and_auth_time():
    caller = Caller.from_claims(
        {
            "sub": "u-1",
            "aud": "web",
            "cognito:username": "u-1",
            "token_use": "id",
            "email": "ada@example.com",
            "auth_time": "1763633940",
        }
    )

    assert caller.client_id == "web"
    assert caller.username == "u-1"
    assert caller.email == "ada@example.com"
    assert caller.auth_time == 1763633940


@pytest.mark.parametrize("auth_time", [None, "", "Thu Nov 20 10:19:00 UTC 2025", "-5"])
def test_an_auth_time_that_is_not_epoch_seconds_is_none(auth_time):
    assert Caller.from_claims({"auth_time": auth_time}).auth_time is None


PERSON_TOKEN = {
    "sub": "u-1",
    "client_id": "web",
    "username": "ada@example.com",
    "token_use": "access",
    "scope": "openid product-api/read_product",
    "cognito:groups": ["admins", "buyers"],
    "auth_time": 1763633940,
    "exp": 1763637540,
}


def _rest(token, route_scopes):
    return rest_event(method="GET", resource="/me", path="/me", claims=rest_claims(token))


def _http(token, route_scopes):
    return http_api_event(
        method="GET", route_key="GET /me", path="/me", token_claims=token, route_scopes=route_scopes
    )


@pytest.mark.parametrize("make_event", [_rest, _http], ids=["rest-v1", "http-v2"])
@pytest.mark.parametrize("route_scopes", [(), ("product-api/read_product",)], ids=["no scopes", "scoped"])
def test_the_caller_is_the_same_from_either_payload_format(make_event, route_scopes):
    caller = Caller.from_event(make_event(PERSON_TOKEN, route_scopes))

    assert caller == Caller(
        subject="u-1",
        token_use="access",
        client_id="web",
        username="ada@example.com",
        scopes=frozenset({"openid", "product-api/read_product"}),
        groups=frozenset({"admins", "buyers"}),
        auth_time=1763633940,
    )


def test_the_http_apis_scopes_list_stands_in_for_a_missing_scope_claim():
    event = _http({"sub": "m", "client_id": "m", "token_use": "access", "scp": ["a/b", "c/d"]}, ("a/b",))

    assert Caller.from_event(event).scopes == {"a/b", "c/d"}


@pytest.mark.parametrize(
    "event",
    [
        {},
        {"requestContext": {}},
        {"requestContext": {"authorizer": None}},
        {"requestContext": {"authorizer": {"jwt": None}}},
        {"requestContext": {"authorizer": {"jwt": {"claims": None, "scopes": None}}}},
        {"requestContext": {"authorizer": {"claims": None}}},
    ],
)
def test_an_event_without_claims_is_a_caller_with_nothing(event):
    caller = Caller.from_event(event)

    assert (caller.token_use, caller.scopes, caller.groups) == ("", frozenset(), frozenset())
