"""No lost writes under concurrency, on both APIs: conditional writes let one of many racing updates win, and
concurrent creates each store their own product."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.support import Api, Stack, new_product
from tests.harness import widest_client

RACING_UPDATES = 20
CONCURRENT_CREATES = 50


@pytest.fixture(scope="module")
def admin(stack: Stack, token_for: Callable[..., str]) -> str:
    return token_for(widest_client(stack.clients))


def _all_products(api: Api, admin: str) -> list[dict[str, Any]]:
    products, params = [], {"limit": 100}
    while True:
        page = api.call("GET", "/products", token=admin, params=params)
        assert page.status_code == 200, page.text
        products += page.json()["items"]
        if not page.json()["next_token"]:
            return products
        params["next_token"] = page.json()["next_token"]


def test_of_20_concurrent_updates_at_one_version_exactly_one_wins(api: Api, admin: str) -> None:
    product = api.call("POST", "/products", token=admin, json=new_product()).json()
    bodies = [
        {**new_product(name=f"writer {i}"), "price": f"{i}.00", "version": product["version"]}
        for i in range(RACING_UPDATES)
    ]

    # One session per thread: requests.Session is not made for sharing between threads.
    def put(body: dict[str, Any]) -> tuple[int, Any]:
        response = api.with_own_session().call("PUT", f"/products/{product['id']}", token=admin, json=body)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=RACING_UPDATES) as pool:
        results = list(pool.map(put, bodies))

    statuses = sorted(status for status, _ in results)
    assert statuses == [200] + [409] * (RACING_UPDATES - 1), statuses
    (winner,) = [body for status, body in results if status == 200]
    assert all(body["current_version"] == product["version"] + 1 for status, body in results if status == 409)
    stored = api.call("GET", f"/products/{product['id']}", token=admin).json()
    assert stored == winner
    assert stored["version"] == product["version"] + 1
    api.call("DELETE", f"/products/{product['id']}", token=admin)


def test_50_concurrent_creates_give_50_products_each_listed_once(api: Api, admin: str) -> None:
    batch = uuid.uuid4().hex[:8]
    bodies = [new_product(name=f"batch {batch} #{i}") for i in range(CONCURRENT_CREATES)]

    def post(body: dict[str, Any]) -> dict[str, Any]:
        response = api.with_own_session().call("POST", "/products", token=admin, json=body)
        assert response.status_code == 201, response.text
        return response.json()

    with ThreadPoolExecutor(max_workers=CONCURRENT_CREATES) as pool:
        created = list(pool.map(post, bodies))

    listed = [p for p in _all_products(api, admin) if p["name"].startswith(f"batch {batch} #")]
    assert len({p["id"] for p in created}) == CONCURRENT_CREATES
    assert sorted(p["id"] for p in listed) == sorted(p["id"] for p in created)
    assert sorted(p["name"] for p in listed) == sorted(b["name"] for b in bodies)
    for product in created:
        api.call("DELETE", f"/products/{product['id']}", token=admin)
