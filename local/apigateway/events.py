"""API Gateway proxy events, in the shape API Gateway sends them: REST (payload format 1.0,
`rest_event`) and HTTP API (payload format 2.0, `http_api_event`).

One builder per format for the local cloud, the tests and the sample events, so each event's shape
(docs/aws-behaviour.md §3 and its HTTP API section) lives in one place.
"""

from __future__ import annotations

import base64
import json
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, unquote, urlencode

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_date(epoch_seconds: int | float) -> str:
    """`Tue Apr 04 18:39:39 UTC 2023`: how the Cognito authorizer renders exp and iat."""
    t = datetime.fromtimestamp(int(epoch_seconds), tz=UTC)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} {t:%H:%M:%S} UTC {t.year}"


def request_time(epoch_seconds: float) -> str:
    """`20/Nov/2026:10:19:40 +0000`: requestContext.requestTime."""
    t = datetime.fromtimestamp(int(epoch_seconds), tz=UTC)
    return f"{t.day:02d}/{_MONTHS[t.month - 1]}/{t.year}:{t:%H:%M:%S} +0000"


def authorizer_claims(token_claims: Mapping[str, Any]) -> dict[str, str]:
    """A verified token's claims as the Cognito authorizer passes them on: every value a string."""
    claims: dict[str, str] = {}
    for name, value in token_claims.items():
        if name in ("exp", "iat"):
            claims[name] = java_date(value)
        elif isinstance(value, bool):
            claims[name] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            # cognito:groups with several groups; AWS's rendering is unsettled ("a,b" or "[a b]").
            claims[name] = ",".join(str(v) for v in value)
        else:
            claims[name] = str(value)
    return claims


def _single_and_multi(
    pairs: Iterable[tuple[str, str]],
) -> tuple[dict[str, str] | None, dict[str, list[str]] | None]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return (single or None), (multi or None)


def rest_event(
    *,
    method: str,
    resource: str,
    path: str,
    stage: str = "v1",
    path_parameters: Mapping[str, str] | None = None,
    query: Iterable[tuple[str, str]] = (),
    headers: Iterable[tuple[str, str]] = (),
    body: str | None = None,
    is_base64_encoded: bool = False,
    claims: Mapping[str, str] | None = None,
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    account_id: str = "123456789012",
    domain_name: str = "localhost",
    request_id: str | None = None,
    now: float | None = None,
    api_key: str | None = None,
    api_key_id: str | None = None,
) -> dict[str, Any]:
    """A proxy event for one request. Maps that would be empty are None, as in AWS."""
    now = time.time() if now is None else now
    request_id = request_id or str(uuid.uuid4())
    header_list = list(headers)
    single_headers, multi_headers = _single_and_multi(header_list)
    single_query, multi_query = _single_and_multi(query)
    user_agent = next((v for k, v in header_list if k.lower() == "user-agent"), None)
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": single_headers,
        "multiValueHeaders": multi_headers,
        "queryStringParameters": single_query,
        "multiValueQueryStringParameters": multi_query,
        "pathParameters": dict(path_parameters) if path_parameters else None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {resource}").hex[:6],
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": uuid.uuid4().hex[:16] + "=",
            "requestTime": request_time(now),
            "path": f"/{stage}{path}",
            "accountId": account_id,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": domain_name.split(".")[0],
            "requestTimeEpoch": int(now * 1000),
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                **({"apiKey": api_key, "apiKeyId": api_key_id} if api_key else {}),
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": user_agent,
                "user": None,
            },
            "domainName": domain_name,
            "apiId": api_id,
            "authorizer": {"claims": dict(claims)} if claims is not None else None,
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    }


# ---------------------------------------------------------------- HTTP API, payload format 2.0


def http_api_claims(token_claims: Mapping[str, Any]) -> dict[str, str]:
    """A verified token's claims as the JWT authorizer passes them on (`jwt.claims`): every value a
    string. Numbers as decimal strings (not REST's dates), booleans "true"/"false", arrays as "[a b]",
    objects as JSON text, null claims left out; listed in alphabetical order, as captures show them."""
    claims: dict[str, str] = {}
    for name in sorted(token_claims):
        value = token_claims[name]
        if value is None:
            continue
        if isinstance(value, bool):
            claims[name] = "true" if value else "false"
        elif isinstance(value, list | tuple):
            # Ambiguous when an item holds a space; AWS renders it so all the same.
            claims[name] = "[" + " ".join(str(v) for v in value) + "]"
        elif isinstance(value, dict):
            claims[name] = json.dumps(value, separators=(",", ":"))
        else:
            claims[name] = str(value)
    return claims


