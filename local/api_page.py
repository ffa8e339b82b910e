"""The interactive API page: Swagger UI on the API's OpenAPI document, served by the local cloud.

`GET /docs` is the page and `/docs/static/...` its assets, read from the swagger-ui-py package (no
CDN: the page works offline). The page reads `/openapi.json`, the contract scripts/openapi.py writes,
with its server the local stage and its token URL the local token endpoint: "Authorize" gets a token
with an app client's id and secret, and "Try it out" calls the local API with it. Page, token endpoint
and API share one origin (the cloud's base URL), so the browser makes no cross-origin request.
"""

from __future__ import annotations

import copy
import json
import mimetypes
from collections.abc import Callable
from typing import Any

from swagger_ui.core import ApplicationDocument
from swagger_ui.utils import SWAGGER_UI_PY_ROOT
from werkzeug.wrappers import Request, Response

PAGE_PATH = "/docs"
DOCUMENT_PATH = "/openapi.json"
# The files the page loads (swagger_ui/templates/doc.html), and nothing else of the package.
_ASSETS = (
    "swagger-ui.css",
    "index.css",
    "favicon-32x32.png",
    "favicon-16x16.png",
    "swagger-ui-bundle.js",
    "swagger-ui-standalone-preset.js",
)

Endpoint = Callable[[Request], Response]


def local_document(document: dict[str, Any], api_url: str, token_url: str) -> dict[str, Any]:
    """The contract as the local cloud serves it: its server the local stage, every OAuth 2.0 token
    URL the local token endpoint."""
    local = copy.deepcopy(document)
    local["servers"] = [{"url": api_url, "description": "the local cloud"}]
    for scheme in local.get("components", {}).get("securitySchemes", {}).values():
        for flow in scheme.get("flows", {}).values() if scheme.get("type") == "oauth2" else ():
            if "tokenUrl" in flow:
                flow["tokenUrl"] = token_url
    return local


def page_endpoints(document: dict[str, Any], title: str) -> dict[str, Endpoint]:
    """Path -> handler for the document, the page and its assets."""
    page = ApplicationDocument(
        None,
        config=document,
        url_prefix=PAGE_PATH,
        title=title,
        parameters={
            "tryItOutEnabled": "true",  # each operation opens ready to send
            "persistAuthorization": "false",  # a token lives as long as the tab
        },
    )
    page.parameters["url"] = json.dumps(DOCUMENT_PATH)  # the package would serve its own copy
    html = page.doc_html
    endpoints: dict[str, Endpoint] = {
        DOCUMENT_PATH: _fixed(json.dumps(document).encode(), "application/json"),
        PAGE_PATH: _fixed(html.encode(), "text/html; charset=utf-8"),
        PAGE_PATH + "/": _fixed(html.encode(), "text/html; charset=utf-8"),
    }
    static = SWAGGER_UI_PY_ROOT / "static"
    for name in _ASSETS:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        endpoints[f"{PAGE_PATH}/static/{name}"] = _fixed((static / name).read_bytes(), content_type)
    return endpoints


def _fixed(body: bytes, content_type: str) -> Endpoint:
    def serve(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(
                json.dumps({"message": f"{request.method} is not allowed here; use GET"}),
                status=405,
                headers={"Allow": "GET, HEAD"},
                mimetype="application/json",
            )
        return Response(body, content_type=content_type)

    return serve
