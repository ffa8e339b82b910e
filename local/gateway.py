"""API Gateway (REST, Lambda proxy) in front of the local functions.

Follows the reference notes §1-3: undefined routes are 403 "Missing Authentication Token"; the
Cognito authorizer answers 401; a missing or wrong API key is 403 "Forbidden"; a function that
raises, times out or returns a malformed response is 502. Those error responses carry the
template's gateway-response headers (CORS). Events are built by local/events.py.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from werkzeug.wrappers import Request, Response

from local import console
from local.authorizer import CognitoAuthorizer, Denied
from local.events import authorizer_claims, rest_event
from local.runner import Invocation, Runner
from local.spec import ApiSpec, GatewayResponse, Route

INTERNAL_ERROR = "Internal server error"
_PROXY_RESPONSE_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}
_ERROR_TYPES = {401: "UnauthorizedException", 403: "ForbiddenException", 502: "InternalServerErrorException"}


class Malformed(ValueError):
    """The function's return value is not a Lambda proxy response."""


@dataclass(frozen=True)
class _Failure:
    """An error that API Gateway answers itself, with a gateway response of `kind`."""

    kind: str
    status: int
    message: str


MISSING_AUTHENTICATION_TOKEN = _Failure("MISSING_AUTHENTICATION_TOKEN", 403, "Missing Authentication Token")
INVALID_API_KEY = _Failure("INVALID_API_KEY", 403, "Forbidden")


class ApiKeys:
    """Enabled API keys of the local API Gateway (moto); refreshed when an unknown value shows up."""

    def __init__(self, apigateway: Any):
        self._apigateway = apigateway
        self._values: set[str] = set()
        self._lock = threading.Lock()

    def accepts(self, value: str | None) -> bool:
        if not value:
            return False
        if value in self._values:
            return True
        with self._lock:
            pages = self._apigateway.get_paginator("get_api_keys").paginate(includeValues=True)
            self._values = {k["value"] for page in pages for k in page["items"] if k.get("enabled")}
        return value in self._values


