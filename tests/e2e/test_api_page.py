"""The API page (sam_local_cloud/api_page.py) in a real headless Chromium: it loads from the local cloud
alone, "Authorize" fetches a token with an app client's id and secret (and none with a wrong one), a call in
the token's scope succeeds, a call outside it shows API Gateway's 401, and the sample body the page offers
creates a product. A person signs in on it (code flow with PKCE, the hosted sign-in form) and lists products
and reads GET /me with their ID token; opened at an address the people's client does not allow as a redirect,
the page says where to sign in; with RequireApiKey=true its calls send the key.

Clients, people and operations are chosen from the template, the cloud's outputs and the served
contract: the client with the fewest scopes, a list operation its scopes allow and a create operation
they do not; then the client with the most scopes for the create; the person with the fewest groups.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from sam_local_cloud.api_page import API_KEY_SCHEME, PAGE_PATH
from scripts.openapi import ID_TOKEN_SCHEME, SECURITY_SCHEME
from tests.e2e.browser import headless_chromium
from tests.e2e.sign_in import claims
from tests.e2e.support import DEPLOYED, Api, Client, Person, Stack
from tests.harness import LocalCloud, clients_by_scopes, start_local_cloud, widest_client

pytestmark = pytest.mark.skipif(DEPLOYED, reason="the page is the local cloud's")
WAIT_SECONDS = 20


def _named_page(cloud: LocalCloud) -> str:
    named = re.search(r"^  API page +(\S+)", cloud.wait_for_console("ready in"), re.MULTILINE)
    assert named, "the banner names the API page"
    return named.group(1)


@pytest.fixture(scope="module")
def page_url(stack: Stack) -> str:
    """The page as the banner names it."""
    assert stack.cloud is not None
    return _named_page(stack.cloud)


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
    # localhost, not 127.0.0.1: the address whose redirect the people's client allows (Cognito takes
    # plain http callback URLs on localhost only); the same server, on the cloud's port.
    parts = urlsplit(page_url)
    origin = f"{parts.scheme}://{parts.netloc}"
    assert parts.hostname == "localhost"
    assert parts.port == urlsplit(stack.aws_endpoint_url).port
    assert parts.path == PAGE_PATH
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
    assert (
        urlsplit(stack.api_url).path + "/" in curl
    )  # the local stage, at the address the page was opened at
    assert f":{urlsplit(stack.api_url).port}/" in curl


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


# ---------------------------------------------------------------- people, the API key, other addresses

CODE_FLOW = "#client_id_authorizationCode"


def _flow_box(page: Any, field_id: str) -> WebElement:
    """The Authorize dialog's part for one flow or scheme (the one holding `field_id`)."""
    return _shown(page, f".modal-ux {field_id}").find_element(
        By.XPATH, "ancestor::div[contains(@class,'auth-container')]"
    )


def _scheme_box(page: Any, name: str) -> WebElement:
    """The Authorize dialog's part for a scheme, by the name its heading starts with."""
    _shown(page, ".modal-ux .auth-container h4")
    return next(
        box
        for box in page.find_elements(By.CSS_SELECTOR, ".modal-ux .auth-container")
        if box.find_element(By.TAG_NAME, "h4").text.startswith(name)
    )


def _sign_in_on_the_page(page: Any, person: Person) -> None:
    """Authorize with the code flow: the hosted sign-in opens in a window of its own, the person fills it
    in, and the window hands the code back to the page, which redeems it with its PKCE verifier."""
    _shown(page, "button.authorize").click()
    box = _flow_box(page, CODE_FLOW)
    assert box.find_element(By.CSS_SELECTOR, CODE_FLOW).get_attribute("value"), (
        "the people's client id is filled in"
    )
    main = page.current_window_handle
    box.find_element(By.CSS_SELECTOR, "button.modal-btn.authorize").click()
    WebDriverWait(page, WAIT_SECONDS).until(lambda _: len(page.window_handles) > 1)
    page.switch_to.window(next(handle for handle in page.window_handles if handle != main))
    _shown(page, "input[name=username]").send_keys(person.username)
    _shown(page, "input[name=password]").send_keys(person.password)
    _shown(page, "button[name=signInSubmitButton]").click()
    WebDriverWait(page, WAIT_SECONDS).until(lambda _: len(page.window_handles) == 1)
    page.switch_to.window(main)
    WebDriverWait(page, WAIT_SECONDS).until(lambda _: ID_TOKEN_SCHEME in _authorized(page))
    _close_dialog(page)


def _authorized(page: Any) -> dict[str, Any]:
    return page.execute_script("return window.ui.authSelectors.authorized().toJS()")


@pytest.fixture(scope="module")
def person(stack: Stack) -> Person:
    """A person of the cloud's own (local-cloud.toml's users), in the fewest groups."""
    assert stack.people, "the local cloud has sample people"
    return min(stack.people, key=lambda p: len(p.groups))


