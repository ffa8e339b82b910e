"""Products end to end, through the gateway, the authorizer and the handlers, with real tokens, on both
APIs (the REST API and the HTTP API)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from tests.e2e.support import Api, Stack, answer_of, new_product
from tests.harness import widest_client


@pytest.fixture
def admin(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(widest_client(stack.clients))


def test_product_lifecycle_create_read_list_update_delete(api: Api, admin: str) -> None:
    created = api.call("POST", "/products", token=admin, json=new_product(description="e2e"))
    assert created.status_code == 201, created.text
    product = created.json()
    assert created.headers["Location"].endswith(f"/products/{product['id']}")

    read = api.call("GET", f"/products/{product['id']}", token=admin)
    assert (read.status_code, read.json()) == (200, product)

    listed = api.call("GET", "/products", token=admin, params={"limit": 100})
    assert listed.status_code == 200
    assert product["id"] in {p["id"] for p in listed.json()["items"]}

    changed = {k: product[k] for k in ("name", "currency", "version")} | {"price": "13.90"}
    updated = api.call("PUT", f"/products/{product['id']}", token=admin, json=changed)
    assert updated.status_code == 200, updated.text
    assert (updated.json()["price"], updated.json()["version"]) == ("13.90", product["version"] + 1)

    stale = api.call("PUT", f"/products/{product['id']}", token=admin, json=changed)
    assert stale.status_code == 409, stale.text

    deleted = api.call("DELETE", f"/products/{product['id']}", token=admin)
    assert deleted.status_code == 204
    assert api.call("GET", f"/products/{product['id']}", token=admin).status_code == 404


def test_created_by_is_the_machine_clients_id(api: Api, stack: Stack, admin: str) -> None:
    created = api.call("POST", "/products", token=admin, json=new_product())
    assert created.status_code == 201, created.text
    assert created.json()["created_by"] == stack.clients[widest_client(stack.clients)].client_id
    api.call("DELETE", f"/products/{created.json()['id']}", token=admin)


def test_a_token_holding_only_create_product_can_create_but_not_read_or_delete(
    api: Api, stack: Stack, token_for: Callable[..., str], admin: str
) -> None:
    create_scope = api.route("POST", "/products").scopes[0]
    creator = token_for(widest_client(stack.clients), scope=create_scope)

    created = api.call("POST", "/products", token=creator, json=new_product())
    assert created.status_code == 201, created.text
    product_id = created.json()["id"]

    for method in ("GET", "DELETE"):
        refused = api.call(method, f"/products/{product_id}", token=creator)
        assert answer_of(refused) == api.kind.missing_scope, method
    assert api.call("GET", "/products", token=creator).status_code == api.kind.missing_scope.status
    # Still there: the refused DELETE did not reach the function.
    assert api.call("GET", f"/products/{product_id}", token=admin).status_code == 200
    api.call("DELETE", f"/products/{product_id}", token=admin)


def test_invalid_product_is_400_with_the_bad_fields(api: Api, admin: str) -> None:
    response = api.call("POST", "/products", token=admin, json={"name": "", "price": "x", "currency": "ZZZ"})
    assert response.status_code == 400, response.text
