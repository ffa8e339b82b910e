"""sam_local_cloud/apigateway/gateway.py: API Gateway's steps and answers, on template.yaml's API, with a fake
runner.

Requests are werkzeug Requests built in memory; the runner records each call and answers with a Future
(or never does, for the integration timeout). Nothing opens a socket or starts a function.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import json
import re
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request, Response

from sam_local_cloud.apigateway.authorizers import CognitoAuthorizer
from sam_local_cloud.apigateway.gateway import MAX_REQUEST_BYTES, RAW_HEADERS, Gateway
from sam_local_cloud.cloudformation.spec import ApiSpec, CloudSpec, Route, read_spec
from sam_local_cloud.cloudformation.template import translate
from sam_local_cloud.cognito.tokens import SigningKey, client_credentials_claims, jwks_document
from sam_local_cloud.lambda_.outcome import (
    EnvironmentExited,
    Failure,
    FunctionError,
    InitFailed,
    ResponseTooLarge,
    Result,
    Throttled,
    TimedOut,
)
from sam_local_cloud.lambda_.runner import Invocation
from tests.unit.cloud.support import ISSUER, make_request

API_ID = "a1b2c3d4e5"
ACCOUNT_ID = "111122223333"
APIGW_ID = re.compile(r"^[A-Za-z0-9+/]{15}=$")
OK = {"statusCode": 200, "headers": {"X-From": "function"}, "body": '{"ok": true}'}


@dataclass
class Call:
    function: str
    event: dict[str, Any]
    request_id: str | None
    trace_id: str | None


@dataclass
class FakeRunner:
    """Answers every call with `payload` (or the failure `error`), or never when `completes` is False."""

    payload: Any = field(default_factory=lambda: dict(OK))
    error: Failure | None = None
    completes: bool = True
    calls: list[Call] = field(default_factory=list)

    def submit(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Future[Invocation]:
        self.calls.append(Call(function, event, request_id, trace_id))
        future: Future[Invocation] = Future()
        if self.completes:
            outcome = self.error if self.error is not None else Result(self.payload)
            future.set_result(Invocation(function=function, outcome=outcome))
        return future

    @property
    def event(self) -> dict[str, Any]:
        assert len(self.calls) == 1, f"expected one call, got {len(self.calls)}"
        return self.calls[0].event


@pytest.fixture(scope="module")
def spec() -> CloudSpec:
    return read_spec(translate())


def route_of(api: ApiSpec, method: str, resource: str) -> Route:
    return next(r for r in api.routes if (r.method, r.resource) == (method, resource))


def cors_origin(api: ApiSpec) -> str:
    """The Access-Control-Allow-Origin that the template's DEFAULT_4XX gateway response adds."""
    return api.gateway_responses["DEFAULT_4XX"].headers["Access-Control-Allow-Origin"].strip("'")


def make_gateway(api: ApiSpec, runner: FakeRunner, signing_key: SigningKey) -> Gateway:
    authorizers = {
        name: CognitoAuthorizer(issuer=ISSUER, jwks=jwks_document([signing_key]), header=a.header)
        for name, a in api.authorizers.items()
    }
    return Gateway(
        api,
        runner=runner,
        authorizers=authorizers,
        api_keys=None,
        throttling=None,
        api_id=API_ID,
        account_id=ACCOUNT_ID,
    )


def bearer(signing_key: SigningKey, route: Route) -> dict[str, str]:
    token = signing_key.sign(client_credentials_claims("client0id", route.scopes, ISSUER))
    return {"Authorization": f"Bearer {token}"}


def message(response: Response) -> str:
    return json.loads(response.get_data())["message"]


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def gateway(spec: CloudSpec, runner: FakeRunner, signing_key: SigningKey) -> Gateway:
    return make_gateway(spec.api, runner, signing_key)


def get_product(spec: CloudSpec, signing_key: SigningKey, path_tail: str = "42", **builder: Any) -> Request:
    route = route_of(spec.api, "GET", "/products/{id}")
    headers = {**bearer(signing_key, route), **builder.pop("headers", {})}
    return make_request("GET", f"/{spec.api.stage}/products/{path_tail}", headers=headers, **builder)


# ---------------------------------------------------------------- what the gateway answers itself


