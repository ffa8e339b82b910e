"""The typed caller, built from claims in the shape the Cognito authorizer passes them."""

import pytest

from product_api.caller import Caller, parse_groups


@pytest.mark.parametrize(
    ("rendered", "groups"),
    [
        ("admins", {"admins"}),
        ("admins,buyers", {"admins", "buyers"}),
        ("[admins buyers]", {"admins", "buyers"}),
        ("[admins]", {"admins"}),
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
