"""The Python client in clients/python against the target (local cloud or deployed stack), given
either API's URL: one access token serves a whole session of calls, counted by the client's own token
hook."""

from __future__ import annotations

import pytest

from product_api_client import ProductApiClient, ProductApiError, Settings
from tests.e2e.support import Api, Stack, new_product, template_routes
from tests.harness import narrowest_client, widest_client


def settings_for(api: Api, client: str) -> Settings:
    c = api.stack.clients[client]
    return Settings(api.url, api.stack.token_url, c.client_id, c.secret, api.api_key)


def test_one_token_serves_a_whole_session_of_calls(api: Api, stack: Stack) -> None:
    client = ProductApiClient(settings_for(api, widest_client(stack.clients)))

    product = client.create_product(**new_product())
    assert client.get_product(product["id"]) == product
    for _ in range(5):
        assert "items" in client.list_products()
    changed = {k: product[k] for k in ("name", "price", "currency")}
    updated = client.update_product(product["id"], product["version"], **changed)
    client.delete_product(product["id"])

    assert updated["version"] == product["version"] + 1
    assert client.token_requests == 1  # nine calls, one token


def test_a_route_outside_the_tokens_scope_is_refused_after_one_retry_of_a_401(api: Api, stack: Stack) -> None:
    widest, narrowest = widest_client(stack.clients), narrowest_client(stack.clients)
    allowed = set(stack.clients[narrowest].scopes)
    refused = next((r for r in template_routes() if not allowed & set(r.scopes)), None)
    if refused is None or narrowest == widest:
        pytest.skip("every client may call every route")
    readable = next(r for r in template_routes() if allowed & set(r.scopes) and "{" not in r.resource)
    client = ProductApiClient(settings_for(api, narrowest))
    assert client.request(readable.method, readable.resource).status_code == 200

    with pytest.raises(ProductApiError) as error:
        client.call(refused.method, refused.resource.replace("{id}", "0" * 8), expect=200, json=new_product())

    assert error.value.status == api.kind.missing_scope.status
    # The client asks for a new token once on a 401 (REST's answer), not on the HTTP API's 403.
    assert client.token_requests == (2 if error.value.status == 401 else 1)