def test_unknown_stage_is_403_forbidden_without_cors_headers(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner
) -> None:
    response = gateway(make_request("GET", "/not-the-stage/products"))
    assert (response.status_code, message(response)) == (403, "Forbidden")
    assert response.headers["x-amzn-ErrorType"] == "ForbiddenException"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert runner.calls == []


@pytest.mark.parametrize(
    ("method", "resource"), [("GET", "/no-such-route"), ("PATCH", "/products"), ("GET", "")]
)
def test_undefined_route_without_authorization_is_403_missing_authentication_token_with_cors_headers(
    spec: CloudSpec, gateway: Gateway, method: str, resource: str
) -> None:
    response = gateway(make_request(method, f"/{spec.api.stage}{resource}"))
    assert (response.status_code, message(response)) == (403, "Missing Authentication Token")
    assert response.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert response.headers["Access-Control-Allow-Origin"] == cors_origin(spec.api)


def test_undefined_route_with_authorization_is_403_incomplete_signature_with_cors_headers(
    spec: CloudSpec, gateway: Gateway
) -> None:
    authorization = "Bearer not.a.token"
    response = gateway(
        make_request("GET", f"/{spec.api.stage}/no-such-route", headers={"Authorization": authorization})
    )
    digest = base64.b64encode(hashlib.sha256(authorization.encode()).digest()).decode()
    assert response.status_code == 403
    assert message(response) == (
        "Invalid key=value pair (missing equal-sign) in Authorization header "
        f"(hashed with SHA-256 and encoded with Base64): '{digest}'."
    )
    assert response.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"
    assert response.headers["Access-Control-Allow-Origin"] == cors_origin(spec.api)


def test_body_over_10_mb_is_413_before_routing_or_authorizing(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner
) -> None:
    request = make_request("POST", f"/{spec.api.stage}/products")
    request.environ["CONTENT_LENGTH"] = str(MAX_REQUEST_BYTES + 1)
    response = gateway(request)
    assert (response.status_code, message(response)) == (413, "Request Too Long")
    assert response.headers["x-amzn-ErrorType"] == "RequestTooLargeException"
    assert runner.calls == []


def test_body_of_exactly_10_mb_is_not_413(spec: CloudSpec, gateway: Gateway) -> None:
    request = make_request("POST", f"/{spec.api.stage}/products")
    request.environ["CONTENT_LENGTH"] = str(MAX_REQUEST_BYTES)
    assert gateway(request).status_code == 401  # on to the authorizer, which finds no token


def test_missing_token_is_401_unauthorized_with_the_templates_unauthorized_headers(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner
) -> None:
    response = gateway(make_request("GET", f"/{spec.api.stage}/products"))
    assert (response.status_code, message(response)) == (401, "Unauthorized")
    assert response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    unauthorized = spec.api.gateway_responses["UNAUTHORIZED"].headers
    assert response.headers["WWW-Authenticate"] == unauthorized["WWW-Authenticate"].strip("'")
    assert runner.calls == []


def test_the_token_is_read_from_the_header_the_authorizer_names(
    spec: CloudSpec, runner: FakeRunner, signing_key: SigningKey
) -> None:
    # SAM's Identity.Header: the authorizer reads that header, and Authorization then means nothing.
    renamed = {
        name: dataclasses.replace(a, header="X-Product-Token") for name, a in spec.api.authorizers.items()
    }
    gateway = make_gateway(dataclasses.replace(spec.api, authorizers=renamed), runner, signing_key)
    route = route_of(spec.api, "GET", "/products/{id}")
    token = bearer(signing_key, route)["Authorization"]
    path = f"/{spec.api.stage}/products/42"

    in_named = gateway(make_request("GET", path, headers={"X-Product-Token": token}))
    in_authorization = gateway(make_request("GET", path, headers={"Authorization": token}))

    assert in_named.status_code == 200
    assert in_authorization.status_code == 401


