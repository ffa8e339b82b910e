"""Lambda authorizers on template.yaml's two APIs (docs/aws-behaviour.md §11).

A copy of template.yaml, in a folder of the test's own, gets what a user would add with SAM's own
syntax (`Auth: Authorizers: X: FunctionArn: ...`): a TOKEN authorizer and a REQUEST authorizer on the
REST API, a Lambda authorizer with simple responses on the HTTP API, and a function (the fixture
`echo`) behind each, which answers with the event it got. The authorizers are the fixture functions
in tests/fixtures/authorizers/, written as for AWS. How often each ran is read from the cloud's
console, which prints a line per authorizer invocation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import TEMPLATE_PATH, load_source, translate
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import ROOT, LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="a template of its own, on the local cloud")

TOKEN_ROUTE = "/whoami"
REQUEST_ROUTE = "/customers/{name}"
HTTP_ROUTE = "/whoami"


def _function(code: str, handler: str, events: dict[str, Any] | None = None) -> dict[str, Any]:
    properties: dict[str, Any] = {"CodeUri": code, "Handler": handler}
    if events:
        properties["Events"] = events
    return {"Type": "AWS::Serverless::Function", "Properties": properties}


def _event(kind: str, api: str, path: str, method: str, authorizer: str) -> dict[str, Any]:
    api_key = "RestApiId" if kind == "Api" else "ApiId"
    properties = {api_key: {"Ref": api}, "Path": path, "Method": method, "Auth": {"Authorizer": authorizer}}
    return {"Type": kind, "Properties": properties}


def template_with_lambda_authorizers(folder: Path) -> Path:
    """template.yaml with the authorizers, their functions and the echo routes added (as JSON, which
    is YAML too); code folders relative to the copy, as CodeUri is read."""

    def code(folder_in_repo: Path) -> str:
        return os.path.relpath(folder_in_repo, folder)

    source = load_source(TEMPLATE_PATH)
    source["Globals"]["Function"]["CodeUri"] = code(ROOT / "functions")
    resources = source["Resources"]
    rest_api = next(n for n, r in resources.items() if r["Type"] == "AWS::Serverless::Api")
    http_api = next(n for n, r in resources.items() if r["Type"] == "AWS::Serverless::HttpApi")
    authorizers = code(FIXTURES / "authorizers")
    resources["TokenAuthorizerFunction"] = _function(authorizers, "token_authorizer.handler")
    resources["RequestAuthorizerFunction"] = _function(authorizers, "request_authorizer.handler")
    resources["SimpleAuthorizerFunction"] = _function(authorizers, "simple_authorizer.handler")
    resources[rest_api]["Properties"]["Auth"]["Authorizers"].update(
        {
            "TokenCheck": {
                "FunctionArn": {"Fn::GetAtt": ["TokenAuthorizerFunction", "Arn"]},
                "Identity": {"Header": "Authorization", "ValidationExpression": "^Bearer [a-z]+(-[a-z]+)?$"},
            },
            "CustomerCheck": {
                "FunctionPayloadType": "REQUEST",
                "FunctionArn": {"Fn::GetAtt": ["RequestAuthorizerFunction", "Arn"]},
                "Identity": {"Headers": ["X-Customer"], "QueryStrings": ["tenant"]},
            },
        }
    )
    resources[http_api]["Properties"]["Auth"]["Authorizers"]["SimpleCheck"] = {
        "FunctionArn": {"Fn::GetAtt": ["SimpleAuthorizerFunction", "Arn"]},
        "AuthorizerPayloadFormatVersion": "2.0",
        "EnableSimpleResponses": True,
        "EnableFunctionDefaultPermissions": True,
        "Identity": {"Headers": ["X-Customer"]},
    }
    resources["EchoFunction"] = _function(
        code(FIXTURES / "functions"),
        "echo.handler",
        {
            "TokenGet": _event("Api", rest_api, TOKEN_ROUTE, "GET", "TokenCheck"),
            "TokenPost": _event("Api", rest_api, TOKEN_ROUTE, "POST", "TokenCheck"),
            "Customer": _event("Api", rest_api, REQUEST_ROUTE, "GET", "CustomerCheck"),
            "Http": _event("HttpApi", http_api, HTTP_ROUTE, "GET", "SimpleCheck"),
        },
    )
    path = folder / "template.yaml"
    path.write_text(json.dumps(source, indent=1))
    return path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    folder = tmp_path_factory.mktemp("lambda-authorizers")
    running = start_local_cloud(
        folder, "--template", str(template_with_lambda_authorizers(folder)), "--no-throttle", timeout=60
    )
    yield running
    running.stop()


@pytest.fixture(scope="module")
def rest_url(cloud: LocalCloud) -> str:
    return str(cloud.outputs["ApiUrl"]).rstrip("/")


@pytest.fixture(scope="module")
def http_url(cloud: LocalCloud) -> str:
    return str(cloud.outputs["HttpApiUrl"]).rstrip("/")


def calls(cloud: LocalCloud, authorizer: str) -> int:
    """How many times the authorizer's function has run (a console line each)."""
    return cloud.console.count(f"(Lambda authorizer {authorizer})")


