"""HTTP API (payload format 2.0) Lambda events, in the shape API Gateway sends them.

The REST (1.0) builder is sam_local_cloud/apigateway/events.py. The 2.0 shape (docs/aws-behaviour.md, "HTTP
APIs": the event): header names lower case, repeated headers joined with `,`, the `cookie` header moved
into `cookies`; `rawPath` decoded, with `/{stage}` on a named stage; `queryStringParameters` decoded
and joined with `,`; empty maps, `cookies` and `body` left out (not null); a JWT's claims all strings,
arrays as `[a b]`; `jwt.scopes` null on a route without scopes.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlencode

from sam_local_cloud import ids
from sam_local_cloud.apigateway.events import request_time
from sam_local_cloud.apigateway.jwt_authorizer import token_scopes

# Bodies of these media types reach the function as text; every other one (form posts and a missing
# Content-Type included) as base64: HTTP APIs have no BinaryMediaTypes.
TEXT_MEDIA_TYPES = ("application/json", "application/xml", "application/javascript")


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


def request_id() -> str:
    """An `apigw-requestid` (and the event's requestId): 16 characters ending in '=', in base64's URL
    alphabet, as AWS's (`LV7fzho-PHcEJPw=`)."""
    return base64.urlsafe_b64encode(ids.random_bytes(11)).decode()[:15] + "="


def jwt_scopes(token_claims: Mapping[str, Any], route_scopes: Sequence[str]) -> list[str] | None:
    """`requestContext.authorizer.jwt.scopes`: null on a route without scopes, even when the token has
    some; else every scope of the token, not only the route's."""
    return token_scopes(token_claims) if route_scopes else None


def jwt_claims(claims: Mapping[str, Any]) -> dict[str, str]:
    """A verified token's claims as the JWT authorizer passes them on: every value a string.

    Numbers as decimals (not REST's dates), booleans `true`/`false`, arrays as `[a b]` (how items
    holding spaces are rendered is unsettled: joined with one space all the same), objects as JSON,
    null claims left out; in name order, as AWS's captures list them.
    """
    rendered = {}
    for name in sorted(claims):
        value = claims[name]
        if value is None:
            continue
        rendered[name] = _claim(value)
    return rendered


def _claim(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list | tuple):
        return "[" + " ".join(_claim(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def http_event(
    *,
    method: str,
    route_key: str,
    raw_path: str,
    raw_query: str = "",
    stage: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    is_base64_encoded: bool = False,
    claims: Mapping[str, Any] | None = None,
    scopes: Sequence[str] | None = None,
    stage_variables: Mapping[str, str] | None = None,
    lambda_context: Mapping[str, Any] | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    account_id: str = "123456789012",
    domain_name: str = "localhost",
    request_id: str = "",
    now: float | None = None,
) -> dict[str, Any]:
    """The 2.0 event of one request. `raw_path` is decoded already, with the stage prefix if any;
    `claims` (None on a route without authorizer) are the token's, rendered here; `lambda_context` (None
    unless a Lambda authorizer allowed the request) is its context, passed on as it returned it."""
    now = time.time() if now is None else now
    joined: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in headers:
        name = name.lower()
        if name == "cookie":
            cookies += [c.strip() for c in value.split(";") if c.strip()]
            continue
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    query: dict[str, str] = {}
    for key, value in parse_qsl(raw_query, keep_blank_values=True):
        query[key] = f"{query[key]},{value}" if key in query else value
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined
    if query:
        event["queryStringParameters"] = query
    if path_parameters:
        event["pathParameters"] = dict(path_parameters)
    if stage_variables:
        event["stageVariables"] = dict(stage_variables)
    context: dict[str, Any] = {"accountId": account_id, "apiId": api_id}
    if claims is not None:
        context["authorizer"] = {
            "jwt": {"claims": jwt_claims(claims), "scopes": list(scopes) if scopes is not None else None}
        }
    elif lambda_context is not None:
        context["authorizer"] = {"lambda": dict(lambda_context)}
    context.update(
        {
            "domainName": domain_name,
            "domainPrefix": domain_name.split(".")[0],
            "http": {
                "method": method,
                "path": raw_path,
                "protocol": "HTTP/1.1",  # what backends get, whatever the client spoke
                "sourceIp": source_ip,
                "userAgent": joined.get("user-agent", ""),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": stage,
            "time": request_time(now),
            "timeEpoch": int(now * 1000),
        }
    )
    event["requestContext"] = context
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64_encoded
    return event


def http_api_event(
    *,
    method: str,
    route_key: str,
    path: str,
    stage: str = "$default",
    path_parameters: Mapping[str, str] | None = None,
    query: Iterable[tuple[str, str]] = (),
    raw_query_string: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: str | bytes | None = None,
    token_claims: Mapping[str, Any] | None = None,
    route_scopes: Sequence[str] = (),
    **context: Any,
) -> dict[str, Any]:
    """`http_event` for a request described as a client sends it, for tests and sample events.

    `path` is the path after the stage, as sent; `query` holds decoded pairs (`raw_query_string`, the
    query as sent, is made from them unless given); a `bytes` body is passed
    as text or base64 by its content type, as the HTTP API decides; `token_claims` (None: a route
    without authorizer) and the route's scopes give the authorizer's part. Anything else (`now`,
    `request_id`, `api_id`...) is passed to `http_event`.
    """
    headers = list(headers)
    is_base64_encoded = False
    if isinstance(body, bytes):
        content_type = next((v for n, v in headers if n.lower() == "content-type"), None)
        is_base64_encoded = not is_text(content_type)
        body = base64.b64encode(body).decode() if is_base64_encoded else body.decode("utf-8", "replace")
    query = list(query)
    context.setdefault("request_id", request_id())
    return http_event(
        method=method,
        route_key=route_key,
        raw_path=unquote(path if stage == "$default" else f"/{stage}{path}"),
        # surrogatepass: tests send lone surrogates, which no HTTP client could encode.
        raw_query=raw_query_string
        if raw_query_string is not None
        else urlencode(query, quote_via=quote, errors="surrogatepass"),
        stage=stage,
        path_parameters={name: unquote(value) for name, value in (path_parameters or {}).items()},
        headers=headers,
        body=body,
        is_base64_encoded=is_base64_encoded,
        claims=token_claims,
        scopes=jwt_scopes(token_claims, route_scopes) if token_claims is not None else None,
        **context,
    )
