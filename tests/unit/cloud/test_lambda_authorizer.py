"""sam_local_cloud/apigateway/lambda_authorizer.py and what spec.py reads of Lambda authorizers
(docs/aws-behaviour.md §11): identity sources, the validation expression, the cache and its TTL, the events,
the answers and their refusals. The authorizers come from tests/fixtures/lambda_authorizers.yaml; a fake
runner records each call and answers what the test says, a fake clock moves time on."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import pytest
from werkzeug.wrappers import Request

from sam_local_cloud.apigateway.authorizers import Authorization, Matched, remember_match
from sam_local_cloud.apigateway.gateway import ApiKey, Gateway
from sam_local_cloud.apigateway.http_api import HttpApiGateway
from sam_local_cloud.apigateway.lambda_authorizer import (
    AccessDenied,
    ApiFacts,
    AuthorizerFailed,
    LambdaAuthorizer,
    Unauthorized,
    stringified,
)
from sam_local_cloud.cloudformation.spec import (
    DEFAULT_AUTHORIZER_TTL_SECONDS,
    CloudSpec,
    HttpApiSpec,
    LambdaAuthorizerSpec,
    Route,
    read_spec,
)
from sam_local_cloud.cloudformation.template import translate
from sam_local_cloud.lambda_.outcome import FunctionError, Outcome, Result, TimedOut
from sam_local_cloud.lambda_.runner import Invocation
from tests.e2e.support import FIXTURES
from tests.unit.cloud.support import make_request

NOT_AUTHORIZED = "User is not authorized to access this resource"
REST = ApiFacts("a1b2c3d4e5", "test", "eu-west-1", "111122223333", {"flavour": "plain"})
HTTP = ApiFacts("f6g7h8i9j0", "$default", "eu-west-1", "111122223333", {}, http_api=True)


def allow(resource: str, **more: Any) -> dict[str, Any]:
    statement = {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": resource}
    return {
        "principalId": "alice",
        "policyDocument": {"Version": "2012-10-17", "Statement": [statement]},
        **more,
    }


@dataclass
class FakeRunner:
    """Answers each call with `outcome` (by default an Allow on everything), and records the events."""

    outcome: Outcome = field(default_factory=lambda: Result(allow("*")))
    events: list[dict[str, Any]] = field(default_factory=list)

    def invoke(self, function: str, event: dict[str, Any], request_id: str | None = None) -> Invocation:
        self.events.append(event)
        return Invocation(function=function, outcome=self.outcome)


@dataclass
class Clock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def spec() -> CloudSpec:
    return read_spec(translate(path=FIXTURES / "lambda_authorizers.yaml"))


@pytest.fixture(scope="module")
def http_api(spec: CloudSpec) -> HttpApiSpec:
    return spec.http_apis[0]


def route_of(routes: tuple[Route, ...], resource: str, method: str = "GET") -> Route:
    return next(r for r in routes if (r.resource, r.method) == (resource, method))


def request(method: str, path: str, parameters: dict[str, str] | None = None, **builder: Any) -> Request:
    """A request whose route the gateway matched (what it remembers for the authorizer)."""
    made = make_request(method, path, **builder)
    remember_match(made, Matched(path, parameters or {}, "request-1"))
    return made


def authorizer(
    spec: LambdaAuthorizerSpec, runner: FakeRunner, api: ApiFacts = REST, clock: Clock | None = None
) -> LambdaAuthorizer:
    return LambdaAuthorizer(spec, runner=runner, api=api, clock=clock or Clock())  # type: ignore[arg-type]


# ---------------------------------------------------------------- what spec.py reads


def test_rest_authorizers_as_sam_writes_them(spec: CloudSpec) -> None:
    assert spec.api is not None
    token = spec.api.lambda_authorizers["TokenCheck"]
    assert (token.kind, token.function, token.ttl_seconds, token.validation_expression) == (
        "token",
        "AuthorizerFunction",
        60,
        "^Bearer [a-z]+$",
    )
    assert [s.written for s in token.identity_sources] == ["method.request.header.X-Token"]
    plain = spec.api.lambda_authorizers["PlainToken"]  # SAM's defaults: the Authorization header, 300 s
    assert ([s.name for s in plain.identity_sources], plain.ttl_seconds) == (["Authorization"], 300)
    assert DEFAULT_AUTHORIZER_TTL_SECONDS == 300
    request_check = spec.api.lambda_authorizers["RequestCheck"]
    assert [(s.where, s.name) for s in request_check.identity_sources] == [
        ("header", "X-Customer"),
        ("querystring", "tenant"),
        ("stageVariables", "flavour"),
        ("context", "identity.sourceIp"),
    ]
    assert request_check.ttl_seconds == 0
    assert (spec.api.api_key_source, spec.api.stage_variables) == ("AUTHORIZER", {"flavour": "plain"})
    assert route_of(spec.api.routes, "/request/{name}").authorizer == "RequestCheck"


def test_http_api_authorizers_as_sam_writes_them(http_api: HttpApiSpec) -> None:
    simple, policy_answers = http_api.lambda_authorizers["Simple"], http_api.lambda_authorizers["Policy"]
    assert (simple.payload_version, simple.simple_responses, simple.ttl_seconds) == ("2.0", True, 300)
    assert [s.written for s in simple.identity_sources] == [
        "$request.header.X-Customer",
        "$request.querystring.tenant",
    ]
    assert (policy_answers.payload_version, policy_answers.simple_responses, policy_answers.ttl_seconds) == (
        "1.0",
        False,
        30,
    )
    assert route_of(http_api.routes, "/policy/{name}").authorizer == "Policy"


def test_an_identity_source_the_local_cloud_cannot_read_is_refused_by_name(spec: CloudSpec) -> None:
    assert spec.unenforceable == [
        "GET /odd: a Lambda authorizer (request; its identity source "
        "context.identity.clientCert.subjectDN cannot be read locally) OddContext"
    ]


# ---------------------------------------------------------------- TOKEN


def test_token_event_and_method_arn(spec: CloudSpec) -> None:
    runner = FakeRunner()
    token = authorizer(spec.api.lambda_authorizers["TokenCheck"], runner)
    route = route_of(spec.api.routes, "/token")
    token.check(request("GET", "/token", headers={"X-Token": "Bearer abc"}), route)
    assert runner.events == [
        {
            "type": "TOKEN",
            "authorizationToken": "Bearer abc",
            "methodArn": "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5/test/GET/token",
        }
    ]


@pytest.mark.parametrize(
    "headers",
    [{}, {"X-Token": ""}, {"X-Token": "Bearer ABC"}, {"X-Token": "Bearer abc and more"}, {"X-Token": "abc"}],
)
def test_token_missing_or_failing_the_validation_expression_is_401_without_a_call(
    spec: CloudSpec, headers: dict[str, str]
) -> None:
    runner = FakeRunner()
    token = authorizer(spec.api.lambda_authorizers["TokenCheck"], runner)
    with pytest.raises(Unauthorized):
        token.check(request("GET", "/token", headers=headers), route_of(spec.api.routes, "/token"))
    assert runner.events == []


# ---------------------------------------------------------------- the cache


def test_answers_are_cached_per_token_for_the_ttl(spec: CloudSpec) -> None:
    runner, clock = FakeRunner(), Clock()
    token = authorizer(spec.api.lambda_authorizers["TokenCheck"], runner, clock=clock)
    route = route_of(spec.api.routes, "/token")

    def check(value: str) -> Authorization:
        return token.check(request("GET", "/token", headers={"X-Token": f"Bearer {value}"}), route)

    first, second = check("abc"), check("abc")
    assert len(runner.events) == 1
    assert (first.latency_ms >= 1, second.latency_ms) == (True, 0)
    check("xyz")  # another token, another cache entry
    assert len(runner.events) == 2
    clock.now += 59.9
    check("abc")
    assert len(runner.events) == 2
    clock.now += 0.2  # past the template's 60 s
    check("abc")
    assert len(runner.events) == 3


def test_a_cached_policy_is_evaluated_against_each_methods_arn(spec: CloudSpec) -> None:
    """The caching pitfall: a policy naming one method, cached, refuses the others for the same token."""
    runner = FakeRunner(Result(allow("arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5/test/GET/token")))
    token = authorizer(spec.api.lambda_authorizers["PlainToken"], runner)
    headers = {"Authorization": "secret"}
    token.check(request("GET", "/token", headers=headers), route_of(spec.api.routes, "/token"))
    with pytest.raises(AccessDenied) as denied:
        token.check(request("GET", "/plain", headers=headers), route_of(spec.api.routes, "/plain"))
    assert (denied.value.explicit, len(runner.events)) == (False, 1)


def test_a_deny_is_cached_and_a_failure_is_not(spec: CloudSpec) -> None:
    deny = allow("*")
    deny["policyDocument"]["Statement"][0]["Effect"] = "Deny"
    runner = FakeRunner(Result(deny))
    token = authorizer(spec.api.lambda_authorizers["PlainToken"], runner)
    route = route_of(spec.api.routes, "/plain")
    for _ in range(2):
        with pytest.raises(AccessDenied) as denied:
            token.check(request("GET", "/plain", headers={"Authorization": "t"}), route)
        assert denied.value.explicit
    assert len(runner.events) == 1
    runner.outcome = FunctionError("Exception", "Unauthorized")
    for _ in range(2):
        with pytest.raises(Unauthorized):
            token.check(request("GET", "/plain", headers={"Authorization": "u"}), route)
    assert len(runner.events) == 3


def test_ttl_zero_calls_the_function_at_every_request(spec: CloudSpec) -> None:
    runner = FakeRunner()
    request_check = authorizer(spec.api.lambda_authorizers["RequestCheck"], runner)
    route = route_of(spec.api.routes, "/request/{name}")
    for _ in range(2):
        request_check.check(
            request(
                "GET", "/request/ann", {"name": "ann"}, headers={"X-Customer": "c"}, query_string="tenant=t"
            ),
            route,
        )
    assert len(runner.events) == 2


# ---------------------------------------------------------------- REQUEST


def test_request_event_has_the_request_and_no_body(spec: CloudSpec) -> None:
    runner = FakeRunner()
    request_check = authorizer(spec.api.lambda_authorizers["RequestCheck"], runner)
    made = request(
        "GET",
        "/request/a%20b",
        {"name": "a%20b"},
        headers={"X-Customer": "c1"},
        query_string="tenant=t1&tenant=t2",
        data=b"ignored",
    )
    request_check.check(made, route_of(spec.api.routes, "/request/{name}"))
    (event,) = runner.events
    assert (event["type"], event["methodArn"]) == (
        "REQUEST",
        "arn:aws:execute-api:eu-west-1:111122223333:a1b2c3d4e5/test/GET/request/a%20b",
    )
    assert (event["resource"], event["path"], event["httpMethod"]) == (
        "/request/{name}",
        "/request/a%20b",
        "GET",
    )
    assert event["headers"]["X-Customer"] == "c1"
    assert event["queryStringParameters"] == {"tenant": "t2"}
    assert event["multiValueQueryStringParameters"] == {"tenant": ["t1", "t2"]}
    assert (event["pathParameters"], event["stageVariables"]) == ({"name": "a%20b"}, {"flavour": "plain"})
    assert event["requestContext"]["requestId"] == "request-1"
    assert "authorizer" not in event["requestContext"]
    assert "body" not in event
    assert "isBase64Encoded" not in event


@pytest.mark.parametrize(
    ("headers", "query"), [({}, "tenant=t"), ({"X-Customer": "c"}, ""), ({"X-Customer": "c"}, "tenant=")]
)
def test_request_identity_sources_must_all_be_present_and_non_empty(
    spec: CloudSpec, headers: dict[str, str], query: str
) -> None:
    runner = FakeRunner()
    request_check = authorizer(spec.api.lambda_authorizers["RequestCheck"], runner)
    made = request("GET", "/request/ann", {"name": "ann"}, headers=headers, query_string=query)
    with pytest.raises(Unauthorized):
        request_check.check(made, route_of(spec.api.routes, "/request/{name}"))
    assert runner.events == []


def test_a_stage_variable_identity_source_comes_from_the_stage(spec: CloudSpec) -> None:
    runner = FakeRunner()
    without_variable = authorizer(
        spec.api.lambda_authorizers["RequestCheck"], runner, api=dataclasses.replace(REST, stage_variables={})
    )
    made = request(
        "GET", "/request/ann", {"name": "ann"}, headers={"X-Customer": "c"}, query_string="tenant=t"
    )
    with pytest.raises(Unauthorized):
        without_variable.check(made, route_of(spec.api.routes, "/request/{name}"))


# ---------------------------------------------------------------- answers


@pytest.mark.parametrize(
    "outcome",
    [
        FunctionError("RuntimeError", "the token store is down"),
        FunctionError("Exception", "unauthorized"),  # only the exact word is a 401
        TimedOut(3.0),
        Result("Unauthorized"),  # returned, not raised: not an answer API Gateway reads
        Result({"policyDocument": allow("*")["policyDocument"]}),  # no principalId
        Result({"principalId": "alice"}),  # no policy
        Result(allow("*", context="not an object")),
        Result(allow("*", context={"profile": {"name": "x"}})),  # a REST context holds scalars only
        Result(allow("*", usageIdentifierKey=7)),
    ],
)
def test_failures_and_malformed_answers_are_500(spec: CloudSpec, outcome: Outcome) -> None:
    token = authorizer(spec.api.lambda_authorizers["PlainToken"], FakeRunner(outcome))
    with pytest.raises(AuthorizerFailed):
        token.check(
            request("GET", "/plain", headers={"Authorization": "t"}), route_of(spec.api.routes, "/plain")
        )


def test_an_allowed_answer_carries_its_principal_context_and_usage_key(spec: CloudSpec) -> None:
    answer = allow(
        "*", context={"s": "v", "n": 1, "f": 1.5, "b": False, "z": None}, usageIdentifierKey="key-1"
    )
    token = authorizer(spec.api.lambda_authorizers["PlainToken"], FakeRunner(Result(answer)))
    found = token.check(
        request("GET", "/plain", headers={"Authorization": "t"}), route_of(spec.api.routes, "/plain")
    )
    assert (found.principal_id, found.usage_identifier_key) == ("alice", "key-1")
    assert stringified(found.context or {}) == {"s": "v", "n": "1", "f": "1.5", "b": "false", "z": None}


def test_the_key_source_authorizer_takes_the_usage_identifier_key(spec: CloudSpec) -> None:
    class Keys:
        def find(self, value: str | None) -> ApiKey | None:
            return ApiKey("id-1", None, None) if value == "key-1" else None

    class Allows:
        def __init__(self, key: str | None):
            self.key = key

        def check(self, request: Request, route: Route) -> Authorization:
            return Authorization(principal_id="p", context={}, usage_identifier_key=self.key)

    submitted: list[dict[str, Any]] = []

    class Runner:
        def submit(self, function: str, event: dict[str, Any], *_: Any) -> Any:
            from concurrent.futures import Future

            submitted.append(event)
            future: Future[Invocation] = Future()
            future.set_result(Invocation(function, Result({"statusCode": 200, "body": "{}"})))
            return future

    def gateway(key: str | None) -> Gateway:
        return Gateway(
            spec.api,  # type: ignore[arg-type]
            runner=Runner(),  # type: ignore[arg-type]
            authorizers={"TokenCheck": Allows(key)},
            api_keys=Keys(),  # type: ignore[arg-type]
            throttling=None,
            api_id="a1b2c3d4e5",
            account_id="111122223333",
        )

    # The x-api-key header does not count with the key source AUTHORIZER.
    refused = gateway(None)(make_request("GET", "/test/token", headers={"x-api-key": "key-1"}))
    assert refused.status_code == 403
    assert gateway("key-1")(make_request("GET", "/test/token")).status_code == 200
    assert submitted[0]["requestContext"]["identity"]["apiKeyId"] == "id-1"


# ---------------------------------------------------------------- HTTP APIs


def test_http_api_simple_response_and_its_event(http_api: HttpApiSpec) -> None:
    runner = FakeRunner(Result({"isAuthorized": True, "context": {"tags": ["a"], "n": 1}}))
    simple = authorizer(http_api.lambda_authorizers["Simple"], runner, api=HTTP)
    made = request("GET", "/simple", headers={"X-Customer": "c1"}, query_string="tenant=t1&tenant=t2")
    found = simple.check(made, route_of(http_api.routes, "/simple"))
    assert found.context == {"tags": ["a"], "n": 1}  # passed on as returned
    (event,) = runner.events
    assert (event["version"], event["type"], event["routeKey"], event["rawPath"]) == (
        "2.0",
        "REQUEST",
        "GET /simple",
        "/simple",
    )
    assert event["routeArn"] == "arn:aws:execute-api:eu-west-1:111122223333:f6g7h8i9j0/$default/GET/simple"
    assert event["identitySource"] == ["c1", "t1,t2"]  # a repeated parameter joined, as in the event
    assert event["headers"]["x-customer"] == "c1"
    assert "body" not in event
    assert "authorizer" not in event["requestContext"]


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        ({"isAuthorized": False}, AccessDenied),
        ({"isAuthorized": "true"}, AuthorizerFailed),
        ({"context": {}}, AuthorizerFailed),
        (allow("*"), AuthorizerFailed),  # a policy where a simple response is expected
    ],
)
def test_http_api_simple_response_refusals(
    http_api: HttpApiSpec, answer: Any, refusal: type[Exception]
) -> None:
    simple = authorizer(http_api.lambda_authorizers["Simple"], FakeRunner(Result(answer)), api=HTTP)
    made = request("GET", "/simple", headers={"X-Customer": "c1"}, query_string="tenant=t1")
    with pytest.raises(refusal):
        simple.check(made, route_of(http_api.routes, "/simple"))


def test_http_api_payload_1_0_event_and_route_key_in_the_cache_key(http_api: HttpApiSpec) -> None:
    runner = FakeRunner(Result(allow("*", context={"nested": {"ok": True}})))  # HTTP APIs take any JSON
    policy_answers = authorizer(http_api.lambda_authorizers["Policy"], runner, api=HTTP)
    route = route_of(http_api.routes, "/policy/{name}")
    made = request("GET", "/policy/ann", {"name": "ann"}, headers={"Authorization": "tok"})
    assert policy_answers.check(made, route).context == {"nested": {"ok": True}}
    (event,) = runner.events
    assert (event["version"], event["type"], event["identitySource"], event["authorizationToken"]) == (
        "1.0",
        "REQUEST",
        "tok,GET /policy/{name}",
        "tok,GET /policy/{name}",
    )
    assert event["methodArn"].endswith("/$default/GET/policy/ann")
    assert event["resource"] == "/policy/{name}"


def test_the_validation_expression_must_match_the_whole_token(spec: CloudSpec) -> None:
    """Unsettled: a full match (Java's `String.matches`), so an expression without anchors is anchored."""
    unanchored = dataclasses.replace(
        spec.api.lambda_authorizers["TokenCheck"], validation_expression="Bearer [a-z]+"
    )
    runner = FakeRunner()
    token = authorizer(unanchored, runner)
    route = route_of(spec.api.routes, "/token")
    with pytest.raises(Unauthorized):
        token.check(request("GET", "/token", headers={"X-Token": "Bearer abc!"}), route)
    token.check(request("GET", "/token", headers={"X-Token": "Bearer abc"}), route)
    assert len(runner.events) == 1


@pytest.mark.parametrize(
    ("refusal", "status", "body", "error_type"),
    [
        (
            AccessDenied(explicit=True),
            403,
            {"Message": f"{NOT_AUTHORIZED} with an explicit deny"},
            "AccessDenied",
        ),
        (AccessDenied(explicit=False), 403, {"Message": NOT_AUTHORIZED}, "AccessDenied"),
        (AuthorizerFailed("boom"), 500, {"message": None}, "AuthorizerConfiguration"),
        (Unauthorized("no token"), 401, {"message": "Unauthorized"}, "Unauthorized"),
    ],
)
def test_rest_answers_without_gateway_responses(
    spec: CloudSpec, refusal: Exception, status: int, body: dict[str, Any], error_type: str
) -> None:
    """The default bodies: ACCESS_DENIED's key is `Message`; an authorizer's failure has a null message."""

    class Refuses:
        def check(self, request: Request, route: Route) -> Authorization:
            raise refusal

    assert spec.api is not None
    assert not spec.api.gateway_responses
    gateway = Gateway(
        spec.api,
        runner=None,  # type: ignore[arg-type]
        authorizers={"PlainToken": Refuses()},
        api_keys=None,
        throttling=None,
        api_id="a1b2c3d4e5",
        account_id="111122223333",
    )
    response = gateway(make_request("GET", "/test/plain"))
    assert (response.status_code, json.loads(response.get_data())) == (status, body)
    assert response.headers["x-amzn-ErrorType"] == f"{error_type}Exception"


def test_http_api_policy_answers_are_judged_against_the_route_arn(http_api: HttpApiSpec) -> None:
    runner = FakeRunner(Result(allow("arn:aws:execute-api:*:*:*/$default/POST/*")))
    policy_answers = authorizer(http_api.lambda_authorizers["Policy"], runner, api=HTTP)
    made = request("GET", "/policy/ann", {"name": "ann"}, headers={"Authorization": "tok"})
    with pytest.raises(AccessDenied):
        policy_answers.check(made, route_of(http_api.routes, "/policy/{name}"))


@pytest.mark.parametrize(
    ("refusal", "status", "message"),
    [
        (AccessDenied(explicit=True), 403, "Forbidden"),
        (AccessDenied(explicit=False), 403, "Forbidden"),
        (Unauthorized("no identity"), 401, "Unauthorized"),
        (AuthorizerFailed("boom"), 500, "Internal Server Error"),
    ],
)
def test_http_api_answers_to_a_lambda_authorizers_refusals(
    http_api: HttpApiSpec, refusal: Exception, status: int, message: str
) -> None:
    class Refuses:
        def check(self, request: Request, route: Route) -> Authorization:
            raise refusal

    gateway = HttpApiGateway(
        http_api,
        runner=None,  # type: ignore[arg-type]
        authorizers={"Simple": Refuses()},
        throttling=None,
        api_id="f6g7h8i9j0",
        account_id="111122223333",
    )
    response = gateway(make_request("GET", "/simple"))
    assert (response.status_code, json.loads(response.get_data())) == (status, {"message": message})
    assert "www-authenticate" not in response.headers  # the JWT authorizer's header, not a Lambda one's


def test_what_is_not_reproduced_is_named_at_start_up(spec: CloudSpec) -> None:
    (note,) = [n for n in spec.not_honoured if "Lambda authorizer" in n]
    assert " and 4 more: " in note  # the five it runs, in one line
    assert "Conditions are not evaluated" in note
    assert "invoke permission" in note
