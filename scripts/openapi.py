"""Writes docs/openapi.json, the API's contract, from the code and template.yaml.

    .venv/bin/python -m scripts.openapi           # rewrite docs/openapi.json (make openapi)
    .venv/bin/python -m scripts.openapi --check   # exit 1 if the committed file is not what this writes

Never edit docs/openapi.json by hand: tests/unit/test_openapi.py fails while it differs from what this
writes. Where each part comes from:
- routes, their functions and scopes, the OAuth 2.0 scopes and their descriptions: the transformed
  template (sam_local_cloud/cloudformation/spec.py and template.py), as the gateway and the local
  cloud read them;
- request bodies: the JSON Schemas the handlers validate with (product_api/models.py), plus the two
  rules the code checks after them (price, currency), said here as JSON Schema from the code's own
  constants;
- response bodies: product_api/models.py (products, pages, errors);
- parameters: the code's own limits and patterns (page size, next_token, ids, Idempotency-Key).
What each operation is and which statuses it answers is written below, once per route; a route in the
template that is not described here stops the generator.
"""

from __future__ import annotations

import argparse
import copy
import gc
import json
import logging
import os
import sys
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "functions"))  # the Lambda code, as its package root in AWS

from product_api import idempotency, models, store  # noqa: E402
from product_api.currencies import ISO_4217  # noqa: E402
from sam_local_cloud.cloudformation.spec import proxy_routes, read_spec  # noqa: E402
from sam_local_cloud.cloudformation.template import Template, translate  # noqa: E402

gc.enable()  # importing product_api pauses collection for a Lambda cold start; not wanted here

OUTPUT = ROOT / "docs" / "openapi.json"
SECURITY_SCHEME = "CognitoUserPool"
# Routes without scopes: the Cognito authorizer takes an ID token there.
ID_TOKEN_SCHEME = "CognitoIdToken"  # noqa: S105 - a scheme's name, not a secret
# Which member of the code flow's token response the ID-token scheme sends: Swagger UI's own extension
# name for it on OAuth 2.0 schemes; the local API page reads it on this HTTP scheme
# (sam_local_cloud/api_page.py).
TOKEN_NAME = "x-tokenName"  # noqa: S105 - an extension's name, not a secret
DOMAIN_URL = "https://{domain}.auth.{region}.amazoncognito.com"
# The OpenID Connect scopes a people's client may allow, as the code flow's dialog explains them.
OIDC_SCOPES = {
    "openid": "An ID token too: GET /me takes it",
    "email": "The person's email in the ID token",
    "phone": "The person's phone number in the ID token",
    "profile": "The person's profile attributes in the ID token",
}
JSON = "application/json"

# What the code checks after the body's JSON Schema (parse_price, parse_currency), said as JSON Schema.
PRICE = {
    "description": (
        "A decimal of at least 0 and less than 10^12 with at most two places, as a JSON number or a "
        "string; returned as a string with two places."
    ),
    "anyOf": [
        {"type": "number", "minimum": 0, "exclusiveMaximum": int(models.MAX_PRICE), "multipleOf": 0.01},
        {"type": "string", "pattern": r"^[0-9]{1,12}(\.[0-9]{1,2})?$"},
    ],
    "examples": ["19.90", 19.9],
}
CURRENCY = {"description": "An ISO 4217 code in use.", "enum": sorted(ISO_4217), "examples": ["EUR"]}

# ---------------------------------------------------------------- parameters and headers

