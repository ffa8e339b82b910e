"""At data sizes people demo with: 10^5 products seeded at start-up, then listed page by page, each
exactly once, with DynamoDB's paging (the handler's next_token wraps Scan's LastEvaluatedKey)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import LOCAL_ONLY
from tests.harness import LocalCloud, machine_clients, start_local_cloud, widest_client

pytestmark = LOCAL_ONLY
PRODUCTS = 100_000
PAGE = 100


def _product(number: int) -> dict[str, Any]:
    return {
        "id": str(uuid.UUID(int=number + 1, version=4)),
        "name": f"Seeded product {number}",
        "price": 12.5,
        "currency": "EUR",
        "version": 1,
        "created_at": "2025-11-18T08:30:00.000Z",
        "updated_at": "2025-11-18T08:30:00.000Z",
        "created_by": "seed",
        "updated_by": "seed",
    }


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, set[str]]]:
    workdir = tmp_path_factory.mktemp("scale")
    products = [_product(n) for n in range(PRODUCTS)]
    seed = workdir / "seed.json"
    seed.write_text(json.dumps(products))
    cloud = start_local_cloud(workdir, "--seed", str(seed), "--no-throttle", timeout=300)
    yield cloud, {p["id"] for p in products}
    cloud.stop()


@pytest.fixture(scope="module")
def reader(seeded: tuple[LocalCloud, set[str]]) -> requests.Session:
    outputs = seeded[0].outputs
    machines = machine_clients(outputs)
    client = machines[widest_client(machines)]
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as oauth:
        token = oauth.fetch_token(outputs["TokenUrl"], grant_type="client_credentials")["access_token"]
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    return session


def _page(cloud: LocalCloud, reader: requests.Session, token: str | None) -> dict[str, Any]:
    params = {"limit": PAGE, **({"next_token": token} if token else {})}
    response = reader.get(f"{cloud.outputs['ApiUrl']}/products", params=params, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_the_banner_counts_every_seeded_product(seeded: tuple[LocalCloud, set[str]]) -> None:
    cloud, _ = seeded
    assert f"Seeded      {PRODUCTS} item(s)" in cloud.console


def test_every_seeded_product_is_scanned_exactly_once_across_pages(
    seeded: tuple[LocalCloud, set[str]],
) -> None:
    """The table's own pages, as the handler asks for them (Limit, ExclusiveStartKey), ids only."""
    cloud, ids = seeded
    outputs = cloud.outputs
    dynamodb = cloud.aws("dynamodb")
    listed: list[str] = []
    request: dict[str, Any] = {"TableName": outputs["TableName"], "Limit": 1000, "ProjectionExpression": "id"}
    for _ in range(PRODUCTS // 1000 + 2):
        page = dynamodb.scan(**request)
        listed += [item["id"]["S"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    assert len(listed) == len(set(listed)) == PRODUCTS
    assert set(listed) == ids


def test_the_apis_pages_follow_one_another_without_repeats(
    seeded: tuple[LocalCloud, set[str]], reader: requests.Session
) -> None:
    cloud, ids = seeded
    listed: list[str] = []
    token = None
    for _ in range(20):
        page = _page(cloud, reader, token)
        listed += [item["id"] for item in page["items"]]
        token = page["next_token"]
    assert len(listed) == len(set(listed)) == 20 * PAGE
    assert set(listed) <= ids


def test_a_page_asked_again_is_the_same_page_with_the_same_next_token(
    seeded: tuple[LocalCloud, set[str]], reader: requests.Session
) -> None:
    cloud, _ = seeded
    first = _page(cloud, reader, None)
    middle = _page(cloud, reader, first["next_token"])
    assert _page(cloud, reader, first["next_token"]) == middle
    assert middle["next_token"] not in (None, first["next_token"])
