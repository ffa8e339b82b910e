"""Concurrency as a standard account (docs/aws-behaviour.md §7): on the default template, started as
`make local` starts it (no flag), 50 concurrent creates on either API give 50 products and no 5xx: the
calls beyond the environments a function runs locally wait for one, as a standard account's 1,000
concurrent executions would never throttle them. Throttling where the template reserves concurrency
is tested in test_fidelity.py and tests/unit/cloud/test_runner.py."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.e2e.support import API_KINDS, LOCAL_ONLY, Api, local_stack, new_product
from tests.harness import LocalCloud, client_token, start_local_cloud, widest_client

pytestmark = LOCAL_ONLY
CONCURRENT_CREATES = 50


@pytest.fixture(scope="module")
def default_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(tmp_path_factory.mktemp("default-cloud"))
    yield cloud
    cloud.stop()


@pytest.mark.parametrize("kind", API_KINDS, ids=[kind.name for kind in API_KINDS])
def test_50_concurrent_creates_give_50_products_and_no_5xx(default_cloud: LocalCloud, kind: Any) -> None:
    stack = local_stack(default_cloud)
    client = stack.clients[widest_client(stack.clients)]
    token = client_token(stack.token_url, client.client_id, client.secret)
    batch = uuid.uuid4().hex[:8]

    def post(index: int) -> tuple[int, Any]:
        body = new_product(name=f"batch {batch} #{index}")
        response = Api(stack, kind).call("POST", "/products", token=token, json=body)
        return response.status_code, response.json()

    with ThreadPoolExecutor(max_workers=CONCURRENT_CREATES) as pool:
        results = list(pool.map(post, range(CONCURRENT_CREATES)))

    assert sorted(status for status, _ in results) == [201] * CONCURRENT_CREATES, results
    assert len({body["id"] for _, body in results}) == CONCURRENT_CREATES
    for _, body in results:
        stored = Api(stack, kind).call("GET", f"/products/{body['id']}", token=token)
        assert stored.json() == body