ID_PARAMETER = {
    "name": "id",
    "in": "path",
    "required": True,
    "description": "A product id: " + models.ID_FORMAT.removeprefix("must be a ") + ".",
    "schema": {"type": "string", "format": "uuid", "pattern": f"^{models.UUID_PATTERN.pattern}$"},
}
LIMIT_PARAMETER = {
    "name": "limit",
    "in": "query",
    "required": False,
    "description": "How many products a page holds at most.",
    "schema": {
        "type": "integer",
        "minimum": 1,
        "maximum": models.PAGE_SIZE_MAX,
        "default": models.PAGE_SIZE_DEFAULT,
    },
}
NEXT_TOKEN_PARAMETER = {
    "name": "next_token",
    "in": "query",
    "required": False,
    "description": "The previous page's next_token; leave it out for the first page. Anything else is 400.",
    "schema": {"type": "string", "pattern": f"^{store.PAGE_TOKEN_TEXT.pattern}$"},
}
IDEMPOTENCY_KEY_PARAMETER = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": (
        "Makes the create safe to retry: a retry with the same key and body returns the first response "
        f"and creates nothing; the same key with another body is 422. Keys are per caller and count for "
        f"{idempotency.EXPIRES_AFTER_SECONDS // 3600} hours."
    ),
    "schema": {"type": "string", "pattern": f"^{idempotency.KEY_TEXT.pattern}$"},
}
LOCATION_HEADER = {"description": "The new product's URL path", "schema": {"type": "string"}}
REPLAYED_HEADER = {
    "description": "`true` when the response is the one stored for this Idempotency-Key",
    "schema": {"type": "string", "enum": ["true"]},
}

# ---------------------------------------------------------------- responses


