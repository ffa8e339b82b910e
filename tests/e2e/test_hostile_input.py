"""Hostile input through the gateway: each is a 4xx that names what is wrong, never a 5xx, and stores nothing.

Every case here gave a 500 or 502, or was stored, before the handlers were hardened (docs/security.md).
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from tests.e2e.support import Api, Stack, new_product
from tests.harness import widest_client

DEEPLY_NESTED = "[" * 10_000 + "]" * 10_000


@pytest.fixture(scope="module")
def admin(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(widest_client(stack.clients))


@pytest.fixture(scope="module")
def product(rest_api: Api, admin: str) -> Iterator[dict[str, Any]]:
    created = rest_api.call("POST", "/products", token=admin, json=new_product())
    assert created.status_code == 201, created.text
    yield created.json()
    rest_api.call("DELETE", f"/products/{created.json()['id']}", token=admin)


def _field(response: requests.Response) -> str:
    assert 400 <= response.status_code < 500, response.text
    (problem,) = response.json()["errors"]
    return problem["field"]


def _names_stored(rest_api: Api, admin: str) -> set[str]:
    names: set[str] = set()
    params: dict[str, Any] = {"limit": 100}
    while True:
        page = rest_api.call("GET", "/products", token=admin, params=params)
        assert page.status_code == 200, page.text
        names |= {p["name"] for p in page.json()["items"]}
        if not page.json()["next_token"]:
            return names
        params["next_token"] = page.json()["next_token"]


def _send(rest_api: Api, method: str, path: str, admin: str, body: str | bytes, content_type: str | None):
    headers = {"Content-Type": content_type} if content_type else {}
    return rest_api.call(method, path, token=admin, data=body, headers=headers)


def _body_path(method: str, product: dict[str, Any]) -> str:
    return "/products" if method == "POST" else f"/products/{product['id']}"


def _with_version(method: str, product: dict[str, Any], fields: str) -> str:
    """A JSON object's text from `fields` (the text between the braces), with the version a PUT needs."""
    version = f', "version": {product["version"]}' if method == "PUT" else ""
    return "{" + fields + version + "}"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_deeply_nested_body_is_400(rest_api: Api, admin: str, product: dict[str, Any], method: str) -> None:
    response = _send(rest_api, method, _body_path(method, product), admin, DEEPLY_NESTED, "application/json")

    assert response.status_code == 400, response.text
    assert _field(response) == "body"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_that_is_not_utf8_is_400(
    rest_api: Api, admin: str, product: dict[str, Any], method: str
) -> None:
    name = f"not utf-8 {uuid.uuid4().hex[:8]}"
    text = _with_version(method, product, f'"name": "{name}", "price": "1.00", "currency": "EUR"')
    body = b"\xff\xfe" + text.encode("latin-1")

    response = _send(rest_api, method, _body_path(method, product), admin, body, "application/json")

    assert response.status_code == 400, response.text
    assert _field(response) == "body"
    assert name not in _names_stored(rest_api, admin)


@pytest.mark.parametrize("key", [{"id": None}, {"id": [1]}, {"id": {"S": 1}}, {"id": {"N": "1"}}, ["id"]])
def test_a_crafted_next_token_is_400(rest_api: Api, admin: str, key: Any) -> None:
    token = base64.urlsafe_b64encode(json.dumps(key).encode()).decode()

    response = rest_api.call("GET", "/products", token=admin, params={"next_token": token})

    assert response.status_code == 400, response.text
    assert _field(response) == "next_token"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE"])
@pytest.mark.parametrize("raw_id", ["%E2%82%AC", "%00", "%0A", "%F0%9F%92%A5", "%FF"])
def test_an_id_outside_the_id_format_is_400(rest_api: Api, admin: str, method: str, raw_id: str) -> None:
    body = {**new_product(), "version": 1} if method == "PUT" else None

    response = rest_api.call(method, f"/products/{raw_id}", token=admin, json=body)

    assert response.status_code == 400, response.text
    assert _field(response) == "id"


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_lone_surrogate_is_400_at_once(
    rest_api: Api, admin: str, product: dict[str, Any], method: str
) -> None:
    # Before: the database client failed to encode it and was retried until the function timed out (502).
    text = _with_version(method, product, r'"name": "a\ud800b", "price": "1.00", "currency": "EUR"')

    response = _send(rest_api, method, _body_path(method, product), admin, text, "application/json")

    assert response.status_code == 400, response.text
    assert _field(response) == "name"


def test_duplicate_keys_are_400_and_store_nothing(rest_api: Api, admin: str) -> None:
    marker = uuid.uuid4().hex[:8]
    text = f'{{"name": "first {marker}", "name": "last {marker}", "price": "1.00", "currency": "EUR"}}'

    response = _send(rest_api, "POST", "/products", admin, text, "application/json")

    assert response.status_code == 400, response.text
    assert _field(response) == "name"
    assert not {f"first {marker}", f"last {marker}"} & _names_stored(rest_api, admin)


@pytest.mark.parametrize("name", ["bell\u0007", "esc\u001b[31m", "nul\u0000", "line\nbreak"])
def test_control_characters_in_a_name_are_400_and_store_nothing(rest_api: Api, admin: str, name: str) -> None:
    name = f"{name} {uuid.uuid4().hex[:8]}"

    response = rest_api.call("POST", "/products", token=admin, json=new_product(name=name))

    assert response.status_code == 400, response.text
    assert _field(response) == "name"
    assert name not in _names_stored(rest_api, admin)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_not_sent_as_json_is_415_and_stores_nothing(
    rest_api: Api, admin: str, product: dict[str, Any], method: str, content_type: str | None
) -> None:
    name = f"plain {uuid.uuid4().hex[:8]}"
    text = json.dumps(
        {**new_product(name=name), **({"version": product["version"]} if method == "PUT" else {})}
    )

    response = _send(rest_api, method, _body_path(method, product), admin, text.encode(), content_type)

    assert response.status_code == 415, response.text
    assert _field(response) == "Content-Type"
    assert name not in _names_stored(rest_api, admin)
