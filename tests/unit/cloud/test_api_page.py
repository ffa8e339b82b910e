"""The API page's endpoints (sam_local_cloud/api_page.py): the local contract, the page and its own assets."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from sam_local_cloud.api_page import (
    API_KEY_SCHEME,
    DOCUMENT_PATH,
    PAGE_PATH,
    REDIRECT_PATH,
    ApiKeyRequirement,
    PeopleClient,
    local_document,
    page_endpoints,
)
from tests.harness import ROOT

CONTRACT = json.loads((ROOT / "docs" / "openapi.json").read_text())
ORIGIN = "http://127.0.0.1:3000"
API_URL, TOKEN_URL, AUTHORIZE_URL = f"{ORIGIN}/v1", f"{ORIGIN}/oauth2/token", f"{ORIGIN}/oauth2/authorize"


def _client(endpoints) -> Client:
    def app(environ, start_response):
        handler = endpoints.get(environ["PATH_INFO"])
        response = handler(Request(environ)) if handler else Response("not here", status=404)
        return response(environ, start_response)

    return Client(app)


def test_the_local_contract_names_the_local_stage_and_pool_endpoints_and_leaves_the_rest() -> None:
    local = local_document(CONTRACT, ORIGIN, "v1")

    assert local["servers"] == [{"url": API_URL, "description": "the local cloud"}]
    flows = [
        flow
        for scheme in local["components"]["securitySchemes"].values()
        for flow in scheme.get("flows", {}).values()
    ]
    assert {flow["tokenUrl"] for flow in flows} == {TOKEN_URL}
    assert {flow["authorizationUrl"] for flow in flows if "authorizationUrl" in flow} == {AUTHORIZE_URL}
    assert local["paths"] == CONTRACT["paths"]
    assert API_KEY_SCHEME not in local["components"]["securitySchemes"]
    assert CONTRACT["servers"][0]["url"].startswith("https://")  # the committed contract is untouched


def test_an_api_that_requires_a_key_asks_for_it_with_the_token_on_the_operations_that_need_it() -> None:
    keyed = ("get", "/products")
    local = local_document(CONTRACT, ORIGIN, "v1", ApiKeyRequirement("x-api-key", {keyed}))

    scheme = local["components"]["securitySchemes"][API_KEY_SCHEME]
    assert (scheme["type"], scheme["in"], scheme["name"]) == ("apiKey", "header", "x-api-key")
    for path, operations in local["paths"].items():
        for method, operation in operations.items():
            committed = CONTRACT["paths"][path][method]["security"]
            if (method, path) == keyed:
                assert operation["security"] == [{**r, API_KEY_SCHEME: []} for r in committed]
            else:
                assert operation["security"] == committed


def test_the_contract_is_served_for_the_address_the_browser_used() -> None:
    client = _client(page_endpoints(CONTRACT, title="t", stage="v1"))

    for host in ("127.0.0.1:3000", "localhost:3000"):
        served = client.get(DOCUMENT_PATH, headers={"Host": host}).get_json()
        assert served == local_document(CONTRACT, f"http://{host}", "v1")


def test_people_sign_in_only_where_the_client_allows_the_pages_redirect() -> None:
    people = PeopleClient(
        "client", ("http://localhost:8080/callback", f"http://localhost:3000{REDIRECT_PATH}")
    )
    client = _client(page_endpoints(CONTRACT, title="t", stage="v1", people=people))

    assert people.page_urls() == [f"http://localhost:3000{PAGE_PATH}"]
    html = client.get(PAGE_PATH).get_data(as_text=True)
    assert json.dumps(people.page_urls()) in html  # the page compares its own address with these
    assert 'pagePlugin("client")' in html
    redirect = client.get(REDIRECT_PATH)
    assert redirect.status_code == 200
    assert "swaggerUIRedirectOauth2" in redirect.get_data(as_text=True)


def test_the_page_loads_the_served_contract_and_only_assets_served_beside_it() -> None:
    client = _client(page_endpoints(CONTRACT, title="product-api (local)", stage="v1"))

    page = client.get(PAGE_PATH)
    html = page.get_data(as_text=True)
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)

    assert page.status_code == 200
    assert page.mimetype == "text/html"
    assert f"url: {json.dumps(DOCUMENT_PATH)}" in html
    assert assets
    for asset in assets:
        assert asset.startswith(f"{PAGE_PATH}/static/")
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.data
    assert client.get(f"{PAGE_PATH}/static/swagger-ui-bundle.js").mimetype.endswith("javascript")
    assert client.get(f"{PAGE_PATH}/static/swagger-ui.css").mimetype == "text/css"
    assert client.get(DOCUMENT_PATH).get_json()["paths"] == CONTRACT["paths"]


@pytest.mark.parametrize("path", [f"{PAGE_PATH}/static/swagger-editor.js", f"{PAGE_PATH}/static/../core.py"])
def test_nothing_else_of_the_package_is_served(path: str) -> None:
    assert _client(page_endpoints(CONTRACT, title="t", stage="v1")).get(path).status_code == 404


def test_the_page_answers_only_reads() -> None:
    response = _client(page_endpoints(CONTRACT, title="t", stage="v1")).post(PAGE_PATH)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert "use GET" in response.get_json()["message"]
