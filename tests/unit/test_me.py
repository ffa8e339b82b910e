"""GET /me through its lambda_handler: a person's ID token in, the caller as the handler sees them out.

The route has no scopes. On the REST API the Cognito authorizer takes an ID token there and refuses
access tokens (401); the handler refuses them too (403), in case the gateway's configuration drifts.
On the HTTP API the JWT authorizer checks no `token_use`, so it passes an access token of a client in
its audience to the function: the handler's 403 is what the caller gets there (the documented
difference). Every test runs on both event shapes.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from events.generate import (
    Person,
    id_token_claims,
    person_access_token_claims,
    sample_person,
    user_client_of,
)
from product_api.settings import Settings, SettingsError
from sam_local_cloud.cloudformation.spec import proxy_routes
from tests.conftest import machine_claims


@pytest.fixture(params=["rest", "http"], ids=["rest-v1", "http-v2"])
def me(request, template, call_function, make_rest_event, make_http_event):
    (route,) = [r for r in proxy_routes(template) if (r.method, r.resource) == ("GET", "/me")]
    make_event = {"rest": make_rest_event, "http": make_http_event}[request.param]

    def get(claims: dict[str, Any]) -> tuple[int, Any]:
        response = call_function(route.function, make_event("GET", "/me", claims=claims))
        return response["statusCode"], json.loads(response["body"])

    return get


@pytest.fixture
def person(template) -> Person:
    return sample_person(template)


def test_me_with_an_id_token_returns_the_person(me, template, person):
    status, body = me(id_token_claims(person, user_client_of(template)))

    assert status == 200
    assert body == {
        "username": person.username,
        "email": person.email,
        "groups": list(person.groups),
        "token_use": "id",
        "auth_time": id_token_claims(person, user_client_of(template))["auth_time"],
    }


def test_me_lists_every_group_of_a_person_in_several(me, template):
    person = Person(username="u-2", email="grace@example.com", groups=("product-viewers", "product-admins"))
    claims = id_token_claims(person, user_client_of(template))
    claims["cognito:groups"] = "[product-viewers product-admins]"  # as the HTTP API renders them

    status, body = me(claims)

    assert status == 200
    assert body["groups"] == ["product-admins", "product-viewers"]


def test_me_refuses_a_persons_access_token_with_403(me, template, person):
    claims = person_access_token_claims(
        person, user_client_of(template), ["openid", "product-api/read_product"]
    )

    status, body = me(claims)

    assert status == 403
    assert body == {"message": "this route takes an id token"}


def test_me_refuses_a_machine_access_token_with_403(me):
    status, _ = me(machine_claims(["product-api/read_product"]))

    assert status == 403


def test_a_route_without_scopes_must_still_declare_required_scopes():
    with pytest.raises(SettingsError, match="REQUIRED_SCOPES"):
        Settings.from_env({"TABLE_NAME": "products"})

    assert Settings.from_env({"TABLE_NAME": "products", "REQUIRED_SCOPES": ""}).takes_id_token
    assert not Settings.from_env(
        {"TABLE_NAME": "t", "REQUIRED_SCOPES": "product-api/read_product"}
    ).takes_id_token
