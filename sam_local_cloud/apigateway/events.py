"""API Gateway proxy events, in the shape API Gateway sends them: REST (payload format 1.0,
`rest_event`) and HTTP API (payload format 2.0, `http_api_event`).

One builder per format for the local cloud, the tests and the sample events, so each event's shape
(docs/aws-behaviour.md §3 and its HTTP API section) lives in one place.
"""

from __future__ import annotations

import functools
import time
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sam_local_cloud import ids

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def java_date(epoch_seconds: int | float) -> str:
    """`Tue Apr 04 18:39:39 UTC 2023`: how the Cognito authorizer renders exp and iat."""
    t = datetime.fromtimestamp(int(epoch_seconds), tz=UTC)
    return f"{_DAYS[t.weekday()]} {_MONTHS[t.month - 1]} {t.day:02d} {t:%H:%M:%S} UTC {t.year}"


def request_time(epoch_seconds: float) -> str:
    """`20/Nov/2026:10:19:40 +0000`: requestContext.requestTime."""
    return _request_time(int(epoch_seconds))


@functools.lru_cache(maxsize=4)  # requests within a second share it
def _request_time(epoch_seconds: int) -> str:
    t = datetime.fromtimestamp(epoch_seconds, tz=UTC)
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


@functools.lru_cache(maxsize=1024)  # a route's id is the same at every request (a SHA-1 each otherwise)
def _resource_id(method: str, resource: str) -> str:
    return uuid.uuid5(uuid.NAMESPACE_URL, f"{method} {resource}").hex[:6]


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
    authorizer: Mapping[str, Any] | None = None,
    stage_variables: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A proxy event for one request. Maps that would be empty are None, as in AWS. `claims` are a
    Cognito authorizer's; `authorizer` is what a Lambda authorizer passes on (its context, principalId
    and integrationLatency)."""
    now = time.time() if now is None else now
    request_id = request_id or ids.uuid4()
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
        "stageVariables": dict(stage_variables) if stage_variables else None,
        "requestContext": {
            "resourceId": _resource_id(method, resource),
            "resourcePath": resource,
            "httpMethod": method,
            "extendedRequestId": ids.hex_digits(16) + "=",
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
            "authorizer": {"claims": dict(claims)}
            if claims is not None
            else (dict(authorizer) if authorizer is not None else None),
        },
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    }
