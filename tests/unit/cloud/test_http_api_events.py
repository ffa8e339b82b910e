"""The HTTP API's payload format 2.0 event (sam_local_cloud/apigateway/events_v2.py `http_api_event`), rule by
rule as docs/aws-behaviour.md's HTTP API section states them."""

from __future__ import annotations

import base64
import re

import pytest

from sam_local_cloud.apigateway.events_v2 import http_api_event, jwt_claims, jwt_scopes

ACCESS_TOKEN = {
    "sub": "c-1",
    "client_id": "c-1",
    "token_use": "access",
    "scope": "product-api/read_product product-api/create_product",
    "exp": 1787996002,
    "auth_time": 1787992402,
}


def event(**overrides):
    arguments = {"method": "GET", "route_key": "GET /products/{id}", "path": "/products/p-1"} | overrides
    return http_api_event(**arguments)


def test_claims_are_strings_numbers_in_decimal_arrays_in_brackets_nulls_left_out():
    claims = jwt_claims(
        {"exp": 1787996002, "email_verified": True, "cognito:groups": ["a", "b"], "x": None, "o": {"k": 1}}
    )

    assert claims == {
        "cognito:groups": "[a b]",
        "email_verified": "true",
        "exp": "1787996002",
        "o": '{"k":1}',
    }
    assert list(claims) == sorted(claims)


def test_jwt_scopes_are_null_on_a_route_without_scopes_else_every_scope_of_the_token():
    assert jwt_scopes(ACCESS_TOKEN, ()) is None
    assert jwt_scopes(ACCESS_TOKEN, ["product-api/read_product"]) == [
        "product-api/read_product",
        "product-api/create_product",
    ]
    assert jwt_scopes({"scope": "a", "scp": ["b"]}, ["b"]) == ["b"]


def test_the_authorizer_context_holds_the_rendered_claims_and_scopes():
    sent = event(token_claims=ACCESS_TOKEN, route_scopes=["product-api/read_product"])
    authorizer = sent["requestContext"]["authorizer"]

    assert authorizer == {
        "jwt": {"claims": jwt_claims(ACCESS_TOKEN), "scopes": jwt_scopes(ACCESS_TOKEN, ["x"])}
    }
    assert authorizer["jwt"]["claims"]["exp"] == "1787996002"


def test_a_route_without_an_authorizer_has_no_authorizer_key():
    assert "authorizer" not in event()["requestContext"]


def test_header_names_are_lower_case_repeats_joined_and_cookies_taken_out():
    sent = event(headers=[("Accept", "a/b"), ("X-Many", "1"), ("x-many", "2"), ("Cookie", "c1=v1; c2=v2")])

    assert sent["headers"] == {"accept": "a/b", "x-many": "1,2"}
    assert sent["cookies"] == ["c1=v1", "c2=v2"]
    assert "multiValueHeaders" not in sent


def test_raw_path_is_decoded_and_carries_a_named_stage():
    assert event(path="/products/a%40b")["rawPath"] == "/products/a@b"
    named = event(path="/products/p-1", stage="dev")

    assert named["rawPath"] == named["requestContext"]["http"]["path"] == "/dev/products/p-1"
    assert named["requestContext"]["stage"] == "dev"
    assert event()["requestContext"]["stage"] == "$default"


def test_query_parameters_are_joined_and_the_raw_query_kept_as_sent():
    sent = event(query=[("a", "1"), ("a", "2"), ("q", "x y")])

    assert sent["queryStringParameters"] == {"a": "1,2", "q": "x y"}
    assert sent["rawQueryString"] == "a=1&a=2&q=x%20y"
    assert event(query=[("q", "x y")], raw_query_string="q=x+y")["rawQueryString"] == "q=x+y"


def test_empty_optional_keys_are_left_out_not_null():
    sent = event()

    for key in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        assert key not in sent
    assert sent["rawQueryString"] == ""
    assert sent["isBase64Encoded"] is False
    assert sent["version"] == "2.0"
    assert sent["routeKey"] == sent["requestContext"]["routeKey"] == "GET /products/{id}"


@pytest.mark.parametrize(
    ("content_type", "as_text"),
    [
        ("application/json", True),
        ("text/plain; charset=utf-8", True),
        ("application/xml", True),
        ("application/x-www-form-urlencoded", False),
        (None, False),
        ("image/png", False),
    ],
)
def test_a_body_is_text_for_textual_types_and_base64_for_the_rest(content_type, as_text):
    headers = [("Content-Type", content_type)] if content_type else []

    sent = event(method="POST", body=b"a=1", headers=headers)

    assert sent["isBase64Encoded"] is not as_text
    assert sent["body"] == ("a=1" if as_text else base64.b64encode(b"a=1").decode())


def test_the_request_context_has_the_captured_formats():
    context = event(now=1587481701.067, headers=[("User-Agent", "curl/8.5.0")])["requestContext"]

    assert context["time"] == "21/Apr/2020:15:08:21 +0000"
    assert context["timeEpoch"] == 1587481701067
    assert context["http"]["protocol"] == "HTTP/1.1"
    assert context["http"]["userAgent"] == "curl/8.5.0"
    assert re.fullmatch(r"[A-Za-z0-9_-]{15}=", context["requestId"])
