"""The interactive API page: Swagger UI on the API's OpenAPI document, served by the local cloud.

`GET /docs` is the page and `/docs/static/...` its assets, read from the swagger-ui-py package (no
CDN: the page works offline). The page reads `/openapi.json`, the contract scripts/openapi.py writes,
with its server the local stage, its OAuth 2.0 URLs the pool's local endpoints and, when the API
requires one, an API key scheme. Each is written for the origin the browser asked (its Host), so
page, token endpoint and API share one origin whichever name of the loopback the page was opened
at: the browser makes no cross-origin request.

"Authorize" offers both flows of the contract's pool scheme: a machine's client credentials (an app
client's id and secret), and a person's code flow with PKCE through the pool's hosted sign-in, with
the people's client (no secret) and Swagger UI's `oauth2-redirect.html` as the redirect. That
redirect must be one of the client's callback URLs, as in Cognito: the page says so, and where to open
it instead, when the address it was opened at is not (Cognito takes plain http only on localhost).
After a person's sign-in, the `id_token` of the token response also authorizes every HTTP bearer
scheme of the contract that names it (`x-tokenName: id_token`, Swagger UI's extension for OAuth 2.0
schemes): routes that want an ID token (GET /me) get it, the others the access token.
"""

from __future__ import annotations

import copy
import json
import mimetypes
from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from swagger_ui.core import ApplicationDocument
from swagger_ui.utils import SWAGGER_UI_PY_ROOT
from werkzeug.wrappers import Request, Response

PAGE_PATH = "/docs"
DOCUMENT_PATH = "/openapi.json"
# Where Swagger UI sends a person back to with a code: it hands the code to the page that opened it.
REDIRECT_PATH = f"{PAGE_PATH}/oauth2-redirect.html"
# The pool domain's endpoints, at the local cloud's root (sam_local_cloud/cognito/).
TOKEN_PATH, AUTHORIZE_PATH = "/oauth2/token", "/oauth2/authorize"
API_KEY_SCHEME = "ApiKey"
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


@dataclass(frozen=True)
class ApiKeyRequirement:
    """RequireApiKey: the header API Gateway reads the key from, and the operations that need it."""

    header: str
    operations: Collection[tuple[str, str]]  # (method in lower case, OpenAPI path)


@dataclass(frozen=True)
class PeopleClient:
    """The app client people sign in with on the page (code flow with PKCE, no secret)."""

    client_id: str
    callback_urls: tuple[str, ...]

    def page_urls(self) -> list[str]:
        """The page's addresses whose redirect the client allows: where people can sign in."""
        return [
            url.removesuffix(REDIRECT_PATH) + PAGE_PATH
            for url in self.callback_urls
            if url.endswith(REDIRECT_PATH)
        ]


def local_document(
    document: dict[str, Any], origin: str, stage: str, api_key: ApiKeyRequirement | None = None
) -> dict[str, Any]:
    """The contract as the local cloud serves it at `origin`: its server the local stage, its OAuth 2.0
    URLs the pool's local endpoints, and the API key where the API requires one."""
    local = copy.deepcopy(document)
    local["servers"] = [{"url": f"{origin}/{stage}", "description": "the local cloud"}]
    schemes = local.setdefault("components", {}).setdefault("securitySchemes", {})
    for scheme in schemes.values():
        for flow in scheme.get("flows", {}).values() if scheme.get("type") == "oauth2" else ():
            if "tokenUrl" in flow:
                flow["tokenUrl"] = origin + TOKEN_PATH
            if "authorizationUrl" in flow:
                flow["authorizationUrl"] = origin + AUTHORIZE_PATH
    if api_key is not None:
        schemes[API_KEY_SCHEME] = {
            "type": "apiKey",
            "in": "header",
            "name": api_key.header,
            "description": "The API key (RequireApiKey=true): the ApiKey of the local cloud's outputs.",
        }
        for path, operations in local.get("paths", {}).items():
            for method, operation in operations.items():
                if (method, path) in api_key.operations:
                    # Both at once: the key and the token (each requirement of the list ANDs its schemes).
                    requirements = operation.get("security") or [{}]
                    operation["security"] = [{**r, API_KEY_SCHEME: []} for r in requirements]
    return local


