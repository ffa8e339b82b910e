"""A payload 2.0 Lambda result turned into the HTTP response an HTTP API sends.

The rules (docs/aws-behaviour.md, "HTTP APIs": the response), beside REST's in proxy.py:
- a result without `statusCode` (a dict without it, a string, a list, a number) is a 200
  `application/json` whose body is the result: a string as it is, anything else as JSON;
- with `statusCode`: `headers` (one value each), `cookies` (a `set-cookie` each), `body`, and
  `isBase64Encoded`, which is always honoured; without a content type, `text/plain; charset=utf-8`;
  unknown keys (`multiValueHeaders` included) are ignored;
- a non-integer `statusCode` or a non-string `body` is `Malformed`: the gateway's 500.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from werkzeug.wrappers import Response

from sam_local_cloud.apigateway.proxy import Malformed, header_text

# What an answer with a statusCode but no content type gets (seen once on AWS; unsettled).
DEFAULT_CONTENT_TYPE = "text/plain; charset=utf-8"


def http_api_response(payload: Any) -> Response:
    if not isinstance(payload, dict) or "statusCode" not in payload:
        text = payload if isinstance(payload, str) else json.dumps(payload)
        return _response(200, [("content-type", "application/json")], text.encode())
    status = payload["statusCode"]
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise Malformed(f"statusCode must be an integer HTTP status, got {status!r}")
    body = payload.get("body")
    if body is not None and not isinstance(body, str):
        raise Malformed(f"body must be a string, got {type(body).__name__}")
    headers = payload.get("headers") or {}
    cookies = payload.get("cookies") or []
    if not isinstance(headers, dict):
        raise Malformed("headers must be an object")
    if not isinstance(cookies, list) or not all(isinstance(c, str) for c in cookies):
        raise Malformed("cookies must be a list of strings")
    data = (body or "").encode()
    if body and payload.get("isBase64Encoded") is True:
        try:
            data = base64.b64decode(body, validate=True)
        except binascii.Error:
            raise Malformed("isBase64Encoded is true but the body is not base64") from None
    pairs = [(str(name), header_text(value)) for name, value in headers.items()]
    if not any(name.lower() == "content-type" for name, _ in pairs):
        pairs.append(("content-type", DEFAULT_CONTENT_TYPE))
    pairs += [("set-cookie", cookie) for cookie in cookies]
    return _response(status, pairs, data)


def _response(status: int, headers: list[tuple[str, str]], data: bytes) -> Response:
    response = Response(data, status=status)
    response.headers.clear()
    for name, value in headers:
        response.headers.add(name, value)
    return response