def test_expired_token_is_401_the_incoming_token_has_expired(
    spec: CloudSpec, gateway: Gateway, signing_key: SigningKey
) -> None:
    route = route_of(spec.api, "GET", "/products")
    claims = client_credentials_claims("client0id", route.scopes, ISSUER, lifetime=-60)
    request = make_request(
        "GET", f"/{spec.api.stage}/products", headers={"Authorization": f"Bearer {signing_key.sign(claims)}"}
    )
    response = gateway(request)
    assert (response.status_code, message(response)) == (401, "The incoming token has expired")


def test_cors_preflight_is_answered_by_its_mock_without_the_function(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner
) -> None:
    mock = route_of(spec.api, "OPTIONS", "/products").mock
    assert mock is not None
    response = gateway(make_request("OPTIONS", f"/{spec.api.stage}/products"))
    assert response.status_code == mock.status
    allowed = mock.headers["Access-Control-Allow-Methods"].strip("'")
    assert response.headers["Access-Control-Allow-Methods"] == allowed
    assert runner.calls == []


# ---------------------------------------------------------------- the integration


def test_function_response_is_passed_on(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    response = gateway(get_product(spec, signing_key))
    assert (response.status_code, response.get_data()) == (200, b'{"ok": true}')
    assert response.headers["X-From"] == "function"
    assert runner.calls[0].function == route_of(spec.api, "GET", "/products/{id}").function


def test_function_still_running_at_the_integration_timeout_is_504(
    spec: CloudSpec, signing_key: SigningKey
) -> None:
    quick = tuple(dataclasses.replace(r, timeout_seconds=0.05) for r in spec.api.routes)
    runner = FakeRunner(completes=False)
    gateway = make_gateway(dataclasses.replace(spec.api, routes=quick), runner, signing_key)
    response = gateway(get_product(spec, signing_key))
    assert (response.status_code, message(response)) == (504, "Endpoint request timed out")
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert len(runner.calls) == 1


def test_function_error_is_502_internal_server_error(spec: CloudSpec, signing_key: SigningKey) -> None:
    runner = FakeRunner(payload=None, error=FunctionError("ZeroDivisionError", "division by zero"))
    response = make_gateway(spec.api, runner, signing_key)(get_product(spec, signing_key))
    assert (response.status_code, message(response)) == (502, "Internal server error")
    assert response.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert response.headers["Access-Control-Allow-Origin"] == cors_origin(spec.api)  # DEFAULT_5XX's


@pytest.mark.parametrize(
    ("failure", "status"),
    [
        (FunctionError("RuntimeError", "boom"), 502),
        (TimedOut(1.0), 502),
        (ResponseTooLarge("over 6 MB"), 502),
        (InitFailed("ModuleNotFoundError", "No module named 'app'"), 502),
        (EnvironmentExited(), 502),
        (Throttled(), 500),
    ],
    ids=lambda value: type(value).__name__ if not isinstance(value, int) else str(value),
)
def test_the_gateways_answer_follows_from_the_invocations_outcome(
    spec: CloudSpec, signing_key: SigningKey, failure: Failure, status: int
) -> None:
    runner = FakeRunner(payload=None, error=failure)
    response = make_gateway(spec.api, runner, signing_key)(get_product(spec, signing_key))
    assert (response.status_code, message(response)) == (status, "Internal server error")


def test_malformed_function_response_is_502(spec: CloudSpec, signing_key: SigningKey) -> None:
    runner = FakeRunner(payload={"statusCode": 200, "body": {"not": "a string"}})
    response = make_gateway(spec.api, runner, signing_key)(get_product(spec, signing_key))
    assert (response.status_code, message(response)) == (502, "Internal server error")


def test_every_response_carries_a_request_id_and_an_apigw_id(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    requests = [
        get_product(spec, signing_key),
        make_request("GET", "/not-the-stage/products"),
        make_request("GET", f"/{spec.api.stage}/no-such-route"),
        make_request("GET", f"/{spec.api.stage}/products"),
    ]
    responses = [gateway(request) for request in requests]
    assert [r.status_code for r in responses] == [200, 403, 403, 401]
    request_ids = [r.headers["x-amzn-RequestId"] for r in responses]
    assert all(uuid.UUID(request_id) for request_id in request_ids)
    assert len(set(request_ids)) == len(request_ids)
    assert all(APIGW_ID.match(r.headers["x-amz-apigw-id"]) for r in responses)
    # The function sees the request id the caller gets.
    assert runner.calls[0].request_id == request_ids[0]
    assert runner.event["requestContext"]["requestId"] == request_ids[0]


# ---------------------------------------------------------------- the event


def test_event_keeps_header_names_as_sent_and_repeated_headers(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    route = route_of(spec.api, "GET", "/products/{id}")
    sent = [
        ("authorization", bearer(signing_key, route)["Authorization"]),
        ("x-Mixed-Case", "kept"),
        ("X-Multi", "first"),
        ("X-Multi", "second"),
    ]
    request = make_request(
        "GET", f"/{spec.api.stage}/products/42", headers=sent, environ_overrides={RAW_HEADERS: sent}
    )
    assert gateway(request).status_code == 200
    event = runner.event
    assert event["headers"]["x-Mixed-Case"] == "kept"
    assert "X-Mixed-Case" not in event["headers"]
    assert event["headers"]["X-Multi"] == "second"
    assert event["multiValueHeaders"]["X-Multi"] == ["first", "second"]


def test_event_gets_the_trace_id_header_of_the_invocation(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    gateway(get_product(spec, signing_key))
    trace_id = runner.calls[0].trace_id
    assert trace_id is not None
    assert runner.event["headers"]["X-Amzn-Trace-Id"] == trace_id.split(";")[0]
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", runner.event["headers"]["X-Amzn-Trace-Id"])


def test_event_has_repeated_query_keys_in_the_multi_value_map(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    gateway(get_product(spec, signing_key, query_string="color=red&color=blue&size=s"))
    assert runner.event["queryStringParameters"] == {"color": "blue", "size": "s"}
    assert runner.event["multiValueQueryStringParameters"] == {"color": ["red", "blue"], "size": ["s"]}


def test_event_without_query_has_null_query_maps(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    gateway(get_product(spec, signing_key))
    assert runner.event["queryStringParameters"] is None
    assert runner.event["multiValueQueryStringParameters"] is None


def test_event_path_and_path_parameters_keep_percent_encoding(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    assert gateway(get_product(spec, signing_key, path_tail="a%2Fb%20c")).status_code == 200
    event = runner.event
    assert (event["resource"], event["path"]) == ("/products/{id}", "/products/a%2Fb%20c")
    assert event["pathParameters"] == {"id": "a%2Fb%20c"}
    assert event["requestContext"]["path"] == f"/{spec.api.stage}/products/a%2Fb%20c"


def test_event_carries_the_verified_claims_as_strings(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    gateway(get_product(spec, signing_key))
    claims = runner.event["requestContext"]["authorizer"]["claims"]
    assert claims["scope"] == " ".join(route_of(spec.api, "GET", "/products/{id}").scopes)
    assert (claims["client_id"], claims["version"]) == ("client0id", "2")
    assert all(isinstance(value, str) for value in claims.values())
    assert (runner.event["requestContext"]["apiId"], runner.event["requestContext"]["accountId"]) == (
        API_ID,
        ACCOUNT_ID,
    )


def test_text_body_that_is_not_utf8_reaches_the_function_with_replacement_characters(
    spec: CloudSpec, gateway: Gateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    route = route_of(spec.api, "POST", "/products")
    request = make_request(
        "POST",
        f"/{spec.api.stage}/products",
        data=b'{"name": "caf\xe9"}',
        headers={**bearer(signing_key, route), "Content-Type": "application/json"},
    )
    assert gateway(request).status_code == 200
    assert (runner.event["body"], runner.event["isBase64Encoded"]) == ('{"name": "caf\ufffd"}', False)


def test_body_of_a_binary_media_type_reaches_the_function_in_base64(
    spec: CloudSpec, runner: FakeRunner, signing_key: SigningKey
) -> None:
    api = dataclasses.replace(spec.api, binary_media_types=("image/png",))
    route = route_of(api, "POST", "/products")
    body = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
    request = make_request(
        "POST",
        f"/{api.stage}/products",
        data=body,
        headers={**bearer(signing_key, route), "Content-Type": "image/png"},
    )
    assert make_gateway(api, runner, signing_key)(request).status_code == 200
    assert runner.event["isBase64Encoded"] is True
    assert base64.b64decode(runner.event["body"]) == body
