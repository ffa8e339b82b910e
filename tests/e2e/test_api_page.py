"""The API page (local/api_page.py) in a real headless Chromium: it loads from the local cloud alone,
"Authorize" fetches a token with an app client's id and secret (and none with a wrong one), a call in
the token's scope succeeds, a call outside it shows API Gateway's 401, and the sample body the page
offers creates a product.

Clients and operations are chosen from the template and the served contract: the client with the
fewest scopes, a list operation its scopes allow and a create operation they do not; then the client
with the most scopes for the create.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from local.api_page import PAGE_PATH
from scripts.openapi import SECURITY_SCHEME
from tests.e2e.browser import headless_chromium
from tests.e2e.support import DEPLOYED, Api, Client, Stack
from tests.harness import clients_by_scopes, widest_client

pytestmark = pytest.mark.skipif(DEPLOYED, reason="the page is the local cloud's")
WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def page_url(stack: Stack) -> str:
    """The page as the banner names it."""
    assert stack.cloud is not None
    named = re.search(r"^  API page +(\S+)", stack.cloud.wait_for_console("ready in"), re.MULTILINE)
    assert named, "the banner names the API page"
    return named.group(1)


@pytest.fixture(scope="module")
def page(page_url: str) -> Iterator[Any]:
    with headless_chromium() as browser:
        browser.get(page_url)
        _shown(browser, "button.authorize")  # rendered from the contract
        yield browser


@pytest.fixture(scope="module")
def contract(stack: Stack) -> dict[str, Any]:
    return requests.get(f"{stack.aws_endpoint_url}/openapi.json", timeout=10).json()


@pytest.fixture(scope="module")
def narrowest_client(stack: Stack) -> Client:
    return stack.clients[clients_by_scopes(stack.clients)[0]]


def _operation(contract: dict[str, Any], method: str, *, allowed: bool, scopes: tuple[str, ...]) -> str:
    """The operationId of a `method` operation without path parameters whose scopes the client
    holds (allowed) or lacks (not allowed)."""
    for path, operations in contract["paths"].items():
        operation = operations.get(method)
        if operation is None or "{" in path:
            continue
        needed = {s for requirement in operation["security"] for s in requirement.get(SECURITY_SCHEME, [])}
        if needed and (not needed.isdisjoint(scopes)) == allowed:
            return operation["operationId"]
    raise AssertionError(f"the contract has no {method} operation {'in' if allowed else 'outside'} {scopes}")


SIGNED_IN = ".modal-ux button[aria-label='Remove authorization']"
LIVE_ROW = ".live-responses-table tbody tr.response"


def _shown(scope: Any, css: str) -> WebElement:
    """The first element matching `css` under `scope`, once the page has rendered it."""
    WebDriverWait(scope, WAIT_SECONDS).until(lambda _: scope.find_elements(By.CSS_SELECTOR, css))
    return scope.find_element(By.CSS_SELECTOR, css)


def _authorize(page: Any, client: Client) -> None:
    """Sign out of any earlier token, then ask the token endpoint for one with this client."""
    _shown(page, "button.authorize").click()
    for button in _shown(page, ".modal-ux").find_elements(By.CSS_SELECTOR, SIGNED_IN):
        button.click()
    for field, value in (("client_id", client.client_id), ("client_secret", client.secret)):
        box = _shown(page, f"#{field}_clientCredentials")
        box.clear()
        box.send_keys(value)
    _shown(page, ".modal-ux button.modal-btn.authorize").click()


def _close_dialog(page: Any) -> None:
    _shown(page, ".modal-ux button.close-modal").click()


def _execute(page: Any, operation_id: str) -> WebElement:
    """Open an operation (if it is not), send it, and return its live response row once it changed."""
    operation = _shown(page, f"[id$='-{operation_id}']")
    if not operation.find_elements(By.CSS_SELECTOR, "button.execute"):
        operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    before = [row.text for row in operation.find_elements(By.CSS_SELECTOR, LIVE_ROW)]
    _shown(operation, "button.execute").click()
    # An earlier answer must not pass for this one.
    WebDriverWait(page, WAIT_SECONDS).until(
        lambda _: [row.text for row in operation.find_elements(By.CSS_SELECTOR, LIVE_ROW)] not in ([], before)
    )
    return operation.find_element(By.CSS_SELECTOR, LIVE_ROW)


def test_the_page_and_its_assets_come_from_the_local_cloud(stack: Stack, page_url: str, page: Any):
    origin = stack.aws_endpoint_url
    assert page_url == f"{origin}{PAGE_PATH}"
    loaded = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")

    assert _shown(page, ".info .title").text.startswith("product-api")
    assert any(name.endswith(".js") for name in loaded)
    assert all(name.startswith(f"{origin}/") for name in loaded)  # no CDN: nothing from elsewhere
    assert page.execute_script("return window.ui.specSelectors.url()") == "/openapi.json"


def test_a_wrong_secret_gets_no_token(page: Any, narrowest_client: Client):
    _authorize(page, Client(narrowest_client.logical_id, narrowest_client.client_id, "wrong", ()))
    dialog = _shown(page, ".modal-ux")
    WebDriverWait(page, WAIT_SECONDS).until(lambda _: "invalid_client" in dialog.text)

    assert not dialog.find_elements(By.CSS_SELECTOR, SIGNED_IN)
    _close_dialog(page)


def test_a_token_from_the_page_calls_its_scopes_and_is_refused_outside_them(
    page: Any, contract: dict[str, Any], narrowest_client: Client, stack: Stack
):
    _authorize(page, narrowest_client)
    _shown(page, SIGNED_IN)
    _close_dialog(page)

    listing = _execute(page, _operation(contract, "get", allowed=True, scopes=narrowest_client.scopes))
    refused = _execute(page, _operation(contract, "post", allowed=False, scopes=narrowest_client.scopes))

    assert listing.find_element(By.CSS_SELECTOR, ".response-col_status").text == "200"
    assert '"items"' in listing.find_element(By.CSS_SELECTOR, ".response-col_description").text
    assert refused.find_element(By.CSS_SELECTOR, ".response-col_status").text == "401"
    assert "Unauthorized" in refused.find_element(By.CSS_SELECTOR, ".response-col_description").text
    # The page sent the token it fetched, to the local stage.
    curl = page.find_element(By.CSS_SELECTOR, ".curl-command").text
    assert "Authorization: Bearer ey" in curl
    assert stack.api_url in curl


def test_the_sample_body_the_page_offers_creates_a_product(
    page: Any, contract: dict[str, Any], stack: Stack, rest_api: Api, token_for: Callable[..., str]
):
    widest = stack.clients[widest_client(stack.clients)]
    _authorize(page, widest)
    _shown(page, SIGNED_IN)
    _close_dialog(page)

    created = _execute(page, _operation(contract, "post", allowed=True, scopes=widest.scopes))

    assert created.find_element(By.CSS_SELECTOR, ".response-col_status").text == "201"
    body = json.loads(created.find_element(By.CSS_SELECTOR, ".response-col_description pre").text)
    sample_name = contract["components"]["schemas"]["ProductInput"]["properties"]["name"]["examples"][0]
    assert body["name"] == sample_name
    stored = rest_api.call("GET", f"/products/{body['id']}", token=token_for(widest.logical_id))
    assert stored.json()["name"] == sample_name
