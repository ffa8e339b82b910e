"""An HTTP API (API Gateway v2, Lambda proxy, payload 2.0) in front of the local functions.

A request passes API Gateway's steps in its order (docs/aws-behaviour.md, "HTTP APIs"): the payload limit, the
stage, the route, the route's throttling, the route's authorizer (JWT or Lambda), then the function. No route
(or no stage) is 404 before any authorizer runs. The gateway's own answers are fixed (HTTP APIs have no
gateway responses to customise): `{"message": ...}` bodies, `apigw-requestid` on every response, header names
in lower case. With a CORS configuration the gateway answers preflights itself and puts its CORS headers on
every response to an allowed `Origin`, dropping the function's own. Events are built by
sam_local_cloud/apigateway/events_v2.py, responses read by sam_local_cloud/apigateway/proxy_v2.py.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request, Response

from sam_local_cloud import console
from sam_local_cloud.apigateway import errors, integration, lambda_authorizer
from sam_local_cloud.apigateway.authorizers import Authorization, Authorizer, Denied, Matched, remember_match
from sam_local_cloud.apigateway.events_v2 import http_event, is_text, jwt_scopes, request_id
from sam_local_cloud.apigateway.jwt_authorizer import ScopeMissing, TokenRefused
from sam_local_cloud.apigateway.proxy import Malformed
from sam_local_cloud.apigateway.proxy_v2 import http_api_response
from sam_local_cloud.apigateway.throttle import Throttling
from sam_local_cloud.cloudformation.spec import DEFAULT_ROUTE, DEFAULT_STAGE, CorsSpec, HttpApiSpec, Route
from sam_local_cloud.http_server import RAW_HEADERS, raw_path, raw_target
from sam_local_cloud.lambda_.outcome import Result, Throttled
from sam_local_cloud.lambda_.runner import Invocation, Runner, new_trace_id

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # an HTTP API's payload limit


class HttpApiError(Exception):
    """One of the gateway's fixed answers."""

    status = 500
    message = "Internal Server Error"

    def __init__(self, headers: Mapping[str, str] | None = None):
        super().__init__(self.message)
        self.headers = dict(headers or {})


class NotFound(HttpApiError):
    """No stage or no route matches (before any authorizer)."""

    status = 404
    message = "Not Found"


class Unauthorized(HttpApiError):
    status = 401
    message = "Unauthorized"


class Forbidden(HttpApiError):
    status = 403
    message = "Forbidden"


class RequestTooLarge(HttpApiError):
    """A body over 10 MB. AWS's body is unsettled: this is where the local cloud picks one."""

    status = 413
    message = "Request Entity Too Large"


class TooManyRequests(HttpApiError):
    """The stage's route throttling (the status is documented; the body is unsettled)."""

    status = 429
    message = "Too Many Requests"


class IntegrationFailed(HttpApiError):
    """The function raised, returned a malformed answer, or could not run: 500, capital S and E."""


class ServiceUnavailable(HttpApiError):
    """The integration timed out (30 s unless the route says less), or Lambda throttled the function."""

    status = 503
    message = "Service Unavailable"


@dataclass
class _Exchange:
    request: Request
    request_id: str
    invocation: Invocation | None = None
    marks: list[str] = field(default_factory=list)
    preflight: bool = False  # answered by the gateway's CORS, with its own headers


