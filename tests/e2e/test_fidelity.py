"""The local cloud answers as API Gateway and Lambda do where users feel it (docs/aws-behaviour.md).

Most tests run on a fixture template (tests/fixtures/fidelity.yaml) whose functions echo their event
and environment, run slow, answer too much or misbehave on purpose; the rest on the product API.
"""

from __future__ import annotations

import base64
import http.client
import json
import re
import socket
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import jwt
import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import DEPLOYED, FIXTURES, Api, Stack
from tests.harness import LocalCloud, narrowest_client, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="uses the local cloud's fixture template")
TEN_MB = 10 * 1024 * 1024


@pytest.fixture(scope="module")
def fidelity(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(
        tmp_path_factory.mktemp("fidelity"), "--template", str(FIXTURES / "fidelity.yaml")
    )
    yield cloud
    cloud.stop()


def _url(cloud: LocalCloud, path: str) -> str:
    return f"{cloud.outputs['ApiUrl']}{path}"


def _echo(cloud: LocalCloud, path: str = "/open/x", method: str = "GET", **kwargs) -> dict:
    response = requests.request(method, _url(cloud, path), timeout=30, **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def _raw_request(cloud: LocalCloud, request: bytes) -> bytes:
    """Bytes on the wire, for what HTTP client libraries refuse to send or normalise."""
    host, port = urlsplit(cloud.outputs["ApiUrl"]).netloc.split(":")
    with socket.create_connection((host, int(port)), timeout=30) as connection:
        connection.sendall(request)
        return connection.recv(65536)


# ---------------------------------------------------------------- tokens


def test_tokens_name_the_aws_issuer_and_the_keys_are_served_locally(stack: Stack, token_for) -> None:
    assert stack.cloud is not None
    outputs = stack.cloud.outputs
    issuer = f"https://cognito-idp.{outputs['Region']}.amazonaws.com/{outputs['UserPoolId']}"
    token = token_for(next(iter(stack.clients)))
    assert jwt.decode(token, options={"verify_signature": False})["iss"] == issuer
    assert stack.issuer == issuer
    assert stack.jwks_url.startswith(stack.aws_endpoint_url)
    keys = requests.get(stack.jwks_url, timeout=10).json()["keys"]
    assert jwt.decode(token, jwt.PyJWK(keys[0]), algorithms=["RS256"], issuer=issuer)["token_use"] == "access"


def test_pool_ids_client_ids_and_secrets_have_cognitos_formats(stack: Stack) -> None:
    pool_id = stack.issuer.rsplit("/", 1)[1]
    assert re.fullmatch(r"us-east-1_[0-9A-Za-z]{9}", pool_id)
    for client in stack.clients.values():
        assert re.fullmatch(r"[0-9a-z]{26}", client.client_id)
        assert re.fullmatch(r"[0-9a-z]{51}", client.secret)


# ---------------------------------------------------------------- gateway errors


def test_an_unknown_stage_is_403_forbidden(stack: Stack) -> None:
    response = requests.get(f"{stack.aws_endpoint_url}/no-such-stage/products", timeout=10)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert response.headers["x-amzn-ErrorType"] == "ForbiddenException"


def test_a_trailing_slash_reaches_the_resource(rest_api: Api, stack: Stack, token_for) -> None:
    reader = token_for(narrowest_client(stack.clients))
    response = rest_api.call("GET", "/products/", token=reader)
    assert response.status_code == 200, response.text
    assert "items" in response.json()


def test_a_request_body_over_10_mb_is_413(rest_api: Api) -> None:
    response = rest_api.call(
        "POST", "/products", data=b"x" * (TEN_MB + 1), headers={"Content-Type": "text/plain"}
    )
    assert (response.status_code, response.json()) == (413, {"message": "Request Too Long"})


@pytest.mark.parametrize("path", ["/products", "/no-such-route", "/products/"])
def test_every_response_carries_the_request_id_and_apigw_id(rest_api: Api, path: str) -> None:
    response = rest_api.call("GET", path)
    assert re.fullmatch(r"[0-9a-f-]{36}", response.headers["x-amzn-RequestId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{15}=", response.headers["x-amz-apigw-id"])


def test_a_function_response_over_6_mb_is_502(fidelity: LocalCloud) -> None:
    response = requests.get(_url(fidelity, "/misbehave/big"), timeout=30)
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})


@pytest.mark.parametrize("how", ["raise", "body-not-a-string", "not-a-dict", "sleep"])
def test_a_function_that_raises_times_out_or_answers_badly_is_502(fidelity: LocalCloud, how: str) -> None:
    response = requests.get(_url(fidelity, f"/misbehave/{how}"), timeout=30)
    assert (response.status_code, response.json()) == (502, {"message": "Internal server error"})


def test_the_integration_timeout_is_504_while_the_function_runs_on(fidelity: LocalCloud) -> None:
    started = time.monotonic()
    response = requests.get(_url(fidelity, "/slow"), params={"seconds": "2.5"}, timeout=30)
    waited = time.monotonic() - started
    assert (response.status_code, response.json()) == (504, {"message": "Endpoint request timed out"})
    assert waited < 2.5  # the fixture's TimeoutInMillis is 1000
    log = fidelity.wait_for_console("SlowFunction ended after the integration timeout")
    assert "slept 2.5 s" in log


def test_a_throttled_function_is_500_internal_server_error(fidelity: LocalCloud, tmp_path: Path) -> None:
    """GateFunction may run one environment (ReservedConcurrentExecutions: 1); the first call holds it."""
    gate = {"started": str(tmp_path / "started"), "release": str(tmp_path / "release")}
    holder = ThreadPoolExecutor(1).submit(requests.get, _url(fidelity, "/gate"), params=gate, timeout=30)
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists():
        assert time.monotonic() < deadline, "the first call never started"
        time.sleep(0.02)
    throttled = requests.get(_url(fidelity, "/gate"), params=gate, timeout=30)
    (tmp_path / "release").touch()
    assert (throttled.status_code, throttled.json()) == (500, {"message": "Internal server error"})
    assert throttled.headers["x-amzn-ErrorType"] == "InternalServerErrorException"
    assert holder.result().status_code == 200
    log = fidelity.wait_for_console("500 GateFunction")
    assert "[throttled: every execution environment of the function is busy]" in log
    assert "Execution failed due to configuration error: Rate Exceeded." in log


def test_the_integration_timeout_defaults_to_29_seconds(stack: Stack) -> None:
    from sam_local_cloud.cloudformation.spec import read_spec
    from sam_local_cloud.cloudformation.template import translate

    assert {r.timeout_seconds for r in read_spec(translate()).api.routes if r.function} == {29.0}


# ---------------------------------------------------------------- the event


def test_header_names_reach_the_function_as_sent_and_repeats_are_multi_valued(fidelity: LocalCloud) -> None:
    host = urlsplit(fidelity.outputs["ApiUrl"]).netloc
    connection = http.client.HTTPConnection(host, timeout=30)
    connection.putrequest("GET", "/test/open/x?q=1&q=2&one=only")
    for name, value in [("x-MiXeD-Case", "kept"), ("X-Repeated", "first"), ("X-Repeated", "last")]:
        connection.putheader(name, value)
    connection.endheaders()
    event = json.loads(connection.getresponse().read())["event"]
    assert event["headers"]["x-MiXeD-Case"] == "kept"
    assert "X-Mixed-Case" not in event["headers"]
    assert event["multiValueHeaders"]["X-Repeated"] == ["first", "last"]
    assert event["headers"]["X-Repeated"] == "last"
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"], "one": ["only"]}
    assert event["queryStringParameters"] == {"q": "2", "one": "only"}


def test_path_and_path_parameters_keep_their_percent_encoding(fidelity: LocalCloud) -> None:
    event = _echo(fidelity, "/open/caf%C3%A9%20au%2Flait")["event"]
    assert event["path"] == "/open/caf%C3%A9%20au%2Flait"
    assert event["pathParameters"] == {"name": "caf%C3%A9%20au%2Flait"}
    assert event["resource"] == "/open/{name}"
    assert event["requestContext"]["path"] == "/test/open/caf%C3%A9%20au%2Flait"


def test_the_gateway_adds_a_trace_header_and_the_function_sees_it(fidelity: LocalCloud) -> None:
    first, second = _echo(fidelity), _echo(fidelity)
    for answer in (first, second):
        root = answer["event"]["headers"]["X-Amzn-Trace-Id"]
        assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24}", root)
        assert answer["environment"]["_X_AMZN_TRACE_ID"].startswith(root + ";")
    assert first["environment"]["_X_AMZN_TRACE_ID"] != second["environment"]["_X_AMZN_TRACE_ID"]