def test_a_person_signs_in_on_the_page_and_lists_products_and_reads_who_they_are(
    page_url: str, contract: dict[str, Any], person: Person
):
    with headless_chromium() as browser:
        browser.get(page_url)
        _shown(browser, "button.authorize")
        assert not browser.find_element(By.ID, "page-notice").is_displayed()  # people sign in here

        _sign_in_on_the_page(browser, person)
        authorized = _authorized(browser)
        access = claims(authorized[SECURITY_SCHEME]["token"]["access_token"])
        listing = _execute(
            browser, _operation(contract, "get", allowed=True, scopes=tuple(access["scope"].split()))
        )
        me = _execute(browser, _operation_of(contract, ID_TOKEN_SCHEME))

        assert claims(authorized[ID_TOKEN_SCHEME]["value"])["email"] == person.username
        assert access["token_use"] == "access"
        assert authorized[ID_TOKEN_SCHEME]["value"] == authorized[SECURITY_SCHEME]["token"]["id_token"]
        assert listing.find_element(By.CSS_SELECTOR, ".response-col_status").text == "200"
        assert me.find_element(By.CSS_SELECTOR, ".response-col_status").text == "200"
        caller = json.loads(me.find_element(By.CSS_SELECTOR, ".response-col_description pre").text)
        assert caller["email"] == person.username
        assert caller["token_use"] == "id"
        assert sorted(caller["groups"]) == sorted(person.groups)


def _operation_of(contract: dict[str, Any], scheme: str) -> str:
    """The operationId of the operation whose security is `scheme` alone (GET /me: an ID token)."""
    return next(
        operation["operationId"]
        for operations in contract["paths"].values()
        for operation in operations.values()
        if [set(requirement) for requirement in operation["security"]] == [{scheme}]
    )


def test_each_operation_shows_its_scopes_beside_it(page: Any, contract: dict[str, Any]):
    for operations in contract["paths"].values():
        for operation in operations.values():
            shown = _shown(page, f"[id$='-{operation['operationId']}']")
            if not shown.find_elements(By.CSS_SELECTOR, ".opblock-description-wrapper"):
                shown.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
            text = _shown(shown, ".opblock-description-wrapper").text
            for requirement in operation["security"]:
                for scope in requirement.get(SECURITY_SCHEME, []):
                    assert scope in text, (operation["operationId"], text)


def test_the_sample_product_has_the_contracts_examples_not_made_up_values(
    page: Any, contract: dict[str, Any]
):
    listing = _operation(contract, "get", allowed=True, scopes=tuple(_all_scopes(contract)))
    shown = _shown(page, f"[id$='-{listing}']")
    if not shown.find_elements(By.CSS_SELECTOR, ".responses-wrapper"):
        shown.find_element(By.CSS_SELECTOR, ".opblock-summary-control").click()
    sample = json.loads(_shown(shown, ".responses-wrapper tr.response[data-code='200'] pre.example").text)
    product = sample["items"][0]
    examples = contract["components"]["schemas"]["Product"]["properties"]

    assert product["currency"] == examples["currency"]["examples"][0]
    assert product["id"] == examples["id"]["examples"][0]


def _all_scopes(contract: dict[str, Any]) -> set[str]:
    flows = contract["components"]["securitySchemes"][SECURITY_SCHEME]["flows"]
    return set(flows["clientCredentials"]["scopes"])


def test_opened_at_another_address_the_page_says_where_people_sign_in(stack: Stack, page_url: str):
    assert stack.aws_endpoint_url is not None
    with headless_chromium() as browser:
        browser.get(stack.aws_endpoint_url + PAGE_PATH)  # 127.0.0.1: not a redirect the client allows

        notice = _shown(browser, "#page-notice")
        WebDriverWait(browser, WAIT_SECONDS).until(lambda _: notice.is_displayed())
        assert "People cannot sign in from" in notice.text
        assert notice.find_element(By.TAG_NAME, "a").get_attribute("href") == page_url


@pytest.fixture(scope="module")
def keyed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(
        tmp_path_factory.mktemp("keyed-page"), "--parameter-overrides", "RequireApiKey=true"
    )
    yield cloud
    cloud.stop(signal.SIGKILL)


def test_with_an_api_key_required_the_page_asks_for_it_and_its_calls_succeed(keyed_cloud: LocalCloud):
    outputs = keyed_cloud.outputs
    contract = requests.get(f"{keyed_cloud.base_url}/openapi.json", timeout=10).json()
    scheme = contract["components"]["securitySchemes"][API_KEY_SCHEME]
    machine = min(
        (c for c in outputs["Clients"].values() if "client_credentials" in c["AllowedOAuthFlows"]),
        key=lambda c: len(c["AllowedScopes"]),
    )
    client = Client("reader", machine["ClientId"], machine["ClientSecret"], tuple(machine["AllowedScopes"]))
    with headless_chromium() as browser:
        browser.get(_named_page(keyed_cloud))
        _authorize(browser, client)
        _shown(browser, SIGNED_IN)
        key_box = _scheme_box(browser, API_KEY_SCHEME)
        key_box.find_element(By.CSS_SELECTOR, "input").send_keys(outputs["ApiKey"])
        key_box.find_element(By.CSS_SELECTOR, "button.modal-btn.authorize").click()
        _close_dialog(browser)

        listing = _execute(browser, _operation(contract, "get", allowed=True, scopes=client.scopes))

        assert listing.find_element(By.CSS_SELECTOR, ".response-col_status").text == "200"
        assert (
            f"{scheme['name']}: {outputs['ApiKey']}"
            in browser.find_element(By.CSS_SELECTOR, ".curl-command").text
        )
