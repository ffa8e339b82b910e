"""API Gateway (REST, Lambda proxy) in front of the local functions.

A request passes the steps API Gateway takes, in its order (docs/aws-behaviour.md §1-3, §7):
stage, size, route, stage throttling, authorizer, API key and usage plan, then the function, whose
result must be a proxy response. A step that stops the request raises a `GatewayError`;
`Gateway.__call__` turns it into the response API Gateway sends, with the template's gateway-response
headers (CORS), in one place. Events are built by sam_local_cloud/apigateway/events.py.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from sam_local_cloud import console, ids
from sam_local_cloud.apigateway import integration, lambda_authorizer
from sam_local_cloud.apigateway.authorizers import (
    Authorization,
    Authorizer,
    Denied,
    Expired,
    Matched,
    remember_match,
)
from sam_local_cloud.apigateway.errors import (
    AccessDenied,
    AuthorizerConfigurationError,
    ExpiredToken,
    GatewayError,
    IncompleteSignature,
    IntegrationFailure,
    IntegrationTimeout,
    InvalidApiKey,
    LambdaThrottled,
    MissingAuthenticationToken,
    RequestTooLarge,
    Unauthorized,
    UnknownStage,
)
from sam_local_cloud.apigateway.events import authorizer_claims, rest_event
from sam_local_cloud.apigateway.proxy import Malformed, is_binary, proxy_response
from sam_local_cloud.apigateway.routes import RouteTable
from sam_local_cloud.apigateway.throttle import Throttling
from sam_local_cloud.apigateway.validation import validate
from sam_local_cloud.cloudformation.spec import ApiSpec, Quota, Route, Throttle
from sam_local_cloud.http_server import RAW_HEADERS, raw_path, raw_target
from sam_local_cloud.lambda_.outcome import Result, Throttled
from sam_local_cloud.lambda_.runner import Invocation, Runner, new_trace_id

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit (docs/aws-behaviour.md §2)
_REMEMBERED_CLAIMS = 4096  # as many as the authorizer remembers verified tokens


@dataclass(frozen=True)
class ApiKey:
    id: str
    throttle: Throttle | None
    quota: Quota | None


class ApiKeys:
    """The API keys one stage accepts, read from the local API Gateway (moto): enabled keys of a usage
    plan that lists the stage, with that plan's limits (docs/aws-behaviour.md §2.1).

    Keys and plans made, changed or deleted through the API at run time count at once: the local AWS
    APIs call `forget` after each API Gateway change (sam_local_cloud/aws_apis/app.py), and the next request
    reads them again. Between changes a request costs a dict look-up, an unknown value included.
    """

    def __init__(self, apigateway: Any, *, api_id: str, stage: str):
        self._apigateway = apigateway
        self._stage = {"apiId": api_id, "stage": stage}
        self._keys: dict[str, ApiKey] | None = None
        self._generation = 0  # bumped by `forget`: a read that overlaps a change is not kept
        self._lock = threading.Lock()

    def find(self, value: str | None) -> ApiKey | None:
        if not value:
            return None
        keys = self._keys
        if keys is None:
            with self._lock:
                keys = self._keys
                if keys is None:
                    generation = self._generation
                    keys = self._read()
                    if generation == self._generation:
                        self._keys = keys
        return keys.get(value)

    def forget(self) -> None:
        self._generation += 1
        self._keys = None

    def _read(self) -> dict[str, ApiKey]:
        limits: dict[str, tuple[Throttle | None, Quota | None]] = {}
        for plan in self._apigateway.get_paginator("get_usage_plans").paginate().search("items"):
            if not any(_same_stage(stage, self._stage) for stage in plan.get("apiStages") or []):
                continue
            throttle = plan.get("throttle")
            quota = plan.get("quota")
            entry = (
                Throttle(float(throttle["rateLimit"]), int(throttle["burstLimit"])) if throttle else None,
                Quota(int(quota["limit"]), quota.get("period", "DAY")) if quota else None,
            )
            plan_keys = self._apigateway.get_paginator("get_usage_plan_keys").paginate(usagePlanId=plan["id"])
            for key in plan_keys.search("items"):
                # A key in two plans of this stage: the first listed counts (docs/aws-behaviour.md §2.1).
                limits.setdefault(key["id"], entry)
        pages = self._apigateway.get_paginator("get_api_keys").paginate(includeValues=True)
        return {
            key["value"]: ApiKey(key["id"], *limits[key["id"]])
            for key in pages.search("items")
            if key.get("enabled") and key["id"] in limits
        }


def _same_stage(listed: Mapping[str, Any], served: Mapping[str, str]) -> bool:
    return listed.get("apiId") == served["apiId"] and listed.get("stage") == served["stage"]


@dataclass
class _Exchange:
    """One request on its way through the gateway, and what the console line says of it."""

    request: Request
    request_id: str
    invocation: Invocation | None = None
    marks: list[str] = field(default_factory=list)


class Gateway:
    def __init__(
        self,
        api: ApiSpec,
        *,
        runner: Runner,
        authorizers: Mapping[str, Authorizer],
        api_keys: ApiKeys | None,
        throttling: Throttling | None,
        api_id: str,
        account_id: str,
    ):
        self.api = api
        self._routes = RouteTable(api.routes)
        self._runner = runner
        self._authorizers = authorizers
        self._api_keys = api_keys
        self._throttling = throttling
        self._api_id = api_id
        self._account_id = account_id
        # A remembered token's claims, as the event passes them, by the claims the authorizer keeps
        # for it: rendering them (dates, booleans) at every request cost about 0.03 ms of CPU.
        self._event_claims: dict[int, tuple[dict[str, Any], dict[str, str]]] = {}

    def __call__(self, request: Request) -> Response:
        started = time.perf_counter()
        exchange = _Exchange(request, ids.uuid4())
        try:
            response = self._handle(exchange)
        except GatewayError as error:
            response = self._error_response(error, request, exchange.request_id)
        response.headers["x-amzn-RequestId"] = exchange.request_id
        response.headers["x-amz-apigw-id"] = _apigw_id()
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
        sent_path = raw_path(request)
        prefix = f"/{self.api.stage}"
        if sent_path != prefix and not sent_path.startswith(prefix + "/"):
            raise UnknownStage
        if (request.content_length or 0) > MAX_REQUEST_BYTES:
            raise RequestTooLarge
        path = sent_path[len(prefix) :] or "/"
        matched = self._routes.match(path, request.method)
        if matched is None:
            header = request.headers.get("Authorization")
            raise IncompleteSignature(header) if header else MissingAuthenticationToken
        route, path_parameters = matched
        if self._throttling:
            self._throttling.check_method(route.resource, route.method)
        if route.unenforced:
            exchange.marks.append(f"UNENFORCED: {route.unenforced}")
        if route.mock is not None:
            headers = {name: _header_value(expr, request) for name, expr in route.mock.headers.items()}
            return Response(
                route.mock.body, status=route.mock.status, headers=headers, mimetype="application/json"
            )
        remember_match(request, Matched(path, path_parameters, exchange.request_id))
        authorization = self._authorize(route, request)
        api_key = self._check_api_key(route, request, authorization)
        if route.function is None:
            raise IntegrationFailure  # served unenforced, but there is nothing local to integrate with
        body = _body(request)
        if len(body) > MAX_REQUEST_BYTES:  # a chunked body has no Content-Length to refuse it by
            raise RequestTooLarge
        if route.validation is not None:  # after the authorizer and the API key, as API Gateway does
            validate(route.validation, request, body)
        trace_id = new_trace_id()
        event = self._event(route, path, path_parameters, exchange, body, authorization, api_key, trace_id)
        return self._integrate(route, event, exchange, trace_id)

    def _authorize(self, route: Route, request: Request) -> Authorization | None:
        if not route.authorizer:
            return None
        try:
            return self._authorizers[route.authorizer].check(request, route)
        except Expired:
            raise ExpiredToken from None
        except lambda_authorizer.AccessDenied as denied:
            raise AccessDenied(explicit=denied.explicit) from None
        except lambda_authorizer.AuthorizerFailed:
            raise AuthorizerConfigurationError from None
        except Denied:
            raise Unauthorized from None

    def _check_api_key(
        self, route: Route, request: Request, authorization: Authorization | None
    ) -> tuple[str, ApiKey] | None:
        """The key and its id when the route needs one; API Gateway checks it after the authorizer.
        With the API's key source AUTHORIZER, the key is the one the Lambda authorizer named."""
        if not route.api_key:
            return None
        if self.api.api_key_source == "AUTHORIZER":
            value = authorization.usage_identifier_key if authorization else None
        else:
            value = request.headers.get(self.api.api_key_header)
        key = self._api_keys.find(value) if self._api_keys else None
        if key is None or value is None:
            raise InvalidApiKey
        if self._throttling:
            self._throttling.check_key(key.id, key.throttle, key.quota)
        return value, key

    def _integrate(self, route: Route, event: dict[str, Any], exchange: _Exchange, trace_id: str) -> Response:
        invocation = integration.invoke(self._runner, route, event, exchange.request_id, trace_id)
        if invocation is None:  # past the integration timeout: the function runs on
            raise IntegrationTimeout
        exchange.invocation = invocation
        outcome = invocation.outcome
        if isinstance(outcome, Throttled):
            exchange.marks.append("throttled: every execution environment of the function is busy")
            invocation.logs.append("[gateway] Execution failed due to configuration error: Rate Exceeded.")
            raise LambdaThrottled
        if not isinstance(outcome, Result):  # raised, timed out, too large, did not init, exited
            invocation.logs.append(f"[gateway] Execution failed: {outcome.describe()}")
            raise IntegrationFailure
        try:
            return proxy_response(
                outcome.payload, self.api.binary_media_types, exchange.request.headers.get("Accept")
            )
        except Malformed as error:
            invocation.logs.append(f"[gateway] Execution failed: {error}")
            raise IntegrationFailure from None

    def _event(
        self,
        route: Route,
        path: str,
        path_parameters: dict[str, str],
        exchange: _Exchange,
        raw_body: bytes,
        authorization: Authorization | None,
        api_key: tuple[str, ApiKey] | None,
        trace_id: str,
    ) -> dict[str, Any]:
        request = exchange.request
        body: str | None = None
        is_base64 = False
        if raw_body:
            if is_binary(request.headers.get("Content-Type"), self.api.binary_media_types):
                body, is_base64 = base64.b64encode(raw_body).decode(), True
            else:
                # Not a binary media type: passed on as UTF-8 text (docs/aws-behaviour.md §3, unsettled).
                body = raw_body.decode("utf-8", errors="replace")
        headers = request.environ.get(RAW_HEADERS) or list(request.headers.items())
        added = [
            ("X-Amzn-Trace-Id", trace_id.split(";")[0]),
            ("X-Forwarded-For", request.remote_addr or "127.0.0.1"),
            ("X-Forwarded-Port", str(request.environ.get("SERVER_PORT", ""))),
            ("X-Forwarded-Proto", request.scheme),
        ]
        sent = {name.lower() for name, _ in headers}
        return rest_event(
            method=request.method,
            resource=route.resource,
            path=path,
            stage=self.api.stage,
            stage_variables=self.api.stage_variables,
            path_parameters=path_parameters,
            query=list(request.args.items(multi=True)),
            headers=[*headers, *((k, v) for k, v in added if k.lower() not in sent)],
            body=body,
            is_base64_encoded=is_base64,
            claims=self._claims(authorization.claims) if authorization and authorization.claims else None,
            authorizer=_lambda_authorizer(authorization),
            source_ip=request.remote_addr or "127.0.0.1",
            api_id=self._api_id,
            account_id=self._account_id,
            domain_name=request.host.split(":")[0],
            request_id=exchange.request_id,
            api_key=api_key[0] if api_key else None,
            api_key_id=api_key[1].id if api_key else None,
        )

    def _claims(self, claims: dict[str, Any]) -> dict[str, str]:
        """The claims as the event passes them, rendered once for the dict the authorizer keeps (held
        here, so its id is not reused while remembered)."""
        remembered = self._event_claims.get(id(claims))
        if remembered is None or remembered[0] is not claims:
            remembered = (claims, authorizer_claims(claims))
            if len(self._event_claims) >= _REMEMBERED_CLAIMS:
                self._event_claims.clear()
            self._event_claims[id(claims)] = remembered
        return remembered[1]

    # ------------------------------------------------------------ errors, answered once

    def _error_response(self, error: GatewayError, request: Request, request_id: str) -> Response:
        configured = None
        if error.api_known:
            responses = self.api.gateway_responses
            default = "DEFAULT_5XX" if error.status >= 500 else "DEFAULT_4XX"
            configured = responses.get(error.response_type) or responses.get(default)
        status = configured.status if configured and configured.status else error.status
        template = (configured.templates if configured else {}).get("application/json")
        default_body = json.dumps({error.body_key: error.message})
        body = _render(template, error, request_id) if template else default_body
        headers = {
            name: _header_value(expr, request)
            for name, expr in (configured.headers if configured else {}).items()
        }
        headers["x-amzn-ErrorType"] = error.error_type
        return Response(body, status=status, headers=headers, mimetype="application/json")


