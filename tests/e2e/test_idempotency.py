"""Idempotency-Key on POST /products, through either API's gateway: a retry is answered, not repeated."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import pytest

from tests.e2e.support import Api, Stack, new_product
from tests.harness import widest_client


@pytest.fixture(scope="module")
def admin(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(widest_client(stack.clients))


def _stored_named(api: Api, admin: str, name: str) -> list[dict[str, Any]]:
    found, params = [], {"limit": 100}
    while True:
        page = api.call("GET", "/products", token=admin, params=params).json()
        found += [p for p in page["items"] if p["name"] == name]
        if not page["next_token"]:
            return found
        params["next_token"] = page["next_token"]


def test_a_retried_create_returns_the_first_response_and_stores_one_product(api: Api, admin: str) -> None:
    body, key = new_product(), {"Idempotency-Key": str(uuid.uuid4())}

    first = api.call("POST", "/products", token=admin, json=body, headers=key)
    retries = [api.call("POST", "/products", token=admin, json=body, headers=key) for _ in range(3)]

    assert first.status_code == 201, first.text
    for retry in retries:
        assert retry.status_code == 201
        assert retry.content == first.content  # the same bytes, not only the same JSON
        assert retry.headers["Location"] == first.headers["Location"]
        assert retry.headers["Idempotent-Replayed"] == "true"
    assert [p["id"] for p in _stored_named(api, admin, body["name"])] == [first.json()["id"]]
    api.call("DELETE", f"/products/{first.json()['id']}", token=admin)


def test_the_same_key_with_another_body_is_422_and_stores_nothing_more(api: Api, admin: str) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = api.call("POST", "/products", token=admin, json=new_product(), headers=key)
    other = new_product()

    response = api.call("POST", "/products", token=admin, json=other, headers=key)

    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["field"] == "Idempotency-Key"
    assert _stored_named(api, admin, other["name"]) == []
    api.call("DELETE", f"/products/{first.json()['id']}", token=admin)


def test_without_a_key_each_post_creates_a_product(api: Api, admin: str) -> None:
    body = new_product()

    ids = [api.call("POST", "/products", token=admin, json=body).json()["id"] for _ in range(2)]

    assert len(set(ids)) == 2
    for product_id in ids:
        api.call("DELETE", f"/products/{product_id}", token=admin)
