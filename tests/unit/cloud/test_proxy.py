"""sam_local_cloud/apigateway/proxy.py: a Lambda proxy result turned into API Gateway's response,
or Malformed (a 502)."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from sam_local_cloud.apigateway.proxy import Malformed, is_binary, proxy_response

PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
PNG_BASE64 = base64.b64encode(PNG).decode()


def binary_result(**changes: Any) -> dict[str, Any]:
    return {
        "statusCode": 200,
        "headers": {"Content-Type": "image/png"},
        "body": PNG_BASE64,
        "isBase64Encoded": True,
        **changes,
    }


# ---------------------------------------------------------------- what is not a proxy response


@pytest.mark.parametrize(
    "payload",
    [
        None,
        "ok",
        [{"statusCode": 200}],
        {"statusCode": 200, "body": "x", "status": "extra"},
        {"statusCode": 200, "Body": "x"},
    ],
    ids=["null", "string", "list", "unknown key", "key in the wrong case"],
)
def test_anything_but_a_dict_of_proxy_keys_is_malformed(payload: Any) -> None:
    with pytest.raises(Malformed):
        proxy_response(payload)


@pytest.mark.parametrize(
    "status",
    [True, False, 99, 600, -200, "abc", "2OO", "", [200]],
    ids=repr,
)
def test_status_that_is_not_an_http_status_is_malformed(status: Any) -> None:
    with pytest.raises(Malformed, match="statusCode"):
        proxy_response({"statusCode": status, "body": ""})


@pytest.mark.parametrize(("status", "expected"), [("201", 201), (100, 100), (599, 599)])
def test_status_in_range_and_numeric_strings_are_accepted(status: Any, expected: int) -> None:
    assert proxy_response({"statusCode": status, "body": ""}).status_code == expected


@pytest.mark.parametrize("body", [{"a": 1}, ["a"], 42, b"bytes"], ids=repr)
def test_body_that_is_not_a_string_is_malformed(body: Any) -> None:
    with pytest.raises(Malformed, match="body"):
        proxy_response({"statusCode": 200, "body": body})


@pytest.mark.parametrize("flag", ["true", 1, 0, None], ids=repr)
def test_is_base64_encoded_that_is_not_a_boolean_is_malformed(flag: Any) -> None:
    with pytest.raises(Malformed, match="isBase64Encoded"):
        proxy_response({"statusCode": 200, "body": "", "isBase64Encoded": flag})


@pytest.mark.parametrize("value", [{"a": "b"}, ["a", "b"]], ids=repr)
def test_header_value_that_is_not_a_scalar_is_malformed(value: Any) -> None:
    with pytest.raises(Malformed, match="header"):
        proxy_response({"statusCode": 200, "headers": {"X-Thing": value}})


@pytest.mark.parametrize("headers", [["X-A", "1"], "X-A: 1"], ids=["list", "string"])
def test_headers_that_are_not_an_object_are_malformed(headers: Any) -> None:
    with pytest.raises(Malformed, match="headers"):
        proxy_response({"statusCode": 200, "headers": headers})


@pytest.mark.parametrize("values", ["one", {"a": "b"}, 1], ids=repr)
def test_multi_value_header_that_is_not_a_list_is_malformed(values: Any) -> None:
    with pytest.raises(Malformed, match="multiValueHeaders"):
        proxy_response({"statusCode": 200, "multiValueHeaders": {"Set-Cookie": values}})


def test_invalid_base64_body_that_must_be_decoded_is_malformed() -> None:
    with pytest.raises(Malformed, match="base64"):
        proxy_response(binary_result(body="not base64!"), ["image/png"], "image/png")


def test_invalid_base64_body_that_is_not_decoded_is_sent_as_text() -> None:
    response = proxy_response(binary_result(body="not base64!"), ["image/png"], "application/json")
    assert response.get_data() == b"not base64!"


# ---------------------------------------------------------------- the response


def test_status_headers_and_body_are_passed_on() -> None:
    response = proxy_response(
        {"statusCode": 201, "headers": {"Location": "/items/7", "X-Count": 3}, "body": '{"id":"7"}'}
    )
    assert response.status_code == 201
    assert (response.headers["Location"], response.headers["X-Count"]) == ("/items/7", "3")
    assert response.get_data() == b'{"id":"7"}'


def test_multi_value_headers_are_sent_as_repeated_headers() -> None:
    response = proxy_response({"statusCode": 200, "multiValueHeaders": {"Set-Cookie": ["a=1", "b=2"]}})
    assert response.headers.getlist("Set-Cookie") == ["a=1", "b=2"]


def test_multi_value_headers_win_over_headers_of_the_same_name() -> None:
    response = proxy_response(
        {
            "statusCode": 200,
            "headers": {"X-Tag": "single", "X-Other": "kept"},
            "multiValueHeaders": {"X-Tag": ["m1", "m2"]},
        }
    )
    assert response.headers.getlist("X-Tag") == ["m1", "m2"]
    assert response.headers["X-Other"] == "kept"


def test_content_type_defaults_to_json() -> None:
    assert proxy_response({"statusCode": 200, "body": "{}"}).headers["Content-Type"] == "application/json"


def test_content_type_of_the_function_is_kept_alone() -> None:
    response = proxy_response({"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "hi"})
    assert response.headers.getlist("Content-Type") == ["text/plain"]


def test_missing_body_is_an_empty_body() -> None:
    response = proxy_response({"statusCode": 204})
    assert (response.status_code, response.get_data()) == (204, b"")


def test_unicode_body_is_sent_as_utf8() -> None:
    assert proxy_response({"statusCode": 200, "body": "café €"}).get_data() == "café €".encode()


# ---------------------------------------------------------------- binary bodies


@pytest.mark.parametrize(
    ("binary_media_types", "accept"),
    [
        (["image/png"], "image/png"),
        (["IMAGE/PNG"], "image/png"),
        (["image/*"], "image/png"),
        (["*/*"], "application/json"),
        (["image/png"], "image/png;q=0.9"),
        (["application/octet-stream", "image/png"], "image/png; q=0.9"),
    ],
)
def test_base64_body_is_decoded_when_accept_matches_a_binary_media_type(
    binary_media_types: list[str], accept: str
) -> None:
    response = proxy_response(binary_result(), binary_media_types, accept)
    assert response.get_data() == PNG


@pytest.mark.parametrize(
    ("binary_media_types", "accept"),
    [
        ([], "image/png"),
        (["image/png"], None),
        (["image/png"], "application/json"),
        (["image/png"], "image/jpeg"),
    ],
)
def test_base64_body_is_sent_as_text_when_accept_does_not_match(
    binary_media_types: list[str], accept: str | None
) -> None:
    response = proxy_response(binary_result(), binary_media_types, accept)
    assert response.get_data() == PNG_BASE64.encode()


def test_only_the_first_accept_media_type_decides_a_binary_response() -> None:
    # A browser's <img> sends Accept: image/avif,image/webp,image/png,*/*: AWS answers the base64 text
    # unless BinaryMediaTypes has the first one (AWS's advice: declare */*).
    response = proxy_response(binary_result(), ["image/png"], "text/html, image/png")
    assert response.get_data() == PNG_BASE64.encode()


@pytest.mark.parametrize(
    ("media_type", "binary_media_types", "expected"),
    [
        ("image/png", ["image/png"], True),
        ("image/png; charset=binary", ["image/png"], True),
        ("application/octet-stream", ["image/*"], False),
        ("image/gif", ["image/*"], True),
        ("text/plain", ["*/*"], True),
        ("", ["*/*"], False),
        (None, ["*/*"], False),
        ("image/png", [], False),
    ],
)
def test_is_binary(media_type: str | None, binary_media_types: list[str], expected: bool) -> None:
    assert is_binary(media_type, binary_media_types) is expected