def get(url: str, **kwargs: Any) -> requests.Response:
    return requests.get(url, timeout=30, **kwargs)


def event_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def settled(cloud: LocalCloud, authorizer: str) -> int:
    """The count once the console has caught up with the requests made so far."""
    cloud.wait_for_console(f"(Lambda authorizer {authorizer})")
    return calls(cloud, authorizer)


# ---------------------------------------------------------------- the template copy


def test_the_copy_declares_what_the_cloud_serves(tmp_path: Path) -> None:
    spec = read_spec(translate(path=template_with_lambda_authorizers(tmp_path)))
    assert spec.api is not None
    token, request = spec.api.lambda_authorizers["TokenCheck"], spec.api.lambda_authorizers["CustomerCheck"]
    assert (token.kind, token.function, token.ttl_seconds) == ("token", "TokenAuthorizerFunction", 300)
    assert [s.written for s in request.identity_sources] == [
        "method.request.header.X-Customer",
        "method.request.querystring.tenant",
    ]
    (simple,) = spec.http_apis[0].lambda_authorizers.values()
    assert (simple.payload_version, simple.simple_responses) == ("2.0", True)
    assert spec.unenforceable == []


# ---------------------------------------------------------------- REST: TOKEN


def test_a_missing_token_is_401_without_calling_the_authorizer(cloud: LocalCloud, rest_url: str) -> None:
    before = calls(cloud, "TokenCheck")
    response = get(f"{rest_url}{TOKEN_ROUTE}")
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    cloud.wait_for_console(f"GET /{rest_url.rsplit('/', 1)[1]}{TOKEN_ROUTE} 401")
    assert calls(cloud, "TokenCheck") == before


def test_a_token_failing_the_validation_expression_is_401_without_calling(
    cloud: LocalCloud, rest_url: str
) -> None:
    before = calls(cloud, "TokenCheck")
    response = get(f"{rest_url}{TOKEN_ROUTE}", headers={"Authorization": "Basic allow-alice"})
    assert response.status_code == 401
    assert calls(cloud, "TokenCheck") == before


def test_an_allowed_token_reaches_the_function_with_the_context_and_is_cached(
    cloud: LocalCloud, rest_url: str
) -> None:
    headers = {"Authorization": "Bearer allow-alice"}
    first = event_of(get(f"{rest_url}{TOKEN_ROUTE}", headers=headers))
    after_first = settled(cloud, "TokenCheck")
    second = event_of(get(f"{rest_url}{TOKEN_ROUTE}", headers=headers))
    authorizer = first["requestContext"]["authorizer"]
    latency = authorizer.pop("integrationLatency")
    # The context's values as strings, the principal beside them.
    assert authorizer == {"user": "alice", "level": "3", "admin": "true", "principalId": "alice"}
    assert isinstance(latency, int)
    assert latency >= 1
    assert second["requestContext"]["authorizer"]["integrationLatency"] == 0  # the cached answer
    assert calls(cloud, "TokenCheck") == after_first  # one call for both requests


def test_a_cached_policy_for_one_method_refuses_another_with_the_same_token(
    cloud: LocalCloud, rest_url: str
) -> None:
    headers = {"Authorization": "Bearer allow-bob"}
    event_of(get(f"{rest_url}{TOKEN_ROUTE}", headers=headers))
    after_get = settled(cloud, "TokenCheck")
    response = requests.post(f"{rest_url}{TOKEN_ROUTE}", headers=headers, timeout=30)
    # The policy allowed GET only; cached for the token, it answers for POST too: AWS's pitfall.
    assert response.status_code == 403
    assert response.json() == {"message": "User is not authorized to access this resource"}
    assert response.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    assert calls(cloud, "TokenCheck") == after_get
    # A policy on the whole stage covers both.
    everything = {"Authorization": "Bearer all-carol"}
    event_of(get(f"{rest_url}{TOKEN_ROUTE}", headers=everything))
    post = requests.post(f"{rest_url}{TOKEN_ROUTE}", headers=everything, timeout=30)
    assert event_of(post)["requestContext"]["authorizer"]["principalId"] == "carol"