def test_a_binary_media_type_body_arrives_base64_and_others_as_text(fidelity: LocalCloud) -> None:
    png = b"\x89PNG\r\n\x1a\n\x00\xff"
    binary = _echo(fidelity, method="POST", data=png, headers={"Content-Type": "image/png"})["event"]
    assert binary["isBase64Encoded"] is True
    assert base64.b64decode(binary["body"]) == png
    text = _echo(fidelity, method="POST", data="héllo".encode(), headers={"Content-Type": "text/plain"})[
        "event"
    ]
    assert (text["isBase64Encoded"], text["body"]) == (False, "héllo")


def test_a_base64_response_is_decoded_only_when_accept_is_a_binary_media_type(fidelity: LocalCloud) -> None:
    as_image = requests.get(_url(fidelity, "/open/binary"), headers={"Accept": "image/png"}, timeout=30)
    assert as_image.content.startswith(b"\x89PNG\r\n\x1a\n")
    as_text = requests.get(_url(fidelity, "/open/binary"), headers={"Accept": "application/json"}, timeout=30)
    assert base64.b64decode(as_text.text).startswith(b"\x89PNG")


# ---------------------------------------------------------------- the runtime


def test_the_function_sees_the_variables_lambda_defines(fidelity: LocalCloud) -> None:
    environment = _echo(fidelity)["environment"]
    assert environment["AWS_LAMBDA_INITIALIZATION_TYPE"] == "on-demand"
    assert re.fullmatch(r"127\.0\.0\.1:\d+", environment["AWS_LAMBDA_RUNTIME_API"])
    assert Path(environment["LAMBDA_RUNTIME_DIR"]).is_dir()
    assert environment["AWS_LAMBDA_LOG_GROUP_NAME"] == "/fixture/functions"  # from LoggingConfig
    assert environment["AWS_SAM_LOCAL"] == "true"
    assert environment["_HANDLER"] == "echo.handler"


