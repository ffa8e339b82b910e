"""The API page (local/api_page.py) in a real headless Chromium: it loads from the local cloud alone,
"Authorize" fetches a token with an app client's id and secret, a call in the token's scope succeeds
and a call outside it shows API Gateway's 401.

The client and the two operations are chosen from the template and the served contract: the client
with the fewest scopes, a list operation its scopes allow and a create operation they do not.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from local.api_page import PAGE_PATH
from tests.e2e.browser import headless_chromium
from tests.e2e.support import DEPLOYED, Client, Stack

pytestmark = pytest.mark.skipif(DEPLOYED, reason="the page is the local cloud's")
WAIT_SECONDS = 20


@pytest.fixture(scope="module")
def page_url(stack: Stack) -> str:
    """The page as the banner names it."""
    assert stack.cloud is not None
    named = re.search(r"^  API page +(\S+)", stack.cloud.wait_for_log("ready in"), re.MULTILINE)
    assert named, "the banner names the API page"
    return named.group(1)


@pytest.fixture(scope="module")
def page(page_url: str) -> Iterator[Any]:
    with headless_chromium() as browser:
        browser.get(page_url)
        browser.find_element(By.CSS_SELECTOR, "button.authorize")  # rendered from the contract
        yield browser


@pytest.fixture(scope="module")
def contract(stack: Stack) -> dict[str, Any]:
    return requests.get(f"{stack.aws_endpoint_url}/openapi.json", timeout=10).json()


@pytest.fixture(scope="module")
def narrowest_client(stack: Stack) -> Client:
    machine_clients = [c for c in stack.clients.values() if c.secret]
    return min(machine_clients, key=lambda c: len(c.scopes))


def _operation(contract: dict[str, Any], method: str, *, allowed: bool, scopes: tuple[str, ...]) -> str:
    """The operationId of a `method` operation without path parameters whose scopes the client
    holds (allowed) or lacks (not allowed)."""
    for path, operations in contract["paths"].items():
        operation = operations.get(method)
        if operation is None or "{" in path:
            continue
        needed = {s for requirement in operation["security"] for s in requirement.get("CognitoUserPool", [])}
        if needed and (not needed.isdisjoint(scopes)) == allowed:
            return operation["operationId"]
    raise AssertionError(f"the contract has no {method} operation {'in' if allowed else 'outside'} {scopes}")


def _authorize(page: Any, client: Client) -> None:
    page.find_element(By.CSS_SELECTOR, "button.authorize").click()
    for field, value in (("client_id", client.client_id), ("client_secret", client.secret)):
        box = page.find_element(By.ID, f"{field}_clientCredentials")
        box.clear()
        box.send_keys(value)
    page.find_element(By.CSS_SELECTOR, ".modal-ux button.modal-btn.authorize").click()


def _execute(page: Any, operation_id: str) -> WebElement:
    """Open an operation, send it, and return its live response row."""
    operation = page.find_element(By.CSS_SELECTOR, f"[id$='-{operation_id}']")
    operation.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    operation.find_element(By.CSS_SELECTOR, "button.execute").click()
    rows = ".live-responses-table tbody tr.response"
    WebDriverWait(page, WAIT_SECONDS).until(lambda _: operation.find_elements(By.CSS_SELECTOR, rows))
    return operation.find_element(By.CSS_SELECTOR, rows)


def test_the_page_and_its_assets_come_from_the_local_cloud(stack: Stack, page_url: str, page: Any):
    origin = stack.aws_endpoint_url
    assert page_url == f"{origin}{PAGE_PATH}"
    loaded = page.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")

    assert page.find_element(By.CSS_SELECTOR, ".info .title").text.startswith("product-api")
    assert any(name.endswith(".js") for name in loaded)
    assert all(name.startswith(f"{origin}/") for name in loaded)  # no CDN: nothing from elsewhere
    assert page.execute_script("return window.ui.specSelectors.url()") == "/openapi.json"


def test_a_wrong_secret_gets_no_token(page: Any, narrowest_client: Client):
    _authorize(page, Client(narrowest_client.logical_id, narrowest_client.client_id, "wrong", ()))
    WebDriverWait(page, WAIT_SECONDS).until(
        lambda p: "invalid_client" in p.find_element(By.CSS_SELECTOR, ".modal-ux").text
    )
    assert not page.find_elements(By.CSS_SELECTOR, ".modal-ux button[aria-label='Remove authorization']")
    page.find_element(By.CSS_SELECTOR, ".modal-ux button.close-modal").click()


def test_a_token_from_the_page_calls_its_scopes_and_is_refused_outside_them(
    page: Any, contract: dict[str, Any], narrowest_client: Client, stack: Stack
):
    _authorize(page, narrowest_client)
    WebDriverWait(page, WAIT_SECONDS).until(
        lambda p: p.find_elements(By.CSS_SELECTOR, ".modal-ux button[aria-label='Remove authorization']")
    )
    page.find_element(By.CSS_SELECTOR, ".modal-ux button.close-modal").click()

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
