"""sam_local_cloud/apigateway/http_api.py: an HTTP API's steps and fixed answers, on the fixture template's
HTTP API (tests/fixtures/http_api_only.yaml) with a fake runner; sam_local_cloud/cloudformation/spec.py's
reading of it.

Requests are werkzeug Requests built in memory: nothing opens a socket or starts a function.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import re
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Response

from sam_local_cloud.apigateway.http_api import MAX_REQUEST_BYTES, HttpApiGateway
from sam_local_cloud.apigateway.jwt_authorizer import JwtAuthorizer
from sam_local_cloud.apigateway.throttle import Throttling
from sam_local_cloud.cloudformation.spec import HttpApiSpec, Route, Throttle, read_spec
from sam_local_cloud.cloudformation.template import load_source, translate
from sam_local_cloud.cognito.tokens import SigningKey, client_credentials_claims, jwks_document
from sam_local_cloud.lambda_.outcome import Failure, FunctionError, Result, Throttled
from sam_local_cloud.lambda_.runner import Invocation
from tests.harness import ROOT
from tests.unit.cloud.support import ISSUER, make_request

FIXTURE = ROOT / "tests" / "fixtures" / "http_api_only.yaml"
REQUEST_ID = re.compile(r"^[A-Za-z0-9_-]{15}=$")
ORIGIN = "https://app.example.com"
MACHINE = "machine0client"


@dataclass
class FakeRunner:
    """Answers every call with `payload` (or the failure `error`), or never when `completes` is False."""

    payload: Any = field(default_factory=lambda: {"statusCode": 200, "body": "ok"})
    error: Failure | None = None
    completes: bool = True
    events: list[dict[str, Any]] = field(default_factory=list)

    def submit(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Future[Invocation]:
        self.events.append(event)
        future: Future[Invocation] = Future()
        if self.completes:
            outcome = self.error if self.error is not None else Result(self.payload)
            future.set_result(Invocation(function=function, outcome=outcome))
        return future


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source(FIXTURE)


@pytest.fixture(scope="module")
def api() -> HttpApiSpec:
    (api,) = read_spec(translate(path=FIXTURE)).http_apis
    return api


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


def make_gateway(
    api: HttpApiSpec, runner: FakeRunner, key: SigningKey, throttling: bool = False
) -> HttpApiGateway:
    authorizers = {
        name: JwtAuthorizer(
            issuer=ISSUER, audience=[MACHINE], jwks=jwks_document([key]), identity_source=a.identity_source
        )
        for name, a in api.authorizers.items()
    }
    return HttpApiGateway(
        api,
        runner=runner,  # type: ignore[arg-type]
        authorizers=authorizers,
        throttling=Throttling(api.route_throttles) if throttling else None,
        api_id="a1b2c3d4e5",
        account_id="111122223333",
    )


@pytest.fixture
def gateway(api: HttpApiSpec, runner: FakeRunner, signing_key: SigningKey) -> HttpApiGateway:
    return make_gateway(api, runner, signing_key)


def route(api: HttpApiSpec, key: str) -> Route:
    return next(r for r in api.routes if r.key == key)


def bearer(key: SigningKey, scopes: tuple[str, ...], client: str = MACHINE) -> dict[str, str]:
    return {"Authorization": f"Bearer {key.sign(client_credentials_claims(client, scopes, ISSUER))}"}


def answer(response: Response) -> tuple[int, bytes, str]:
    return response.status_code, response.get_data(), response.headers["content-type"]


# ---------------------------------------------------------------- the spec, read from the body


def test_each_httpapi_event_is_a_route_with_its_scopes_and_authorizer(api: HttpApiSpec, source: dict) -> None:
    default = source["Resources"]["HttpApi"]["Properties"]["Auth"]["DefaultAuthorizer"]
    expected = {}
    for name, resource in source["Resources"].items():
        for event in resource["Properties"].get("Events", {}).values():
            props = event["Properties"]
            auth = props.get("Auth", {})
            authorizer = None if auth.get("Authorizer") == "NONE" else auth.get("Authorizer", default)
            key = f"{props['Method'].upper()} {props['Path']}"
            expected[key] = (name, authorizer, tuple(auth.get("AuthorizationScopes", ())))
    assert {r.key: (r.function, r.authorizer, r.scopes) for r in api.routes} == expected


def test_the_jwt_authorizer_issuer_audience_and_identity_source(api: HttpApiSpec, source: dict) -> None:
    declared = source["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]
    assert set(api.authorizers) == set(declared)
    for name, authorizer in api.authorizers.items():
        assert authorizer.identity_source == declared[name]["IdentitySource"]
        assert authorizer.audience == tuple(declared[name]["JwtConfiguration"]["audience"])
        assert "${Pool}" in str(authorizer.issuer)  # resolved once the pool exists


def test_stage_cors_timeouts_and_route_throttles(api: HttpApiSpec, source: dict) -> None:
    props = source["Resources"]["HttpApi"]["Properties"]
    assert api.stage == "$default"
    assert api.cors is not None
    assert api.cors.allow_origins == tuple(props["CorsConfiguration"]["AllowOrigins"])
    assert api.cors.allow_credentials is props["CorsConfiguration"]["AllowCredentials"]
    assert route(api, "GET /slow").timeout_seconds == 1.0
    assert route(api, "GET /admin").timeout_seconds == 30.0  # no timeoutInMillis: API Gateway's 30 s
    default = props["DefaultRouteSettings"]
    assert api.route_throttles[("/*", "*")] == Throttle(
        float(default["ThrottlingRateLimit"]), default["ThrottlingBurstLimit"]
    )
    assert (
        api.route_throttles[("/throttled", "GET")].burst
        == props["RouteSettings"]["GET /throttled"]["ThrottlingBurstLimit"]
    )


def test_a_template_with_only_an_http_api_has_no_rest_api_and_nothing_unenforceable() -> None:
    spec = read_spec(translate(path=FIXTURE))
    assert (spec.api, spec.unenforceable) == (None, [])


def test_a_named_stage_and_the_default_route_are_read(source: dict) -> None:
    edited = json.loads(json.dumps(source))
    edited["Resources"]["HttpApi"]["Properties"]["StageName"] = "prod"
    edited["Resources"]["EchoFunction"]["Properties"]["Events"]["Default"] = {
        "Type": "HttpApi",
        "Properties": {"ApiId": {"Ref": "HttpApi"}, "Auth": {"Authorizer": "NONE"}},
    }
    (api,) = read_spec(translate(source=edited, path=FIXTURE)).http_apis
    assert api.stage == "prod"
    assert route(api, "$default").method == "ANY"


def test_an_iam_authorized_http_route_is_unenforceable(source: dict) -> None:
    edited = json.loads(json.dumps(source))
    edited["Resources"]["HttpApi"]["Properties"]["Auth"]["EnableIamAuthorizer"] = True
    events = edited["Resources"]["EchoFunction"]["Properties"]["Events"]
    events["Admin"]["Properties"]["Auth"] = {"Authorizer": "AWS_IAM"}
    assert read_spec(translate(source=edited, path=FIXTURE)).unenforceable == [
        "HttpApi GET /admin: IAM authorization (SigV4) AWS_IAM"
    ]


# ---------------------------------------------------------------- what the gateway answers itself


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/nothing"), ("DELETE", "/admin"), ("GET", "/admin/"), ("GET", "/ADMIN")]
)
@pytest.mark.parametrize("authorization", [None, "Bearer not-a-token"])
def test_no_route_is_404_before_any_authorizer(
    gateway: HttpApiGateway, runner: FakeRunner, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = gateway(make_request(method, path, headers=headers))
    assert answer(response) == (404, b'{"message":"Not Found"}', "application/json")
    assert "www-authenticate" not in response.headers
    assert runner.events == []


def test_every_answer_has_an_apigw_requestid_the_event_shares(
    gateway: HttpApiGateway, runner: FakeRunner
) -> None:
    assert REQUEST_ID.match(gateway(make_request("GET", "/nothing")).headers["apigw-requestid"])
    response = gateway(make_request("GET", "/open/x"))
    assert response.headers["apigw-requestid"] == runner.events[0]["requestContext"]["requestId"]
    assert "x-amzn-RequestId" not in response.headers
    assert "x-amzn-ErrorType" not in response.headers


def test_no_token_is_401_with_www_authenticate_bearer(gateway: HttpApiGateway, runner: FakeRunner) -> None:
    response = gateway(make_request("GET", "/whoami"))
    assert answer(response) == (401, b'{"message":"Unauthorized"}', "application/json")
    assert response.headers["www-authenticate"] == "Bearer"
    assert runner.events == []


def test_a_client_outside_the_audience_is_401(gateway: HttpApiGateway, signing_key: SigningKey) -> None:
    response = gateway(make_request("GET", "/whoami", headers=bearer(signing_key, (), client="outsider")))
    assert response.status_code == 401
    assert "the token does not have a valid audience" in response.headers["www-authenticate"]


def test_a_missing_scope_is_403_forbidden(
    api: HttpApiSpec, gateway: HttpApiGateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    other = tuple(
        s for s in route(api, "ANY /echo/{name}").scopes if s not in route(api, "GET /admin").scopes
    )
    response = gateway(make_request("GET", "/admin", headers=bearer(signing_key, other)))
    assert answer(response) == (403, b'{"message":"Forbidden"}', "application/json")
    assert runner.events == []


def test_a_body_over_10_mb_is_413(gateway: HttpApiGateway, runner: FakeRunner) -> None:
    request = make_request("POST", "/open/x")
    request.environ["CONTENT_LENGTH"] = str(MAX_REQUEST_BYTES + 1)
    response = gateway(request)
    assert answer(response) == (413, b'{"message":"Request Entity Too Large"}', "application/json")
    assert runner.events == []


def test_route_throttling_is_429_too_many_requests(
    api: HttpApiSpec, runner: FakeRunner, signing_key: SigningKey
) -> None:
    gateway = make_gateway(api, runner, signing_key, throttling=True)
    burst = api.route_throttles[("/throttled", "GET")].burst
    statuses = [gateway(make_request("GET", "/throttled")).status_code for _ in range(burst + 1)]
    assert statuses == [200] * burst + [429]
    assert gateway(make_request("GET", "/throttled")).get_data() == b'{"message":"Too Many Requests"}'
    assert gateway(make_request("GET", "/open/x")).status_code == 200  # each route has its own bucket


# ---------------------------------------------------------------- the integration's outcomes


@pytest.mark.parametrize(
    ("runner", "status", "body"),
    [
        (FakeRunner(error=FunctionError("Unhandled", "boom")), 500, b'{"message":"Internal Server Error"}'),
        (FakeRunner(payload={"statusCode": "200"}), 500, b'{"message":"Internal Server Error"}'),
        (FakeRunner(error=Throttled()), 503, b'{"message":"Service Unavailable"}'),
    ],
    ids=["function-error", "malformed", "lambda-throttled"],
)
def test_typed_outcomes_answer_500_or_503(
    api: HttpApiSpec, signing_key: SigningKey, runner: FakeRunner, status: int, body: bytes
) -> None:
    response = make_gateway(api, runner, signing_key)(make_request("GET", "/open/x"))
    assert answer(response) == (status, body, "application/json")


def test_integration_timeout_is_503(api: HttpApiSpec, signing_key: SigningKey) -> None:
    quick = dataclasses.replace(
        api, routes=tuple(dataclasses.replace(r, timeout_seconds=0.01) for r in api.routes)
    )
    response = make_gateway(quick, FakeRunner(completes=False), signing_key)(make_request("GET", "/slow"))
    assert answer(response) == (503, b'{"message":"Service Unavailable"}', "application/json")


# ---------------------------------------------------------------- routes and events


def test_route_priority_literal_then_parameter_then_greedy_then_default(
    api: HttpApiSpec, signing_key: SigningKey
) -> None:
    def r(resource: str, method: str = "GET") -> Route:
        return Route(resource, method, f"{method} {resource}", None, None, (), False)

    routes = (
        r("$default", "ANY"),
        r("/pets/{proxy+}", "ANY"),
        r("/pets/{id}"),
        r("/pets/dog"),
        r("/pets/{id}", "POST"),
        r("/{kind}/b"),
        r("/a/{proxy+}", "ANY"),
        r("/toys", "ANY"),
        r("/toys"),
    )
    runner = FakeRunner()
    gateway = make_gateway(dataclasses.replace(api, routes=routes, cors=None), runner, signing_key)
    expected = {
        ("GET", "/pets/dog"): "GET /pets/dog",  # a literal segment before a parameter
        ("GET", "/pets/cat"): "GET /pets/{id}",  # a parameter before a greedy one
        ("DELETE", "/pets/cat"): "ANY /pets/{proxy+}",  # no route of that method: the next that takes it
        ("GET", "/pets/a/b"): "ANY /pets/{proxy+}",
        ("GET", "/a/b"): "GET /{kind}/b",  # a full match before a greedy one, whatever the segments
        ("GET", "/toys"): "GET /toys",  # the method's own route before ANY
        ("PUT", "/toys"): "ANY /toys",
        ("GET", "/x"): "$default",
    }
    for method, path in expected:
        assert gateway(make_request(method, path)).status_code == 200
    assert [e["routeKey"] for e in runner.events] == list(expected.values())


def test_raw_path_and_path_parameters_are_decoded(gateway: HttpApiGateway, runner: FakeRunner) -> None:
    gateway(make_request("GET", "/answer/a%2Fb%40c"))
    gateway(make_request("GET", "/open/x%20y/z"))
    first, second = runner.events
    assert (first["rawPath"], first["pathParameters"]) == ("/answer/a/b@c", {"shape": "a/b@c"})
    assert (second["rawPath"], second["pathParameters"]) == ("/open/x y/z", {"proxy": "x y/z"})


def test_a_named_stage_serves_under_its_name_only(api: HttpApiSpec, signing_key: SigningKey) -> None:
    runner = FakeRunner()
    gateway = make_gateway(dataclasses.replace(api, stage="prod"), runner, signing_key)
    assert gateway(make_request("GET", "/open/x")).status_code == 404
    assert gateway(make_request("GET", "/prod/open/x")).status_code == 200
    (event,) = runner.events
    assert (event["rawPath"], event["requestContext"]["stage"]) == ("/prod/open/x", "prod")


def test_claims_and_scopes_reach_the_event(
    api: HttpApiSpec, gateway: HttpApiGateway, runner: FakeRunner, signing_key: SigningKey
) -> None:
    scopes = route(api, "GET /admin").scopes
    gateway(make_request("GET", "/admin", headers=bearer(signing_key, scopes)))
    gateway(make_request("GET", "/whoami", headers=bearer(signing_key, scopes)))
    scoped, unscoped = (e["requestContext"]["authorizer"]["jwt"] for e in runner.events)
    assert scoped["scopes"] == list(scopes)
    assert unscoped["scopes"] is None
    assert scoped["claims"]["client_id"] == MACHINE
    assert scoped["claims"]["exp"] == str(int(scoped["claims"]["exp"]))


def test_an_open_route_has_no_authorizer_in_the_event(gateway: HttpApiGateway, runner: FakeRunner) -> None:
    gateway(make_request("GET", "/open/x"))
    assert "authorizer" not in runner.events[0]["requestContext"]


@pytest.mark.parametrize(
    ("content_type", "sent", "is_base64"),
    [
        ("application/json", '{"a": 1}', False),
        ("application/x-www-form-urlencoded", base64.b64encode(b'{"a": 1}').decode(), True),
        (None, base64.b64encode(b'{"a": 1}').decode(), True),
    ],
)
def test_request_bodies_as_text_or_base64(
    gateway: HttpApiGateway, runner: FakeRunner, content_type: str | None, sent: str, is_base64: bool
) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    gateway(make_request("POST", "/open/x", data=b'{"a": 1}', headers=headers))
    assert (runner.events[0]["body"], runner.events[0]["isBase64Encoded"]) == (sent, is_base64)


# ---------------------------------------------------------------- CORS, answered by the gateway


def preflight(gateway: HttpApiGateway, path: str, origin: str = ORIGIN, method: str = "GET") -> Response:
    headers = {"Origin": origin, "Access-Control-Request-Method": method}
    return gateway(make_request("OPTIONS", path, headers=headers))


def test_a_preflight_no_route_takes_is_204_with_the_configuration(
    api: HttpApiSpec, gateway: HttpApiGateway, runner: FakeRunner
) -> None:
    assert api.cors is not None
    response = preflight(gateway, "/whoami")
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-methods"] == ",".join(api.cors.allow_methods)
    assert response.headers["access-control-allow-headers"] == ",".join(api.cors.allow_headers)
    assert response.headers["access-control-max-age"] == str(api.cors.max_age)
    assert runner.events == []


def test_a_preflight_from_another_origin_gets_no_cors_headers(gateway: HttpApiGateway) -> None:
    response = preflight(gateway, "/whoami", origin="https://evil.example")
    assert response.status_code == 204
    assert not [n for n, _ in response.headers if n.startswith("access-control-")]


def test_a_preflight_an_any_route_matches_goes_to_that_route_and_its_authorizer(
    gateway: HttpApiGateway,
) -> None:
    assert preflight(gateway, "/echo/x").status_code == 401


@pytest.mark.parametrize("path", ["/whoami", "/nothing", "/open/x"], ids=["401", "404", "200"])
def test_every_answer_to_an_allowed_origin_has_the_cors_headers(gateway: HttpApiGateway, path: str) -> None:
    response = gateway(make_request("GET", path, headers={"Origin": ORIGIN}))
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"
    assert response.headers["vary"] == "origin"


def test_no_cors_headers_without_an_allowed_origin(gateway: HttpApiGateway) -> None:
    for headers in ({}, {"Origin": "https://evil.example"}):
        response = gateway(make_request("GET", "/open/x", headers=headers))
        assert "access-control-allow-origin" not in response.headers


def test_the_functions_own_cors_headers_are_dropped(api: HttpApiSpec, signing_key: SigningKey) -> None:
    runner = FakeRunner(
        payload={"statusCode": 200, "headers": {"Access-Control-Allow-Origin": "*"}, "body": ""}
    )
    gateway = make_gateway(api, runner, signing_key)
    assert "access-control-allow-origin" not in gateway(make_request("GET", "/open/x")).headers
    response = gateway(make_request("GET", "/open/x", headers={"Origin": ORIGIN}))
    assert response.headers.getlist("access-control-allow-origin") == [ORIGIN]