def page_endpoints(
    document: dict[str, Any],
    title: str,
    stage: str,
    api_key: ApiKeyRequirement | None = None,
    people: PeopleClient | None = None,
) -> dict[str, Endpoint]:
    """Path -> handler for the document (the committed contract, made local per request), the page
    and its assets."""
    config: dict[str, Any] = {
        "pageUrls": people.page_urls() if people else [],
        "pagePath": PAGE_PATH,
        "redirectPath": REDIRECT_PATH,
    }
    page = ApplicationDocument(
        None,
        config=document,
        url_prefix=PAGE_PATH,
        title=title,
        parameters={
            "tryItOutEnabled": "true",  # each operation opens ready to send
            "persistAuthorization": "false",  # a token lives as long as the tab
            "oauth2RedirectUrl": f"window.location.origin + {json.dumps(REDIRECT_PATH)}",
            "plugins": (
                "[SwaggerUIBundle.plugins.DownloadUrl, "
                f"pagePlugin({json.dumps(people.client_id if people else None)})]"
            ),
            "onComplete": f"function () {{ pageNotice({json.dumps(config)}); }}",
        },
        oauth2_config={"usePkceWithAuthorizationCodeGrant": "true"},
    )
    page.parameters["url"] = json.dumps(DOCUMENT_PATH)  # the package would serve its own copy
    html = page.doc_html.replace("<script>\nwindow.onload", f"<script>\n{_PAGE_SCRIPT}\nwindow.onload", 1)
    html = html.replace('<div id="swagger-ui">', _NOTICE + '<div id="swagger-ui">', 1)

    def contract(request: Request) -> Response:
        origin = request.host_url.rstrip("/")  # the address the browser used: one origin for all
        body = json.dumps(local_document(document, origin, stage, api_key))
        return Response(body, content_type="application/json")

    endpoints: dict[str, Endpoint] = {
        DOCUMENT_PATH: _reads_only(contract),
        PAGE_PATH: _fixed(html.encode(), "text/html; charset=utf-8"),
        PAGE_PATH + "/": _fixed(html.encode(), "text/html; charset=utf-8"),
    }
    static = SWAGGER_UI_PY_ROOT / "static"
    for name in _ASSETS:
        content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        endpoints[f"{PAGE_PATH}/static/{name}"] = _fixed((static / name).read_bytes(), content_type)
    endpoints[REDIRECT_PATH] = _fixed(
        (static / "oauth2-redirect.html").read_bytes(), "text/html; charset=utf-8"
    )
    return endpoints


_NOTICE = (
    '<div id="page-notice" role="alert" hidden style="margin:1em auto;max-width:1420px;padding:.8em 1em;'
    'background:#fff4d6;border:1px solid #d9b54a;border-radius:4px;font-family:sans-serif"></div>'
)
# The page's own script, before Swagger UI starts: the people's client id on the code flow's form only
# (Swagger UI would put it on every flow's), the ID token handed to the schemes that name it, and the
# notice when people cannot sign in from the address the page was opened at.
_PAGE_SCRIPT = """
function pagePlugin(peopleClientId) {
  return function (system) {
    var React = system.React;
    return {
      wrapComponents: {
        oauth2: function (Original) {
          return function (props) {
            if (!peopleClientId || props.schema.get("flow") !== "authorizationCode") {
              return React.createElement(Original, props);
            }
            var selectors = Object.assign({}, props.authSelectors, {
              getConfigs: function () {
                return Object.assign({}, props.authSelectors.getConfigs(), {clientId: peopleClientId});
              }
            });
            return React.createElement(Original, Object.assign({}, props, {authSelectors: selectors}));
          };
        }
      },
      statePlugins: {
        auth: {
          wrapActions: {
            authorizeOauth2: function (original) {
              return function (payload) {
                var result = original(payload);
                var idToken = payload && payload.token && payload.token.id_token;
                var schemes = system.specSelectors.specJson().getIn(["components", "securitySchemes"]);
                if (idToken && schemes) {
                  var found = {};
                  schemes.forEach(function (scheme, name) {
                    if (scheme.get("type") === "http" && scheme.get("x-tokenName") === "id_token") {
                      found[name] = {name: name, schema: scheme, value: idToken};
                    }
                  });
                  if (Object.keys(found).length) { system.authActions.authorize(found); }
                }
                return result;
              };
            }
          }
        }
      }
    };
  };
}

function pageNotice(config) {
  if (config.pageUrls.indexOf(window.location.origin + config.pagePath) >= 0) { return; }
  var notice = document.getElementById("page-notice");
  notice.append(
    "People cannot sign in from " + window.location.origin + ": the people's app client does not allow "
    + window.location.origin + config.redirectPath + " as a callback URL (Cognito takes plain http on "
    + "localhost only). "
  );
  if (config.pageUrls.length) {
    var link = document.createElement("a");
    link.href = link.textContent = config.pageUrls[0];
    notice.append("Open ", link, " to sign in as a person. ");
  } else {
    notice.append("Add it to the template parameter ApiPageCallbackUrls to sign in here. ");
  }
  notice.append("A machine's client credentials work here.");
  notice.hidden = false;
}
"""


def _fixed(body: bytes, content_type: str) -> Endpoint:
    def serve(request: Request) -> Response:
        return Response(body, content_type=content_type)

    return _reads_only(serve)


def _reads_only(endpoint: Endpoint) -> Endpoint:
    def serve(request: Request) -> Response:
        if request.method not in ("GET", "HEAD"):
            return Response(
                json.dumps({"message": f"{request.method} is not allowed here; use GET"}),
                status=405,
                headers={"Allow": "GET, HEAD"},
                mimetype="application/json",
            )
        return endpoint(request)

    return serve