def _body(schema: str, description: str, **extra: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {JSON: {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
        **extra,
    }


def _error(description: str) -> dict[str, Any]:
    return _body("Message", description)


def _invalid(description: str) -> dict[str, Any]:
    return _body("Problem", description)


# Every operation: what the gateways and the shared handler code may answer. Where the two APIs differ
# (docs/aws-behaviour.md, HTTP API section), the description says which answers what.
COMMON_RESPONSES = {
    "401": _error(
        "REST API: no token, or one the Cognito authorizer refuses: bad, foreign, expired, or without "
        "a scope. HTTP API: no token, or one the JWT authorizer refuses: bad, expired, or from an app "
        'client outside its audience ({"message":"Unauthorized"} with a www-authenticate header)'
    ),
    "403": _error(
        "HTTP API: a valid token holding none of the route's scopes, an ID token on a scoped route "
        'included ({"message":"Forbidden"}). REST API: the API key is missing or wrong '
        "(RequireApiKey=true). Either: the claims lack the route's scope (the handler's own check, "
        "reached only if the gateway configuration drifts)"
    ),
    "429": _error("Throttled by the stage, a usage plan (REST), or WAF's rate limit (REST)"),
    "500": _error(
        "An unexpected error in the function (logged with the request id); on the HTTP API also a "
        'function that crashed or answered malformed ({"message":"Internal Server Error"})'
    ),
    "502": _error("REST API: the function crashed, timed out or answered malformed"),
    "503": _error(
        'HTTP API: the function timed out (30 s) or was throttled ({"message":"Service Unavailable"})'
    ),
}

# ---------------------------------------------------------------- operations, one per route

OPERATIONS: dict[tuple[str, str], dict[str, Any]] = {
    ("GET", "/products"): {
        "summary": "List products, a page at a time",
        "parameters": [LIMIT_PARAMETER, NEXT_TOKEN_PARAMETER],
        "responses": {
            "200": _body("ProductPage", "A page of products"),
            "400": _invalid("A bad limit or next_token"),
        },
    },
    ("GET", "/products/{id}"): {
        "summary": "Read a product",
        "parameters": [ID_PARAMETER],
        "responses": {
            "200": _body("Product", "The product"),
            "400": _invalid("An id outside the id format"),
            "404": _error("No product has this id"),
        },
    },
    ("POST", "/products"): {
        "summary": "Create a product; the server makes its id",
        "parameters": [IDEMPOTENCY_KEY_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/ProductInput"}}},
        },
        "responses": {
            "201": _body(
                "Product",
                "The new product (or, with a reused Idempotency-Key, the one the first request created)",
                headers={"Location": LOCATION_HEADER, "Idempotent-Replayed": REPLAYED_HEADER},
            ),
            "400": _invalid(
                "A body that is missing, not JSON, or not a valid product; a bad Idempotency-Key"
            ),
            "409": _error("A request with this Idempotency-Key is still running"),
            "415": _invalid("A body whose Content-Type is not application/json"),
            "422": _invalid("This Idempotency-Key was used with another body"),
        },
    },
    ("PUT", "/products/{id}"): {
        "summary": "Replace a product at the version last read",
        "parameters": [ID_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {JSON: {"schema": {"$ref": "#/components/schemas/ProductUpdate"}}},
        },
        "responses": {
            "200": _body("Product", "The product as stored now, its version one higher"),
            "400": _invalid(
                "An id outside the id format, or a body that is not a valid product with a version"
            ),
            "404": _error("No product has this id"),
            "409": _error("The stored version is not the one sent: read the product again (current_version)"),
            "415": _invalid("A body whose Content-Type is not application/json"),
        },
    },
    ("GET", "/me"): {
        "summary": "Who is calling: the person an ID token names (an access token: 401 on REST, 403 on HTTP)",
        "responses": {
            "200": _body("Caller", "The caller, from their ID token's claims"),
            "403": _error(
                "An access token: the HTTP API's JWT authorizer passes it (the route has no scopes) and "
                "the function refuses it; REST's authorizer answers 401 first. REST API: the API key is "
                "missing or wrong (RequireApiKey=true)"
            ),
        },
    },
    ("DELETE", "/products/{id}"): {
        "summary": "Delete a product",
        "parameters": [ID_PARAMETER],
        "responses": {
            "204": {"description": "Deleted"},
            "400": _invalid("An id outside the id format"),
            "404": _error("No product has this id"),
        },
    },
}


def _body_schema(schema: dict[str, Any], description: str) -> dict[str, Any]:
    """A request body's JSON Schema as the handler checks it, with the price and currency rules."""
    document = copy.deepcopy(schema)
    document["properties"]["price"] = PRICE
    document["properties"]["currency"] = CURRENCY
    return {"description": description, **document}


def _page_schema() -> dict[str, Any]:
    page = copy.deepcopy(models.PRODUCT_PAGE_SCHEMA)
    page["properties"]["items"]["items"] = {"$ref": "#/components/schemas/Product"}
    return page


def _who_may_call(scopes: tuple[str, ...]) -> str:
    """The operation's scopes in words, shown with it (not only behind the lock icon of a page)."""
    if not scopes:
        return (
            "**Token:** a person's ID token (no scope): the `id_token` of a sign-in (code flow with "
            "`openid`, or the sign-in API). An access token is refused."
        )
    named = ", ".join(f"`{scope}`" for scope in scopes)
    return f"**Scope:** {named}: an access token holding {'it' if len(scopes) == 1 else 'any one of them'}."


def _people_scopes(template: Template) -> dict[str, str]:
    """The OpenID Connect scopes the people's clients (code flow) allow."""
    allowed = {
        scope
        for client in read_spec(template).user_clients.values()
        if "code" in client.get("AllowedOAuthFlows", [])
        for scope in client.get("AllowedOAuthScopes", [])
    }
    return {scope: description for scope, description in OIDC_SCOPES.items() if scope in allowed}


def _scopes(template: Template) -> dict[str, str]:
    spec = read_spec(template)
    return {
        f"{server['Identifier']}/{scope['ScopeName']}": scope.get("ScopeDescription", "")
        for server in spec.resource_servers.values()
        for scope in server.get("Scopes", [])
    }


def document(template: Template | None = None) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API that template.yaml deploys, with its default parameters."""
    template = template or translate()
    spec = read_spec(template)
    paths: dict[str, dict[str, Any]] = {}
    for route in sorted(proxy_routes(template), key=lambda r: (r.resource, r.method)):
        described = OPERATIONS.get((route.method, route.resource))
        if described is None:
            raise SystemExit(f"{route.method} {route.resource}: describe it in scripts/openapi.py OPERATIONS")
        assert route.function is not None
        operation = {
            "operationId": route.function.removesuffix("Function"),
            **copy.deepcopy(described),
            "description": _who_may_call(route.scopes),
            "security": [{SECURITY_SCHEME: list(route.scopes)} if route.scopes else {ID_TOKEN_SCHEME: []}],
        }
        operation["responses"] = dict(sorted({**COMMON_RESPONSES, **operation["responses"]}.items()))
        paths.setdefault(route.resource, {})[route.method.lower()] = operation
    undescribed = set(OPERATIONS) - {(r.method, r.resource) for r in proxy_routes(template)}
    if undescribed:
        raise SystemExit(f"described in scripts/openapi.py but not in template.yaml: {sorted(undescribed)}")
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "product-api",
            "version": version,
            "description": (
                "Products behind Amazon Cognito: every operation with scopes needs an access token holding "
                "one of them; one without scopes (GET /me) takes an ID token. The stack serves the same "
                "operations twice: on a REST API (ApiUrl, a Cognito user pool authorizer) and on an HTTP "
                "API (HttpApiUrl, a JWT authorizer on the same pool). They differ in a few answers: a "
                "missing scope is 401 on REST and 403 on the HTTP API; see each response's description."
            ),
        },
        # For maintainers, out of what documentation pages show.
        "x-generated-by": "scripts/openapi.py, from template.yaml and the code: do not edit by hand",
        "servers": [
            {
                "url": "https://{apiId}.execute-api.{region}.amazonaws.com/{stage}",
                "description": "The stack's ApiUrl output",
                "variables": {
                    "apiId": {"default": "abcdef1234", "description": "the REST API's id"},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": spec.api.stage},
                },
            },
            {
                "url": "https://{httpApiId}.execute-api.{region}.amazonaws.com",
                "description": "The stack's HttpApiUrl output: the HTTP API, its $default stage at the root",
                "variables": {
                    "httpApiId": {"default": "fedcba4321", "description": "the HTTP API's id"},
                    "region": {"default": "us-east-1"},
                },
            },
        ],
        "paths": paths,
        "components": {
            "schemas": {
                "ProductInput": _body_schema(models.PRODUCT_INPUT.schema, "The body of POST /products"),
                "ProductUpdate": _body_schema(
                    models.PRODUCT_UPDATE.schema, "The body of PUT /products/{id}: the version last read"
                ),
                "Product": models.PRODUCT_SCHEMA,
                "ProductPage": _page_schema(),
                "Caller": models.CALLER_SCHEMA,
                "Message": models.MESSAGE_SCHEMA,
                "Problem": models.PROBLEM_SCHEMA,
            },
            "securitySchemes": {
                SECURITY_SCHEME: {
                    "type": "oauth2",
                    "description": (
                        "Access tokens of the stack's Cognito user pool, sent as "
                        "`Authorization: Bearer <token>`: a machine's (client credentials: a client's id "
                        "and secret) or a person's (code flow with PKCE, with the people's client, no "
                        "secret; their groups give their scopes). The token URL is the stack's TokenUrl "
                        "output, the authorization URL its UserPoolDomainUrl and /oauth2/authorize."
                    ),
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": f"{DOMAIN_URL}/oauth2/token",
                            "scopes": _scopes(template),
                        },
                        "authorizationCode": {
                            "authorizationUrl": f"{DOMAIN_URL}/oauth2/authorize",
                            "tokenUrl": f"{DOMAIN_URL}/oauth2/token",
                            "scopes": {**_people_scopes(template), **_scopes(template)},
                        },
                    },
                },
                ID_TOKEN_SCHEME: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": (
                        "An ID token of the stack's Cognito user pool: a person signed in (the `id_token` "
                        "of the code flow's token response when `openid` was asked)."
                    ),
                    TOKEN_NAME: "id_token",
                },
            },
        },
    }


def render(openapi: dict[str, Any]) -> str:
    return json.dumps(openapi, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.openapi", description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only compare with the committed file")
    args = parser.parse_args(argv)
    logging.getLogger("samtranslator").setLevel(logging.ERROR)  # feature-toggle chatter
    text = render(document())
    committed = OUTPUT.read_text() if OUTPUT.exists() else None
    shown = os.path.relpath(OUTPUT, ROOT)
    if args.check:
        if committed != text:
            print(f"{shown} differs from what scripts/openapi.py writes: run `make openapi`")
            return 1
        print(f"{shown} is up to date")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
