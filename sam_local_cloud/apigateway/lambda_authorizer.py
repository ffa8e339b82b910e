"""Lambda authorizers: REST TOKEN and REQUEST, HTTP API REQUEST (payload 1.0 and 2.0).

They implement the `Authorizer` seam of sam_local_cloud/apigateway/authorizers.py, in API Gateway's order
(docs/aws-behaviour.md §11):

1. the identity sources are read; one missing or empty is 401 without calling the function, and so is
   a TOKEN that does not match the identity validation expression;
2. a cached answer for the same identity source values, younger than the TTL, is used as it is;
   otherwise the function runs in its own execution environment (the Runner) with the event of its
   kind, and a valid answer (a policy, or a simple response) is cached;
3. the answer decides: its IAM policy is evaluated against this request's method ARN (a cached policy
   too, so a policy written for one method refuses another: AWS's caching pitfall), a simple response
   allows or refuses outright.

A raised `Unauthorized` is 401 (`Unauthorized`), a Deny or a missing Allow 403 (`AccessDenied`),
anything else (an error, a timeout, a malformed answer) 500 (`AuthorizerFailed`); each gateway turns
them into its own answer. All three are `Denied`, so a gateway that did not know them would still
refuse.
"""

from __future__ import annotations

import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from werkzeug.wrappers import Request

from sam_local_cloud import console
from sam_local_cloud.apigateway import policy
from sam_local_cloud.apigateway.authorizers import Authorization, Denied, Matched, matched_of
from sam_local_cloud.apigateway.events import rest_event
from sam_local_cloud.apigateway.events_v2 import http_event
from sam_local_cloud.cloudformation.spec import DEFAULT_STAGE, LambdaAuthorizerSpec, Route
from sam_local_cloud.http_server import RAW_HEADERS
from sam_local_cloud.lambda_.outcome import FunctionError, Result
from sam_local_cloud.lambda_.runner import Runner

_REMEMBERED_ANSWERS = 4096  # any client can make up more identities: beyond this, the oldest is forgotten
UNAUTHORIZED = "Unauthorized"  # the one error message API Gateway reads as 401


class Unauthorized(Denied):
    """401 `Unauthorized`: an identity source missing or invalid, or the function raised `Unauthorized`."""


class AccessDenied(Denied):
    """403: the policy denies the method explicitly, or allows it nowhere (or a simple response said no)."""

    def __init__(self, *, explicit: bool):
        super().__init__("explicit deny" if explicit else "no matching Allow")
        self.explicit = explicit


class AuthorizerFailed(Denied):
    """500: the function failed, timed out, was throttled, or answered what API Gateway cannot read."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ApiFacts:
    """What a Lambda authorizer's events and ARNs say of the API it guards."""

    api_id: str
    stage: str  # a REST stage, or an HTTP API's stage (`$default` included)
    region: str
    account_id: str
    stage_variables: dict[str, str] = field(default_factory=dict)
    http_api: bool = False


@dataclass(frozen=True)
class _Answer:
    """A valid answer of the function: a policy (with its principal), or a simple response."""

    principal_id: str | None
    document: Any | None  # the policyDocument; None for a simple response
    authorized: bool  # a simple response's isAuthorized
    context: dict[str, Any] | None
    usage_identifier_key: str | None


