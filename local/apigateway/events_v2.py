"""HTTP API (payload format 2.0) Lambda events, in the shape API Gateway sends them.

The REST (1.0) builder is local/apigateway/events.py. The 2.0 shape (docs/aws-behaviour.md, "HTTP
APIs": the event): header names lower case, repeated headers joined with `,`, the `cookie` header moved
into `cookies`; `rawPath` decoded, with `/{stage}` on a named stage; `queryStringParameters` decoded
and joined with `,`; empty maps, `cookies` and `body` left out (not null); a JWT's claims all strings,
arrays as `[a b]`; `jwt.scopes` null on a route without scopes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl

from local.apigateway.events import request_time

# Bodies of these media types reach the function as text; every other one (form posts and a missing
# Content-Type included) as base64: HTTP APIs have no BinaryMediaTypes.
TEXT_MEDIA_TYPES = ("application/json", "application/xml", "application/javascript")


def is_text(content_type: str | None) -> bool:
    if not content_type:
        return False
    media_type = content_type.split(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in TEXT_MEDIA_TYPES


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
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    account_id: str = "123456789012",
    domain_name: str = "localhost",
    request_id: str = "",
    now: float | None = None,
) -> dict[str, Any]:
    """The 2.0 event of one request. `raw_path` is decoded already, with the stage prefix if any;
    `claims` (None on a route without authorizer) are the token's, rendered here."""
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
