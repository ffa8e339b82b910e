"""A Lambda proxy result turned into the HTTP response API Gateway sends (docs/aws-behaviour.md §3).

Anything that is not a proxy response is `Malformed`, which the gateway answers with a 502.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import Any

from werkzeug.wrappers import Response

_PROXY_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


class Malformed(ValueError):
    """The function's return value is not a Lambda proxy response."""


def proxy_response(
    payload: Any, binary_media_types: Iterable[str] = (), accept: str | None = None
) -> Response:
    """The HTTP response for a Lambda proxy result, or Malformed (API Gateway's 502).

    A base64 body (`isBase64Encoded: true`) is decoded only when the request's Accept matches one of
    the API's binary media types; otherwise it is sent as the text it is (docs/aws-behaviour.md §3).
    """
    if not isinstance(payload, dict) or not _PROXY_RESPONSE_KEYS.issuperset(payload):
        raise Malformed(f"expected a dict with only {sorted(_PROXY_RESPONSE_KEYS)}, got {_describe(payload)}")
    status = payload.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise Malformed(f"statusCode must be an HTTP status, got {status!r}")
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        raise Malformed(f"body must be a string, got {type(body).__name__}")
    is_base64 = payload.get("isBase64Encoded", False)
    if not isinstance(is_base64, bool):
        raise Malformed("isBase64Encoded must be a boolean")
    headers = _merged_headers(payload)
    data = (body or "").encode()
    if body and is_base64 and is_binary(accept, binary_media_types):
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise Malformed("isBase64Encoded is true but the body is not base64") from None
    response = Response(data, status=status, mimetype=None)
    response.headers.clear()
    for name, values in headers.items():
        for value in values:
            response.headers.add(name, value)
    response.headers.setdefault("Content-Type", "application/json")
    return response


def is_binary(media_type: str | None, binary_media_types: Iterable[str]) -> bool:
    """Whether a Content-Type or Accept value matches the API's BinaryMediaTypes (`*/*` and `image/*` too).

    Of an Accept list only the first type counts, as in API Gateway.
    """
    if not media_type:
        return False
    offered = [media_type.split(",")[0].split(";")[0].strip().lower()]
    for pattern in binary_media_types:
        kind, _, sub = pattern.lower().partition("/")
        for candidate in offered:
            c_kind, _, c_sub = candidate.partition("/")
            if kind in ("*", c_kind) and sub in ("*", c_sub):
                return True
    return False


def _merged_headers(payload: dict[str, Any]) -> dict[str, list[str]]:
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise Malformed("headers and multiValueHeaders must be objects")
    merged = {k: [header_text(v)] for k, v in single.items()}
    for name, values in multi.items():
        if not isinstance(values, list):
            raise Malformed(f"multiValueHeaders[{name!r}] must be a list")
        # AWS: a header in both keeps only the multiValueHeaders values.
        merged[name] = [header_text(v) for v in values]
    return merged


def header_text(value: Any) -> str:
    """A header value a proxy response may give: a string, number or boolean, as its text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise Malformed(f"header values must be scalars, got {type(value).__name__}")


def _describe(payload: Any) -> str:
    if isinstance(payload, dict):
        return f"keys {sorted(payload)}"
    return type(payload).__name__