class LambdaAuthorizer:
    def __init__(
        self,
        spec: LambdaAuthorizerSpec,
        *,
        runner: Runner,
        api: ApiFacts,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.spec = spec
        self._runner = runner
        self._api = api
        self._clock = clock
        # Caching needs a TTL and an identity source, the cache key (always one for TOKEN).
        self._caching = spec.ttl_seconds > 0 and bool(spec.identity_sources)
        self._answers: dict[tuple[str, ...], tuple[float, _Answer]] = {}
        self._lock = threading.Lock()
        self._validation = re.compile(spec.validation_expression) if spec.validation_expression else None

    def check(self, request: Request, route: Route) -> Authorization:
        matched = matched_of(request)
        identity = self._identity(request, route, matched)
        arn = self.method_arn(request.method, matched.path)
        answer = self._cached(identity)
        latency_ms = 0
        if answer is None:
            event = self._event(request, route, matched, identity, arn)
            answer, latency_ms = self._ask(event, matched.request_id)
            if self._caching:
                self._remember(identity, answer)
        return self._decide(answer, arn, latency_ms)

    def method_arn(self, method: str, path: str) -> str:
        """`arn:aws:execute-api:{region}:{account}:{apiId}/{stage}/{METHOD}/{path}` of this request."""
        api = self._api
        return f"arn:aws:execute-api:{api.region}:{api.account_id}:{api.api_id}/{api.stage}/{method}{path}"

    # ------------------------------------------------------------ identity sources

    def _identity(self, request: Request, route: Route, matched: Matched) -> tuple[str, ...]:
        """The identity source values, in the template's order; Unauthorized when one is missing or
        empty, or a TOKEN does not match the validation expression (the function is not called)."""
        values = []
        for source in self.spec.identity_sources:
            value = self._value(source.where, source.name, request, route, matched)
            if not value:
                raise Unauthorized(f"identity source {source.written} is missing")
            values.append(value)
        if self._validation is not None and values and not self._validation.fullmatch(values[0]):
            raise Unauthorized("the token does not match the identity validation expression")
        return tuple(values)

    def _value(self, where: str, name: str, request: Request, route: Route, matched: Matched) -> str | None:
        if where == "header":
            found = request.headers.getlist(name)
        elif where == "querystring":
            found = request.args.getlist(name)
        elif where == "stageVariables":
            found = [self._api.stage_variables[name]] if name in self._api.stage_variables else []
        else:
            found = [v] if (v := self._context(request, route, matched).get(name)) else []
        if not found:
            return None
        # A repeated header or query parameter: the last value on a REST API (as its event's single-value
        # map), all of them joined with commas on an HTTP API (as its event).
        return ",".join(found) if self._api.http_api else found[-1]

    def _context(self, request: Request, route: Route, matched: Matched) -> dict[str, str]:
        """The `$context` variables an identity source may name (spec.py's *_IDENTITY_CONTEXT)."""
        return {
            "identity.sourceIp": request.remote_addr or "127.0.0.1",
            "httpMethod": request.method,
            "resourcePath": route.resource,
            "routeKey": route.key,
            "path": self._full_path(matched.path),
            "stage": self._api.stage,
            "apiId": self._api.api_id,
            "accountId": self._api.account_id,
        }

    def _full_path(self, path: str) -> str:
        return path if self._api.stage == DEFAULT_STAGE else f"/{self._api.stage}{path}"

    # ------------------------------------------------------------ the cache

    def _cached(self, identity: tuple[str, ...]) -> _Answer | None:
        if not self._caching:
            return None
        found = self._answers.get(identity)
        if found is None or found[0] <= self._clock():
            return None
        return found[1]

    def _remember(self, identity: tuple[str, ...], answer: _Answer) -> None:
        with self._lock:
            if len(self._answers) >= _REMEMBERED_ANSWERS:
                self._answers.pop(next(iter(self._answers)), None)
            self._answers[identity] = (self._clock() + self.spec.ttl_seconds, answer)

    # ------------------------------------------------------------ the function

    def _ask(self, event: dict[str, Any], request_id: str) -> tuple[_Answer, int]:
        started = time.perf_counter()
        invocation = self._runner.invoke(self.spec.function, event, request_id)
        # What the gateway waited, in whole milliseconds, never 0: 0 is a cached answer's.
        latency_ms = max(1, math.ceil((time.perf_counter() - started) * 1000))
        outcome = invocation.outcome
        console.say(
            f"{invocation.function} (Lambda authorizer {self.spec.name}) {outcome.describe()} "
            f"{invocation.duration_ms:.1f} ms{' (cold start)' if invocation.cold_start else ''}",
            *invocation.logs,
        )
        if isinstance(outcome, FunctionError) and outcome.message == UNAUTHORIZED:
            raise Unauthorized("the authorizer raised Unauthorized")
        if not isinstance(outcome, Result):
            raise AuthorizerFailed(outcome.describe())
        try:
            return self._answer(outcome.payload), latency_ms
        except policy.Malformed as malformed:
            console.say(f"[gateway] Lambda authorizer {self.spec.name}: invalid answer: {malformed}")
            raise AuthorizerFailed(str(malformed)) from None

    def _answer(self, payload: Any) -> _Answer:
        """The function's answer, checked; Malformed when API Gateway could not read it."""
        if not isinstance(payload, dict):
            raise policy.Malformed(f"the answer must be an object, got {type(payload).__name__}")
        context = payload.get("context")
        if context is not None and not isinstance(context, dict):
            raise policy.Malformed("context must be an object")
        if self.spec.simple_responses:
            authorized = payload.get("isAuthorized")
            if not isinstance(authorized, bool):
                raise policy.Malformed("isAuthorized must be true or false")
            return _Answer(None, None, authorized, context, None)
        principal_id = payload.get("principalId")
        if not isinstance(principal_id, str):
            raise policy.Malformed("principalId must be a string")
        policy.statements(payload.get("policyDocument"))
        if context is not None and not self._api.http_api:
            # A REST API passes string, number and boolean values only (docs/aws-behaviour.md §11.1).
            nested = [k for k, v in context.items() if isinstance(v, dict | list)]
            if nested:
                raise policy.Malformed(f"context values must be strings, numbers or booleans: {nested[0]}")
        key = payload.get("usageIdentifierKey")
        if key is not None and not isinstance(key, str):
            raise policy.Malformed("usageIdentifierKey must be a string")
        return _Answer(principal_id, payload["policyDocument"], False, context, key)

    def _decide(self, answer: _Answer, arn: str, latency_ms: int) -> Authorization:
        if answer.document is None:
            if not answer.authorized:
                raise AccessDenied(explicit=False)
        else:
            decision = policy.decide(answer.document, arn)
            if decision is not policy.Decision.ALLOW:
                raise AccessDenied(explicit=decision is policy.Decision.EXPLICIT_DENY)
        return Authorization(
            principal_id=answer.principal_id,
            context=dict(answer.context or {}),
            usage_identifier_key=answer.usage_identifier_key,
            latency_ms=latency_ms,
        )

    # ------------------------------------------------------------ the events

    def _event(
        self, request: Request, route: Route, matched: Matched, identity: tuple[str, ...], arn: str
    ) -> dict[str, Any]:
        if self.spec.kind == "token":
            return {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": arn}
        if self._api.http_api and self.spec.payload_version == "2.0":
            return self._http_event(request, route, matched, identity, arn)
        event = {"type": "REQUEST", "methodArn": arn, **self._rest_shaped(request, route, matched)}
        if self._api.http_api:  # payload 1.0 of an HTTP API: the REST shape, with its identity
            joined = ",".join(identity)
            event = {"version": "1.0", **event, "identitySource": joined, "authorizationToken": joined}
        return event

    def _rest_shaped(self, request: Request, route: Route, matched: Matched) -> dict[str, Any]:
        """The REQUEST event: the proxy event's request part (no body, no authorizer)."""
        event = rest_event(
            method=request.method,
            resource=route.resource,
            path=matched.path,
            stage=self._api.stage,
            path_parameters=matched.path_parameters,
            query=list(request.args.items(multi=True)),
            headers=_headers(request),
            source_ip=request.remote_addr or "127.0.0.1",
            api_id=self._api.api_id,
            account_id=self._api.account_id,
            domain_name=request.host.split(":")[0],
            request_id=matched.request_id,
        )
        event.pop("body")
        event.pop("isBase64Encoded")
        event["requestContext"].pop("authorizer")
        event["stageVariables"] = dict(self._api.stage_variables) or None
        return event

    def _http_event(
        self, request: Request, route: Route, matched: Matched, identity: tuple[str, ...], arn: str
    ) -> dict[str, Any]:
        """Payload 2.0: the 2.0 proxy event's request part, with `routeArn` and `identitySource`."""
        event = http_event(
            method=request.method,
            route_key=route.key,
            raw_path=unquote(self._full_path(matched.path)),
            raw_query=request.environ.get("QUERY_STRING", ""),
            stage=self._api.stage,
            path_parameters=matched.path_parameters,
            headers=_headers(request),
            stage_variables=self._api.stage_variables,
            source_ip=request.remote_addr or "127.0.0.1",
            api_id=self._api.api_id,
            account_id=self._api.account_id,
            domain_name=request.host.split(":")[0],
            request_id=matched.request_id,
        )
        event.pop("body", None)
        event.pop("isBase64Encoded")
        event.pop("version")
        return {
            "version": "2.0",
            "type": "REQUEST",
            "routeArn": arn,
            "identitySource": list(identity) or None,
            **event,
        }


def _headers(request: Request) -> list[tuple[str, str]]:
    return list(request.environ.get(RAW_HEADERS) or request.headers.items())


def stringified(context: Mapping[str, Any]) -> dict[str, str | None]:
    """A REST Lambda authorizer's context as the proxy event passes it on: every value a string
    (`true`, `123`), null kept as null."""
    rendered: dict[str, str | None] = {}
    for name, value in context.items():
        if value is None:
            rendered[name] = None
        elif isinstance(value, bool):
            rendered[name] = "true" if value else "false"
        elif isinstance(value, float) and value.is_integer():
            rendered[name] = str(int(value))
        else:
            rendered[name] = str(value)
    return rendered


def lambda_authorizers(
    specs: Mapping[str, LambdaAuthorizerSpec], *, runner: Runner, api: ApiFacts
) -> dict[str, LambdaAuthorizer]:
    """One LambdaAuthorizer (with its own cache) per authorizer of an API, by name."""
    return {name: LambdaAuthorizer(spec, runner=runner, api=api) for name, spec in specs.items()}