class HttpApiGateway:
    def __init__(
        self,
        api: HttpApiSpec,
        *,
        runner: Runner,
        authorizers: Mapping[str, Authorizer],
        throttling: Throttling | None,
        api_id: str,
        account_id: str,
    ):
        self.api = api
        self._routes = _RouteTable(api.routes)
        self._runner = runner
        self._authorizers = authorizers
        self._throttling = throttling
        self._api_id = api_id
        self._account_id = account_id

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        exchange = _Exchange(request, request_id())
        try:
            response = self._handle(exchange)
        except HttpApiError as error:
            response = error_response(error)
        if self.api.cors is not None and not exchange.preflight:
            _apply_cors(response, self.api.cors, request.headers.get("Origin"))
        response.headers["apigw-requestid"] = exchange.request_id
        console.request_line(
            request.method,
            raw_target(request),
            response.status_code,
            exchange.invocation,
            (time.perf_counter() - started) * 1000,
            marks=exchange.marks,
        )
        return response

    # ------------------------------------------------------------ the steps

    def _handle(self, exchange: _Exchange) -> Response:
        request = exchange.request
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise RequestTooLarge
        sent_path = raw_path(request)
        in_stage = self._path_in_stage(sent_path)
        matched = self._routes.match(in_stage, request.method)
        if matched is None:
            if self.api.cors is not None and _is_preflight(request):
                exchange.preflight = True
                return _preflight(self.api.cors, request)
            raise NotFound
        route, path_parameters = matched
        if self._throttling:
            try:
                self._throttling.check_method(route.resource, route.method)
            except errors.Throttled:
                raise TooManyRequests from None
        if route.unenforced:
            exchange.marks.append(f"UNENFORCED: {route.unenforced}")
        remember_match(request, Matched(in_stage, path_parameters, exchange.request_id))
        authorization = self._authorize(route, request)
        if route.function is None:
            raise IntegrationFailed  # served unenforced, but there is nothing local to integrate with
        body = request.get_data()
        if len(body) > MAX_REQUEST_BYTES:  # a chunked body has no Content-Length to refuse it by
            raise RequestTooLarge
        trace_id = new_trace_id()
        event = self._event(
            route, unquote(sent_path), path_parameters, exchange, body, authorization, trace_id
        )
        return self._integrate(route, event, exchange, trace_id)

    def _path_in_stage(self, raw_path: str) -> str:
        """The path after the stage; NotFound when it names no stage of this API."""
        if self.api.stage == DEFAULT_STAGE:
            return raw_path
        prefix = f"/{self.api.stage}"
        if raw_path != prefix and not raw_path.startswith(prefix + "/"):
            raise NotFound  # only a $default stage would have taken it
        return raw_path[len(prefix) :] or "/"

    def _authorize(self, route: Route, request: Request) -> Authorization | None:
        if not route.authorizer:
            return None
        try:
            return self._authorizers[route.authorizer].check(request, route)
        except lambda_authorizer.AccessDenied:
            raise Forbidden from None
        except lambda_authorizer.AuthorizerFailed:
            raise IntegrationFailed from None
        except lambda_authorizer.Unauthorized:
            raise Unauthorized from None
        except ScopeMissing as missing:
            raise Forbidden({"www-authenticate": missing.www_authenticate}) from None
        except TokenRefused as refused:
            raise Unauthorized({"www-authenticate": refused.www_authenticate}) from None
        except Denied:
            raise Unauthorized({"www-authenticate": "Bearer"}) from None

    def _integrate(self, route: Route, event: dict[str, Any], exchange: _Exchange, trace_id: str) -> Response:
        invocation = integration.invoke(self._runner, route, event, exchange.request_id, trace_id)
        if invocation is None:  # past the integration timeout: the function runs on
            raise ServiceUnavailable
        exchange.invocation = invocation
        outcome = invocation.outcome
        if isinstance(outcome, Throttled):
            exchange.marks.append("throttled: every execution environment of the function is busy")
            raise ServiceUnavailable
        if not isinstance(outcome, Result):  # raised, timed out, too large, did not init, exited
            invocation.logs.append(f"[gateway] Execution failed: {outcome.describe()}")
            raise IntegrationFailed
        try:
            response = http_api_response(outcome.payload)
        except Malformed as error:
            invocation.logs.append(f"[gateway] Malformed Lambda proxy response: {error}")
            raise IntegrationFailed from None
        if self.api.cors is not None:  # the gateway's CORS headers replace the function's
            for name in {n for n, _ in response.headers if n.lower().startswith("access-control-")}:
                del response.headers[name]
        return response

    def _event(
        self,
        route: Route,
        raw_path: str,
        path_parameters: dict[str, str],
        exchange: _Exchange,
        raw_body: bytes,
        authorization: Authorization | None,
        trace_id: str,
    ) -> dict[str, Any]:
        request = exchange.request
        body: str | None = None
        is_base64 = False
        if raw_body:
            if is_text(request.headers.get("Content-Type")):
                body = raw_body.decode("utf-8", errors="replace")
            else:
                body, is_base64 = base64.b64encode(raw_body).decode(), True
        headers = list(request.environ.get(RAW_HEADERS) or request.headers.items())
        sent = {name.lower() for name, _ in headers}
        added = [
            ("content-length", "0"),
            ("x-amzn-trace-id", trace_id.split(";")[0]),
            ("x-forwarded-for", request.remote_addr or "127.0.0.1"),
            ("x-forwarded-port", str(request.environ.get("SERVER_PORT", ""))),
            ("x-forwarded-proto", request.scheme),
        ]
        claims = authorization.claims if authorization else None
        return http_event(
            method=request.method,
            route_key=route.key,
            raw_path=raw_path,
            raw_query=request.environ.get("QUERY_STRING", ""),
            stage=self.api.stage,
            path_parameters=path_parameters,
            headers=[*headers, *((k, v) for k, v in added if k not in sent)],
            body=body,
            is_base64_encoded=is_base64,
            claims=claims,
            # Null on a route without scopes; else every scope of the token, not only the route's.
            scopes=jwt_scopes(claims, route.scopes) if claims is not None else None,
            lambda_context=authorization.context if authorization and claims is None else None,
            stage_variables=self.api.stage_variables,
            source_ip=request.remote_addr or "127.0.0.1",
            api_id=self._api_id,
            account_id=self._account_id,
            domain_name=request.host.split(":")[0],
            request_id=exchange.request_id,
        )


