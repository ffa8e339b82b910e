"""The API page's endpoints (local/api_page.py): the local contract, the page and its own assets."""

from __future__ import annotations

import json
import re

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from local.api_page import DOCUMENT_PATH, PAGE_PATH, local_document, page_endpoints
from local.cloudformation.template import ROOT

CONTRACT = json.loads((ROOT / "docs" / "openapi.json").read_text())
API_URL, TOKEN_URL = "http://127.0.0.1:3000/v1", "http://127.0.0.1:3000/oauth2/token"


def _client(endpoints) -> Client:
    def app(environ, start_response):
        handler = endpoints.get(environ["PATH_INFO"])
        response = handler(Request(environ)) if handler else Response("not here", status=404)
        return response(environ, start_response)

    return Client(app)


def test_the_local_contract_names_the_local_stage_and_token_endpoint_and_leaves_the_rest() -> None:
    local = local_document(CONTRACT, api_url=API_URL, token_url=TOKEN_URL)

    assert local["servers"] == [{"url": API_URL, "description": "the local cloud"}]
    token_urls = [
        flow["tokenUrl"]
        for scheme in local["components"]["securitySchemes"].values()
        for flow in scheme.get("flows", {}).values()
    ]
    assert token_urls
    assert set(token_urls) == {TOKEN_URL}
    assert local["paths"] == CONTRACT["paths"]
    assert CONTRACT["servers"][0]["url"].startswith("https://")  # the committed contract is untouched


def test_the_page_loads_the_served_contract_and_only_assets_served_beside_it() -> None:
    client = _client(page_endpoints(CONTRACT, title="product-api (local)"))

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
    assert client.get(DOCUMENT_PATH).get_json() == CONTRACT


@pytest.mark.parametrize("path", [f"{PAGE_PATH}/static/swagger-editor.js", f"{PAGE_PATH}/static/../core.py"])
def test_nothing_else_of_the_package_is_served(path: str) -> None:
    assert _client(page_endpoints(CONTRACT, title="t")).get(path).status_code == 404


def test_the_page_answers_only_reads() -> None:
    response = _client(page_endpoints(CONTRACT, title="t")).post(PAGE_PATH)

    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert "use GET" in response.get_json()["message"]