# ---------------------------------------------------------------- throttling and quotas


def test_the_stages_method_throttling_gives_429(fidelity: LocalCloud) -> None:
    statuses = [requests.get(_url(fidelity, "/throttled"), timeout=30) for _ in range(6)]
    assert [r.status_code for r in statuses[:2]] == [200, 200]  # the burst of 2
    refused = [r for r in statuses if r.status_code == 429]
    assert refused, [r.status_code for r in statuses]
    assert refused[0].json() == {"message": "Too Many Requests"}


def test_the_usage_plans_quota_gives_429_and_the_event_names_the_key(fidelity: LocalCloud) -> None:
    key = fidelity.outputs["ApiKey"]
    first = requests.get(_url(fidelity, "/keyed"), headers={"x-api-key": key}, timeout=30)
    identity = first.json()["event"]["requestContext"]["identity"]
    apigateway = fidelity.aws("apigateway")
    keys = apigateway.get_api_keys(includeValues=True)["items"]
    assert (identity["apiKey"], identity["apiKeyId"]) == (
        key,
        next(k["id"] for k in keys if k["value"] == key),
    )
    statuses = [
        requests.get(_url(fidelity, "/keyed"), headers={"x-api-key": key}, timeout=30) for _ in range(3)
    ]
    assert [r.status_code for r in statuses] == [200, 200, 429]  # the plan's quota is 3 a day
    assert statuses[-1].json() == {"message": "Limit Exceeded"}


def test_no_throttle_turns_throttling_off_and_says_so(tmp_path: Path) -> None:
    cloud = start_local_cloud(tmp_path, "--template", str(FIXTURES / "fidelity.yaml"), "--no-throttle")
    try:
        statuses = {requests.get(_url(cloud, "/throttled"), timeout=30).status_code for _ in range(6)}
        assert statuses == {200}
        assert "Throttling  OFF (--no-throttle)" in cloud.console
    finally:
        cloud.stop()


# ---------------------------------------------------------------- robustness


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/dynamodb/aws4_request"},
        {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
    ],
    ids=["SigV4 Authorization", "X-Amz-Target"],
)
def test_requests_on_the_stage_path_go_through_the_gateway_whatever_their_headers(
    rest_api: Api, headers: dict[str, str]
) -> None:
    response = rest_api.call("POST", "/products", headers=headers, data="{}")
    assert (response.status_code, response.json()) == (401, {"message": "Unauthorized"})
    assert "x-amz-apigw-id" in response.headers


def test_console_lines_escape_control_characters(fidelity: LocalCloud) -> None:
    _raw_request(
        fidelity, b"GET /test/open/x\x1b[31m\rFORGED HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    requests.get(_url(fidelity, "/open/y%0AFORGED%20200%20line"), timeout=30)
    log = fidelity.wait_for_console("/test/open/y%0AFORGED%20200%20line 200")
    log = fidelity.wait_for_console("\\x1b[31m\\rFORGED")
    assert "\x1b" not in log
    assert "\r" not in log
    assert not any(line.startswith("FORGED") for line in log.splitlines())


def test_a_public_client_without_a_secret_or_name_does_not_stop_start_up(fidelity: LocalCloud) -> None:
    public = fidelity.outputs["Clients"]["PublicClient"]
    assert re.fullmatch(r"[0-9a-z]{26}", public["ClientId"])
    assert not public["ClientSecret"]


def test_machine_clients_get_tokens_from_the_fixture_pool(fidelity: LocalCloud) -> None:
    client = fidelity.outputs["Clients"]["MachineClient"]
    token_url = f"{fidelity.outputs['AwsEndpointUrl']}/oauth2/token"
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as session:
        token = session.fetch_token(token_url, grant_type="client_credentials")["access_token"]
    response = requests.get(
        _url(fidelity, "/echo/x"), headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    claims = response.json()["event"]["requestContext"]["authorizer"]["claims"]
    assert claims["scope"] == "fixture/echo"