def error_response(error: HttpApiError) -> Response:
    body = json.dumps({"message": error.message}, separators=(",", ":"))
    response = Response(body, status=error.status)
    response.headers.clear()
    response.headers["content-type"] = "application/json"
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


# ---------------------------------------------------------------- routes


class _RouteTable:
    """Routes by priority: literal segments before `{param}` before `{greedy+}`, the method's own
    route before `ANY`, then the `$default` route. Paths are matched as sent, segment by segment,
    each decoded; no trailing-slash folding and case-sensitive (both unsettled)."""

    def __init__(self, routes: tuple[Route, ...]):
        by_resource: dict[str, dict[str, Route]] = {}
        for route in routes:
            if route.resource != DEFAULT_ROUTE:
                by_resource.setdefault(route.resource, {})[route.method] = route
        self._default = next((r for r in routes if r.resource == DEFAULT_ROUTE), None)
        self._table = sorted(
            ((_segments(resource), methods) for resource, methods in by_resource.items()),
            # A full match (no greedy segment) first, then segment by segment.
            key=lambda entry: (any(_rank(s) == 2 for s in entry[0]), [_rank(s) for s in entry[0]]),
        )

    def match(self, raw_path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        raw = raw_path[1:].split("/") if raw_path != "/" else []
        decoded = [unquote(segment) for segment in raw]
        for pattern, methods in self._table:
            route = methods.get(method) or methods.get("ANY")
            if route is None:
                continue
            parameters = _match(pattern, decoded)
            if parameters is not None:
                return route, parameters
        return (self._default, {}) if self._default else None


def _segments(resource: str) -> list[str]:
    return resource[1:].split("/") if resource != "/" else []


def _rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 2
    return 1 if segment.startswith("{") and segment.endswith("}") else 0


def _match(pattern: list[str], segments: list[str]) -> dict[str, str] | None:
    parameters = {}
    for index, part in enumerate(pattern):
        kind = _rank(part)
        if kind == 2:  # greedy, always last: one segment or more
            rest = segments[index:]
            if not rest or not rest[0]:
                return None
            parameters[part[1:-2]] = "/".join(rest)
            return parameters
        if index >= len(segments):
            return None
        if kind == 1:
            if not segments[index]:
                return None
            parameters[part[1:-1]] = segments[index]
        elif part != segments[index]:
            return None
    return parameters if len(segments) == len(pattern) else None


# ---------------------------------------------------------------- CORS


def origin_allowed(cors: CorsSpec, origin: str | None) -> bool:
    """Whether an Origin is one of `allowOrigins` (`*`, an origin, or a pattern such as `https://*`)."""
    if not origin:
        return False
    return any(fnmatch.fnmatchcase(origin.lower(), allowed.lower()) for allowed in cors.allow_origins)


def _allow_origin(cors: CorsSpec, origin: str) -> dict[str, str]:
    if "*" in cors.allow_origins and not cors.allow_credentials:
        return {"access-control-allow-origin": "*"}
    return {"access-control-allow-origin": origin, "vary": "origin"}


def _apply_cors(response: Response, cors: CorsSpec, origin: str | None) -> None:
    """The gateway's CORS headers on a response to an allowed Origin: on every status (which statuses
    AWS adds them to is unsettled; the 401 is on record)."""
    if origin is None or not origin_allowed(cors, origin):
        return
    headers = _allow_origin(cors, origin)
    if cors.allow_credentials:
        headers["access-control-allow-credentials"] = "true"
    if cors.expose_headers:
        headers["access-control-expose-headers"] = ",".join(cors.expose_headers)
    for name, value in headers.items():
        response.headers[name] = value


def _is_preflight(request: Request) -> bool:
    return (
        request.method == "OPTIONS"
        and "Origin" in request.headers
        and "Access-Control-Request-Method" in request.headers
    )


def _preflight(cors: CorsSpec, request: Request) -> Response:
    """The gateway's answer to a preflight no route takes: 204 (200 or 204 on AWS is unsettled), with
    the configuration's CORS headers when the origin and the method are allowed, else none."""
    response = Response(status=204)
    response.headers.clear()
    origin = request.headers["Origin"]
    method = request.headers["Access-Control-Request-Method"].upper()
    methods = {m.upper() for m in cors.allow_methods}
    if not origin_allowed(cors, origin) or (methods and "*" not in methods and method not in methods):
        return response
    headers = _allow_origin(cors, origin)
    if cors.allow_methods:
        headers["access-control-allow-methods"] = ",".join(cors.allow_methods)
    if cors.allow_headers:
        headers["access-control-allow-headers"] = ",".join(cors.allow_headers)
    if cors.max_age is not None:
        headers["access-control-max-age"] = str(cors.max_age)
    if cors.allow_credentials:
        headers["access-control-allow-credentials"] = "true"
    for name, value in headers.items():
        response.headers[name] = value
    return response


# ---------------------------------------------------------------- helpers