def _lambda_authorizer(authorization: Authorization | None) -> dict[str, Any] | None:
    """A Lambda authorizer's part of the event: its context stringified, its principalId and the
    authorizer's latency (docs/aws-behaviour.md §11.1)."""
    if authorization is None or authorization.context is None:
        return None
    return {
        **lambda_authorizer.stringified(authorization.context),
        "principalId": authorization.principal_id,
        "integrationLatency": authorization.latency_ms,
    }


def _body(request: Request) -> bytes:
    """The request body. In HTTP/1.1 a request with neither Content-Length nor Transfer-Encoding has
    none: werkzeug's stream, set up to read it anyway, is skipped."""
    environ = request.environ
    if "CONTENT_LENGTH" not in environ and "HTTP_TRANSFER_ENCODING" not in environ:
        return b""
    return request.get_data()


def _apigw_id() -> str:
    """An `x-amz-apigw-id` shaped like API Gateway's: 16 characters ending in '='."""
    return base64.b64encode(ids.random_bytes(11)).decode()[:15] + "="


def _header_value(expression: str, request: Request) -> str:
    """A response-parameter mapping: a quoted literal, or a request header API Gateway copies."""
    if expression.startswith("'") and expression.endswith("'"):
        return expression[1:-1]
    if expression.startswith("method.request.header."):
        return request.headers.get(expression.removeprefix("method.request.header."), "")
    return ""


def _render(template: str, error: GatewayError, request_id: str) -> str:
    """The few $context variables gateway-response templates use."""
    return (
        template.replace("$context.error.messageString", json.dumps(error.message))
        .replace("$context.error.message", error.message or "")
        .replace("$context.error.responseType", error.response_type)
        .replace("$context.error.validationErrorString", getattr(error, "validation_error", ""))
        .replace("$context.requestId", request_id)
    )