class _RouteTable:
    """Resources matched as API Gateway matches them: literal segments before {params} before {greedy+}."""

    def __init__(self, routes: tuple[Route, ...]):
        by_resource: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_resource.setdefault(route.resource, {})[route.method] = route
        self._table = sorted(
            ((_pattern(resource), methods) for resource, methods in by_resource.items()),
            key=lambda entry: entry[0][1],
        )

    def match(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        for (regex, _), methods in self._table:
            found = regex.fullmatch(path)
            if found:
                route = methods.get(method) or methods.get("ANY")
                return (route, found.groupdict()) if route else None
        return None


def _pattern(resource: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    parts, rank = [], []
    for segment in resource.strip("/").split("/") if resource != "/" else []:
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            rank.append(2)
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            rank.append(1)
        else:
            parts.append(re.escape(segment))
            rank.append(0)
    return re.compile("/" + "/".join(parts)), tuple(rank)


class Gateway:
    def __init__(
        self,
        api: ApiSpec,
        *,
        runner: Runner,
        authorizers: dict[str, CognitoAuthorizer],
        api_keys: ApiKeys | None,
        api_id: str,
        account_id: str,
        on_event: Callable[[dict[str, Any]], None] | None = None,
    ):
        self.api = api
        self._routes = _RouteTable(api.routes)
        self._runner = runner
        self._authorizers = authorizers
        self._api_keys = api_keys
        self._api_id = api_id
        self._account_id = account_id
        self._on_event = on_event  # test-only hook (--test-hooks): sees every event sent to a function

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        request_id = str(uuid.uuid4())
        path = request.path[len(self.api.stage) + 1 :] or "/"
        matched = self._routes.match(path, request.method)
        invocation = None
        if matched is None:
            response = self._failure(MISSING_AUTHENTICATION_TOKEN, request, request_id)
        else:
            route, path_parameters = matched
            response, invocation = self._serve(route, path, path_parameters, request, request_id)
        response.headers["x-amzn-RequestId"] = request_id
        latency_ms = (time.perf_counter() - started) * 1000
        console.request_line(
            request.method, request.full_path.rstrip("?"), response.status_code, invocation, latency_ms
        )
        return response

    def _serve(
        self, route: Route, path: str, path_parameters: dict[str, str], request: Request, request_id: str
    ) -> tuple[Response, Invocation | None]:
        if route.mock is not None:
            headers = {name: _header_value(expr, request) for name, expr in route.mock.headers.items()}
            return Response(
                route.mock.body, status=route.mock.status, headers=headers, mimetype="application/json"
            ), None
        claims = None
        if route.authorizer:
            authorizer = self._authorizers[route.authorizer]
            try:
                claims = authorizer.authorize(request.headers.get(authorizer.header), route.scopes)
            except Denied as denied:
                return self._failure(_Failure("UNAUTHORIZED", 401, denied.message), request, request_id), None
        # API Gateway checks the key after the authorizer (a Lambda authorizer may even supply it).
        if route.api_key and not (
            self._api_keys and self._api_keys.accepts(request.headers.get(self.api.api_key_header))
        ):
            return self._failure(INVALID_API_KEY, request, request_id), None
        event = self._event(route, path, path_parameters, request, request_id, claims)
        if self._on_event:
            self._on_event(event)
        assert route.function is not None
        invocation = self._runner.invoke(route.function, event)
        try:
            if invocation.error:
                raise Malformed(invocation.error)
            return proxy_response(invocation.payload), invocation
        except Malformed as error:
            invocation.logs.append(f"[gateway] Execution failed: {error}")
            return self._failure(
                _Failure("DEFAULT_5XX", 502, INTERNAL_ERROR), request, request_id
            ), invocation

    def _event(
        self,
        route: Route,
        path: str,
        path_parameters: dict[str, str],
        request: Request,
        request_id: str,
        claims: dict[str, Any] | None,
    ) -> dict[str, Any]:
        body: str | None = None
        is_base64 = False
        raw = request.get_data()
        if raw:
            try:
                body = raw.decode()
            except UnicodeDecodeError:
                body, is_base64 = base64.b64encode(raw).decode(), True
        host = request.host.split(":")[0]
        forwarded = [
            ("X-Forwarded-For", request.remote_addr or "127.0.0.1"),
            ("X-Forwarded-Port", str(request.environ.get("SERVER_PORT", ""))),
            ("X-Forwarded-Proto", request.scheme),
        ]
        return rest_event(
            method=request.method,
            resource=route.resource,
            path=path,
            stage=self.api.stage,
            path_parameters=path_parameters,
            query=list(request.args.items(multi=True)),
            headers=[*request.headers.items(), *forwarded],
            body=body,
            is_base64_encoded=is_base64,
            claims=authorizer_claims(claims) if claims is not None else None,
            source_ip=request.remote_addr or "127.0.0.1",
            api_id=self._api_id,
            account_id=self._account_id,
            domain_name=host,
            request_id=request_id,
        )

    def _failure(self, failure: _Failure, request: Request, request_id: str) -> Response:
        configured = self._gateway_response(failure)
        status = configured.status if configured and configured.status else failure.status
        template = (configured.templates if configured else {}).get("application/json")
        body = (
            _render(template, failure, request_id) if template else json.dumps({"message": failure.message})
        )
        headers = {
            name: _header_value(expr, request)
            for name, expr in (configured.headers if configured else {}).items()
        }
        headers["x-amzn-ErrorType"] = _ERROR_TYPES.get(status, "ForbiddenException")
        return Response(body, status=status, headers=headers, mimetype="application/json")

    def _gateway_response(self, failure: _Failure) -> GatewayResponse | None:
        responses = self.api.gateway_responses
        default = "DEFAULT_5XX" if failure.status >= 500 else "DEFAULT_4XX"
        return responses.get(failure.kind) or responses.get(default)


def proxy_response(payload: Any) -> Response:
    """The HTTP response for a Lambda proxy result, or Malformed (API Gateway's 502)."""
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
    data = base64.b64decode(body) if body and is_base64 else (body or "").encode()
    response = Response(data, status=status, mimetype=None)
    response.headers.clear()
    for name, values in _merged_headers(payload).items():
        for value in values:
            response.headers.add(name, value)
    response.headers.setdefault("Content-Type", "application/json")
    return response


def _merged_headers(payload: dict[str, Any]) -> dict[str, list[str]]:
    single = payload.get("headers") or {}
    multi = payload.get("multiValueHeaders") or {}
    if not isinstance(single, dict) or not isinstance(multi, dict):
        raise Malformed("headers and multiValueHeaders must be objects")
    merged = {k: [_scalar(v)] for k, v in single.items()}
    for name, values in multi.items():
        if not isinstance(values, list):
            raise Malformed(f"multiValueHeaders[{name!r}] must be a list")
        # AWS: a header in both keeps only the multiValueHeaders values.
        merged[name] = [_scalar(v) for v in values]
    return merged


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    raise Malformed(f"header values must be scalars, got {type(value).__name__}")


def _describe(payload: Any) -> str:
    if isinstance(payload, dict):
        return f"keys {sorted(payload)}"
    return type(payload).__name__


def _header_value(expression: str, request: Request) -> str:
    """A response-parameter mapping: a quoted literal, or a request header API Gateway copies."""
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    if expression.startswith("method.request.header."):
        return request.headers.get(expression.removeprefix("method.request.header."), "")
    return ""


def _render(template: str, failure: _Failure, request_id: str) -> str:
    """The few $context variables gateway-response templates use."""
    return (
        template.replace("$context.error.messageString", json.dumps(failure.message))
        .replace("$context.error.message", failure.message)
        .replace("$context.error.responseType", failure.kind)
        .replace("$context.requestId", request_id)
    )