def jwt_scopes(token_claims: Mapping[str, Any], route_scopes: Sequence[str]) -> list[str] | None:
    """`requestContext.authorizer.jwt.scopes`: null on a route without scopes, even when the token has
    some; else the token's full scope list (not only the route's). `scp` wins over `scope` when a
    token has both (unsettled: the choice of other emulators), as a list or a space-separated string."""
    if not route_scopes:
        return None
    granted = token_claims.get("scp", token_claims.get("scope", ""))
    return [str(s) for s in granted] if isinstance(granted, list | tuple) else str(granted).split()


# Content types the HTTP API passes as text; every other body (a form, none declared) arrives base64.
HTTP_API_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")


def http_api_body_is_text(content_type: str | None) -> bool:
    media_type = (content_type or "").partition(";")[0].strip().lower()
    return media_type.startswith("text/") or media_type in HTTP_API_TEXT_TYPES


def http_api_request_id() -> str:
    """`Mc7UVioPPHcEKPA=`: 16 characters ending in `=`, also sent as the `apigw-requestid` header."""
    return base64.urlsafe_b64encode(os.urandom(11)).decode()


def _joined(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Repeated names joined with a comma, no space, as the HTTP API does for headers and query."""
    joined: dict[str, str] = {}
    for name, value in pairs:
        joined[name] = f"{joined[name]},{value}" if name in joined else value
    return joined


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
    is_base64_encoded: bool = False,
    token_claims: Mapping[str, Any] | None = None,
    route_scopes: Sequence[str] = (),
    source_ip: str = "127.0.0.1",
    api_id: str = "local",
    account_id: str = "123456789012",
    domain_name: str = "localhost",
    request_id: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """A payload format 2.0 event for one request to an HTTP API route.

    `path` is the path after the stage, as sent (percent-encoded or not): `rawPath` is it decoded,
    with `/{stage}` in front on a named stage. `query` holds decoded pairs; `raw_query_string` is the
    query as sent (made from `query` when not given). `token_claims` are the verified token's claims,
    rendered here; None means the route has no authorizer. `headers` are passed as given (the
    gateway adds its own x-forwarded-* ones), names lower-cased. A `bytes` body is passed as text or base64
    by its content type, as the HTTP API decides; a `str` body is passed as given. Empty optional keys
    are left out, not null, as in AWS's captures.
    """
    now = time.time() if now is None else now
    header_pairs = [(name.lower(), value) for name, value in headers]
    # The cookie header is taken out and split into `cookies`, one name=value each.
    cookies = [
        c.strip() for name, value in header_pairs if name == "cookie" for c in value.split(";") if c.strip()
    ]
    joined_headers = _joined((n, v) for n, v in header_pairs if n != "cookie")
    query_pairs = list(query)
    if raw_query_string is None:
        # surrogatepass: tests send lone surrogates, which no HTTP client could encode.
        raw_query_string = urlencode(query_pairs, quote_via=quote, errors="surrogatepass")
    raw_path = unquote(path if stage == "$default" else f"/{stage}{path}")
    if isinstance(body, bytes):
        is_base64_encoded = not http_api_body_is_text(joined_headers.get("content-type"))
        body = base64.b64encode(body).decode() if is_base64_encoded else body.decode("utf-8", "replace")
    request_context: dict[str, Any] = {
        "accountId": account_id,
        "apiId": api_id,
    }
    if token_claims is not None:
        request_context["authorizer"] = {
            "jwt": {"claims": http_api_claims(token_claims), "scopes": jwt_scopes(token_claims, route_scopes)}
        }
    request_context |= {
        "domainName": domain_name,
        "domainPrefix": domain_name.split(".")[0],
        "http": {
            "method": method,
            "path": raw_path,
            "protocol": "HTTP/1.1",  # what backends get, whatever the client spoke
            "sourceIp": source_ip,
            "userAgent": joined_headers.get("user-agent", ""),
        },
        "requestId": request_id or http_api_request_id(),
        "routeKey": route_key,
        "stage": stage,
        "time": request_time(now),
        "timeEpoch": int(now * 1000),
    }
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": raw_path,
        "rawQueryString": raw_query_string,
    }
    if cookies:
        event["cookies"] = cookies
    event["headers"] = joined_headers
    if query_pairs:
        event["queryStringParameters"] = _joined(query_pairs)
    if path_parameters:
        event["pathParameters"] = {name: unquote(value) for name, value in path_parameters.items()}
    event["requestContext"] = request_context
    if body is not None:
        event["body"] = body
    event["isBase64Encoded"] = is_base64_encoded
    return event