def test_an_explicit_deny_is_403_saying_so(rest_url: str) -> None:
    response = get(f"{rest_url}{TOKEN_ROUTE}", headers={"Authorization": "Bearer deny"})
    assert response.status_code == 403
    assert response.json() == {
        "message": "User is not authorized to access this resource with an explicit deny"
    }


def test_an_authorizer_raising_unauthorized_is_401(rest_url: str) -> None:
    response = get(f"{rest_url}{TOKEN_ROUTE}", headers={"Authorization": "Bearer unauthorized"})
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert response.headers["WWW-Authenticate"] == "Bearer"  # template.yaml's UNAUTHORIZED response


@pytest.mark.parametrize("token", ["crash", "broken", "nested"])
def test_an_authorizer_error_or_malformed_answer_is_500(rest_url: str, token: str) -> None:
    response = get(f"{rest_url}{TOKEN_ROUTE}", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()) == (500, {"message": None})
    assert response.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"


# ---------------------------------------------------------------- REST: REQUEST


def customer_url(rest_url: str, name: str) -> str:
    return f"{rest_url}{REQUEST_ROUTE.replace('{name}', name)}"


@pytest.mark.parametrize(
    ("headers", "query"),
    [({}, {"tenant": "t1"}), ({"X-Customer": "good"}, {}), ({"X-Customer": ""}, {"tenant": "t1"})],
)
def test_a_missing_identity_source_is_401_without_calling(
    cloud: LocalCloud, rest_url: str, headers: dict[str, str], query: dict[str, str]
) -> None:
    before = calls(cloud, "CustomerCheck")
    response = get(customer_url(rest_url, "ann"), headers=headers, params=query)
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert calls(cloud, "CustomerCheck") == before


def test_a_request_authorizer_sees_the_request_and_its_context_reaches_the_function(rest_url: str) -> None:
    response = get(customer_url(rest_url, "ann"), headers={"X-Customer": "good"}, params={"tenant": "t1"})
    authorizer = event_of(response)["requestContext"]["authorizer"]
    assert {k: authorizer[k] for k in ("customer", "tenant", "name", "type", "principalId")} == {
        "customer": "good",
        "tenant": "t1",
        "name": "ann",
        "type": "REQUEST",
        "principalId": "customer-good",
    }


def test_a_request_authorizer_deny_is_403(rest_url: str) -> None:
    response = get(customer_url(rest_url, "ann"), headers={"X-Customer": "bad"}, params={"tenant": "t1"})
    assert response.status_code == 403
    assert "explicit deny" in response.json()["message"]


# ---------------------------------------------------------------- HTTP API


def test_http_api_missing_identity_is_401_without_calling(cloud: LocalCloud, http_url: str) -> None:
    before = calls(cloud, "SimpleCheck")
    response = get(f"{http_url}{HTTP_ROUTE}")
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert calls(cloud, "SimpleCheck") == before


def test_http_api_simple_response_context_reaches_the_function_and_is_cached(
    cloud: LocalCloud, http_url: str
) -> None:
    headers = {"X-Customer": "good"}
    event = event_of(get(f"{http_url}{HTTP_ROUTE}", headers=headers))
    after_first = settled(cloud, "SimpleCheck")
    event_of(get(f"{http_url}{HTTP_ROUTE}", headers=headers))
    assert event["requestContext"]["authorizer"] == {
        "lambda": {
            "customer": "good",
            "routeKey": f"GET {HTTP_ROUTE}",
            "identity": ["good"],
            "tags": ["a", "b"],
        }
    }
    assert calls(cloud, "SimpleCheck") == after_first


@pytest.mark.parametrize(
    ("customer", "status", "message"),
    [
        ("bad", 403, "Forbidden"),
        ("unauthorized", 401, "Unauthorized"),
        ("broken", 500, "Internal Server Error"),
    ],
)
def test_http_api_refusals(http_url: str, customer: str, status: int, message: str) -> None:
    response = get(f"{http_url}{HTTP_ROUTE}", headers={"X-Customer": customer})
    assert (response.status_code, response.json()) == (status, {"message": message})
