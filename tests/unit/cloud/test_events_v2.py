"""sam_local_cloud/apigateway/events_v2.py and proxy_v2.py: an HTTP API's payload 2.0 event and the response
rules (docs/aws-behaviour.md, "HTTP APIs")."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from sam_local_cloud.apigateway.events_v2 import http_event, is_text, jwt_claims
from sam_local_cloud.apigateway.proxy import Malformed
from sam_local_cloud.apigateway.proxy_v2 import DEFAULT_CONTENT_TYPE, http_api_response

NOW = 1_587_481_701.067


def event(**changes: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {
        "method": "GET",
        "route_key": "GET /products/{id}",
        "raw_path": "/products/p-1",
        "path_parameters": {"id": "p-1"},
        "headers": [("Host", "abc.example"), ("User-Agent", "curl/8.5.0")],
        "request_id": "LV7fzho-PHcEJPw=",
        "now": NOW,
        **changes,
    }
    return http_event(**arguments)


# ---------------------------------------------------------------- the event


def test_version_route_key_and_request_context() -> None:
    e = event()
    assert (e["version"], e["routeKey"], e["requestContext"]["routeKey"]) == (
        "2.0",
        "GET /products/{id}",
        "GET /products/{id}",
    )
    context = e["requestContext"]
    assert context["http"] == {
        "method": "GET",
        "path": "/products/p-1",
        "protocol": "HTTP/1.1",
        "sourceIp": "127.0.0.1",
        "userAgent": "curl/8.5.0",
    }
    assert (context["stage"], context["requestId"]) == ("$default", "LV7fzho-PHcEJPw=")
    assert (context["time"], context["timeEpoch"]) == ("21/Apr/2020:15:08:21 +0000", 1587481701067)


def test_empty_parts_are_absent_not_null() -> None:
    e = event(path_parameters={}, headers=[])
    for key in ("cookies", "queryStringParameters", "pathParameters", "stageVariables", "body"):
        assert key not in e
    assert "authorizer" not in e["requestContext"]
    assert (e["rawQueryString"], e["isBase64Encoded"]) == ("", False)


def test_header_names_are_lower_case_and_repeats_joined_with_a_comma() -> None:
    e = event(headers=[("X-Multi", "a"), ("x-multi", "b"), ("Accept", "*/*")])
    assert e["headers"] == {"x-multi": "a,b", "accept": "*/*"}
    assert "multiValueHeaders" not in e


def test_the_cookie_header_moves_into_cookies() -> None:
    e = event(headers=[("Cookie", "c1=v1; c2=v2"), ("cookie", "c3=v3")])
    assert e["cookies"] == ["c1=v1", "c2=v2", "c3=v3"]
    assert "cookie" not in e["headers"]


def test_query_parameters_are_decoded_and_repeats_joined_raw_query_as_sent() -> None:
    e = event(raw_query="a=1&a=2&b=x+y&c=%40")
    assert e["rawQueryString"] == "a=1&a=2&b=x+y&c=%40"
    assert e["queryStringParameters"] == {"a": "1,2", "b": "x y", "c": "@"}
    assert "multiValueQueryStringParameters" not in e


def test_named_stage_and_stage_variables() -> None:
    e = event(stage="prod", raw_path="/prod/products/p-1", stage_variables={"v": "1"})
    assert (e["rawPath"], e["requestContext"]["http"]["path"]) == ("/prod/products/p-1",) * 2
    assert (e["requestContext"]["stage"], e["stageVariables"]) == ("prod", {"v": "1"})


def test_body_and_its_encoding_flag() -> None:
    e = event(body="aGk=", is_base64_encoded=True)
    assert (e["body"], e["isBase64Encoded"]) == ("aGk=", True)


@pytest.mark.parametrize(
    ("content_type", "text"),
    [
        ("application/json", True),
        ("application/json; charset=utf-8", True),
        ("text/csv", True),
        ("application/xml", True),
        ("application/javascript", True),
        ("application/x-www-form-urlencoded", False),
        ("image/png", False),
        (None, False),
    ],
)
def test_text_media_types_and_everything_else_base64(content_type: str | None, text: bool) -> None:
    assert is_text(content_type) is text


def test_domain_prefix_is_the_first_label() -> None:
    context = event(domain_name="abc123.execute-api.eu-west-1.amazonaws.com")["requestContext"]
    assert context["domainPrefix"] == "abc123"


# ---------------------------------------------------------------- claims


def test_claims_are_strings_numbers_decimal_arrays_bracketed_objects_json_nulls_dropped() -> None:
    claims = {
        "exp": 1787996002,
        "ratio": 1787996002.0,
        "email_verified": True,
        "cognito:groups": ["admin", "poweruser"],
        "address": {"city": "Oslo"},
        "nickname": None,
        "scope": "a/read a/write",
    }
    assert jwt_claims(claims) == {
        "address": '{"city":"Oslo"}',
        "cognito:groups": "[admin poweruser]",
        "email_verified": "true",
        "exp": "1787996002",
        "ratio": "1787996002",
        "scope": "a/read a/write",
    }


def test_claims_are_listed_in_name_order() -> None:
    assert list(jwt_claims({"b": 1, "a": 2})) == ["a", "b"]


def test_jwt_scopes_null_on_a_route_without_scopes_and_a_list_otherwise() -> None:
    claims = {"scope": "a/read a/write", "client_id": "c"}
    unscoped = event(claims=claims, scopes=None)["requestContext"]["authorizer"]["jwt"]
    assert unscoped == {"claims": {"client_id": "c", "scope": "a/read a/write"}, "scopes": None}
    scoped = event(claims=claims, scopes=["a/read", "a/write"])["requestContext"]["authorizer"]["jwt"]
    assert scoped["scopes"] == ["a/read", "a/write"]


# ---------------------------------------------------------------- the response rules


def body(response: Any) -> bytes:
    return response.get_data()


@pytest.mark.parametrize(
    ("payload", "sent"),
    [
        ("Hello", b"Hello"),
        ({"body": "x"}, json.dumps({"body": "x"}).encode()),
        ([1, 2], b"[1, 2]"),
        (42, b"42"),
        (None, b"null"),
    ],
    ids=["string", "dict-without-statusCode", "list", "number", "null"],
)
def test_output_without_status_code_is_a_200_json_of_the_output(payload: Any, sent: bytes) -> None:
    response = http_api_response(payload)
    assert (response.status_code, response.headers["content-type"], body(response)) == (
        200,
        "application/json",
        sent,
    )


def test_status_headers_and_body() -> None:
    response = http_api_response(
        {"statusCode": 201, "headers": {"content-type": "x/y", "x-a": 1}, "body": "b"}
    )
    assert (response.status_code, body(response)) == (201, b"b")
    assert (response.headers["content-type"], response.headers["x-a"]) == ("x/y", "1")


def test_no_content_type_with_a_status_code_is_text_plain() -> None:
    response = http_api_response({"statusCode": 200, "body": "{}"})
    assert response.headers["content-type"] == DEFAULT_CONTENT_TYPE == "text/plain; charset=utf-8"


def test_each_cookie_is_a_set_cookie_header() -> None:
    response = http_api_response({"statusCode": 200, "cookies": ["a=1; Path=/", "b=2"], "body": ""})
    assert response.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2"]


def test_base64_bodies_are_always_decoded() -> None:
    data = b"\x00\xffbinary"
    payload = {"statusCode": 200, "body": base64.b64encode(data).decode(), "isBase64Encoded": True}
    assert body(http_api_response(payload)) == data


def test_multi_value_headers_and_unknown_keys_are_ignored() -> None:
    response = http_api_response(
        {"statusCode": 200, "multiValueHeaders": {"x-m": ["a", "b"]}, "surprise": 1, "body": "ok"}
    )
    assert "x-m" not in response.headers
    assert body(response) == b"ok"


@pytest.mark.parametrize(
    "payload",
    [
        {"statusCode": "200", "body": ""},
        {"statusCode": True, "body": ""},
        {"statusCode": 99, "body": ""},
        {"statusCode": 200, "body": {"a": 1}},
        {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
        {"statusCode": 200, "headers": {"x": ["a"]}},
        {"statusCode": 200, "cookies": "a=1"},
    ],
    ids=["string-status", "bool-status", "status-out-of-range", "body-not-a-string", "bad-base64",
         "header-list", "cookies-not-a-list"],
)  # fmt: skip
def test_malformed_outputs_are_refused(payload: dict[str, Any]) -> None:
    with pytest.raises(Malformed):
        http_api_response(payload)
