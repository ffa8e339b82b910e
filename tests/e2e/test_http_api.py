"""HTTP APIs (API Gateway v2) served by the local cloud, over HTTP, on fixture templates
(docs/aws-behaviour.md, "HTTP APIs"): tests/fixtures/http_api_only.yaml (only an HTTP API, with a JWT
authorizer on the template's user pool), http_api.yaml (an HTTP API beside a REST API) and
http_api_stage.yaml (a named stage). Tokens are real: client_credentials from the token endpoint
(Authlib), a person's from the sign-in API (boto3 initiate_auth), and, for what no client can get (an
expired token), signed with the pool's key, which the cloud is given with --signing-key.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from sam_local_cloud.cloudformation.template import load_source
from sam_local_cloud.cognito.tokens import SigningKey, client_credentials_claims
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import LocalCloud, machine_clients, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="uses the local cloud's fixture templates")

ONLY = FIXTURES / "http_api_only.yaml"
ORIGIN = "https://app.example.com"
PERSON = {"Username": "ana@example.com", "Password": "Correct-Horse-9", "Groups": ["viewers", "editors"]}


@pytest.fixture(scope="module")
def source() -> dict[str, Any]:
    return load_source(ONLY)


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("http-api-key") / "key.pem"
    path.write_bytes(SigningKey.generate().to_pem())
    return path


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, key_file: Path) -> Iterator[LocalCloud]:
    workdir = tmp_path_factory.mktemp("http-api")
    users = workdir / "users.json"
    users.write_text(json.dumps([PERSON]))
    started = start_local_cloud(
        workdir, "--template", str(ONLY), "--signing-key", str(key_file), "--users", str(users)
    )
    yield started
    started.stop()


@pytest.fixture(scope="module")
def url(cloud: LocalCloud) -> str:
    return cloud.outputs["HttpApiUrl"].rstrip("/")


@pytest.fixture(scope="module")
def audience(source: dict[str, Any]) -> set[str]:
    """The logical ids of the app clients the template's JWT authorizer names."""
    authorizers = source["Resources"]["HttpApi"]["Properties"]["Auth"]["Authorizers"]
    return {ref["Ref"] for a in authorizers.values() for ref in a["JwtConfiguration"]["audience"]}


def scopes_of(source: dict[str, Any], event: str) -> list[str]:
    """A route's scopes, as the fixture template declares them."""
    events = source["Resources"]["EchoFunction"]["Properties"]["Events"]
    return events[event]["Properties"].get("Auth", {}).get("AuthorizationScopes", [])


def path_of(source: dict[str, Any], event: str) -> str:
    return source["Resources"]["EchoFunction"]["Properties"]["Events"][event]["Properties"]["Path"]


def token(cloud: LocalCloud, client: str) -> str:
    c = machine_clients(cloud.outputs)[client]
    with OAuth2Session(c["ClientId"], c["ClientSecret"]) as session:
        return session.fetch_token(cloud.outputs["TokenUrl"], grant_type="client_credentials")["access_token"]


def machine_in_audience(cloud: LocalCloud, audience: set[str]) -> str:
    return next(name for name in machine_clients(cloud.outputs) if name in audience)


def outsider(cloud: LocalCloud, audience: set[str]) -> str:
    return next(name for name in machine_clients(cloud.outputs) if name not in audience)


def signed_in(cloud: LocalCloud) -> dict[str, str]:
    result = cloud.aws("cognito-idp").initiate_auth(
        AuthFlow="USER_PASSWORD_AUTH",
        ClientId=cloud.outputs["PeopleClientId"],
        AuthParameters={"USERNAME": PERSON["Username"], "PASSWORD": PERSON["Password"]},
    )
    return result["AuthenticationResult"]


def get(url: str, bearer: str | None = None, **kwargs: Any) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if bearer is not None:
        headers["Authorization"] = f"Bearer {bearer}"
    return requests.get(url, headers=headers, timeout=30, **kwargs)


def event_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return response.json()["event"]


def claims_of(response: requests.Response) -> dict[str, str]:
    return event_of(response)["requestContext"]["authorizer"]["jwt"]["claims"]


def assert_answer(response: requests.Response, status: int, message: str) -> None:
    assert (response.status_code, response.text) == (
        status,
        json.dumps({"message": message}, separators=(",", ":")),
    )
    assert response.headers["content-type"] == "application/json"
    assert response.headers["apigw-requestid"].endswith("=")


# ---------------------------------------------------------------- a template with only an HTTP API


def test_a_template_with_only_an_http_api_serves_it_on_its_own_port(cloud: LocalCloud, url: str) -> None:
    api, aws = urlsplit(url), urlsplit(cloud.outputs["AwsEndpointUrl"])
    assert api.port == aws.port + 1  # --port N: the HTTP API on N+1
    assert cloud.outputs["HttpApiUrl"] == f"http://127.0.0.1:{api.port}/"  # $default: at the root
    assert f"HTTP API    {cloud.outputs['HttpApiUrl']}  (HttpApi)" in cloud.wait_for_console("ready in")
    assert get(f"{url}/open/x").status_code == 200


# ---------------------------------------------------------------- the JWT authorizer, with real tokens


def test_an_audience_clients_token_passes_and_its_claims_reach_the_function(
    cloud: LocalCloud, url: str, source: dict, audience: set[str]
) -> None:
    client = machine_in_audience(cloud, audience)
    event = event_of(get(f"{url}/echo/x", token(cloud, client)))
    jwt = event["requestContext"]["authorizer"]["jwt"]
    assert jwt["claims"]["client_id"] == machine_clients(cloud.outputs)[client]["ClientId"]
    assert jwt["claims"]["exp"].isdigit()  # epoch seconds as a string, not REST's date
    assert jwt["claims"]["token_use"] == "access"
    assert jwt["scopes"] == jwt["claims"]["scope"].split()  # the token's own scopes
    assert set(jwt["scopes"]) & set(scopes_of(source, "Scoped"))
    assert event["routeKey"] == f"ANY {path_of(source, 'Scoped')}"


def test_jwt_scopes_are_null_on_a_route_without_scopes(
    cloud: LocalCloud, url: str, source: dict, audience: set[str]
) -> None:
    assert scopes_of(source, "AnyToken") == []
    event = event_of(
        get(f"{url}{path_of(source, 'AnyToken')}", token(cloud, machine_in_audience(cloud, audience)))
    )
    assert event["requestContext"]["authorizer"]["jwt"]["scopes"] is None


def test_a_client_outside_the_audience_is_401_even_with_the_scopes(
    cloud: LocalCloud, url: str, source: dict, audience: set[str]
) -> None:
    client = outsider(cloud, audience)
    assert set(machine_clients(cloud.outputs)[client]["AllowedScopes"]) & set(scopes_of(source, "Scoped"))
    response = get(f"{url}/echo/x", token(cloud, client))
    assert_answer(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"] == (
        'Bearer scope="" error="invalid_token" error_description="the token does not have a valid audience"'
    )


def test_a_missing_scope_is_403_forbidden(
    cloud: LocalCloud, url: str, source: dict, audience: set[str]
) -> None:
    client = machine_in_audience(cloud, audience)
    assert not set(machine_clients(cloud.outputs)[client]["AllowedScopes"]) & set(scopes_of(source, "Admin"))
    assert_answer(get(f"{url}{path_of(source, 'Admin')}", token(cloud, client)), 403, "Forbidden")


def test_no_token_is_401_with_www_authenticate_bearer(url: str) -> None:
    response = get(f"{url}/whoami")
    assert_answer(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"] == "Bearer"


def test_not_a_jwt_is_401_with_the_segments_text(url: str) -> None:
    response = get(f"{url}/whoami", "not-a-token")
    assert_answer(response, 401, "Unauthorized")
    assert response.headers["www-authenticate"] == (
        'Bearer scope="" error="invalid_token" '
        'error_description="token contains an invalid number of segments"'
    )


def test_an_expired_token_is_401_unauthorized_not_the_rest_message(
    cloud: LocalCloud, url: str, key_file: Path, audience: set[str]
) -> None:
    client_id = machine_clients(cloud.outputs)[machine_in_audience(cloud, audience)]["ClientId"]
    claims = client_credentials_claims(client_id, [], cloud.outputs["Issuer"])
    claims.update(iat=claims["iat"] - 7200, exp=claims["iat"] - 3600)
    response = get(f"{url}/whoami", SigningKey.from_pem(key_file.read_bytes()).sign(claims))
    assert_answer(response, 401, "Unauthorized")
    assert 'error="invalid_token"' in response.headers["www-authenticate"]


def test_a_persons_id_token_passes_a_route_without_scopes_and_is_403_on_a_scoped_one(
    cloud: LocalCloud, url: str, source: dict
) -> None:
    tokens = signed_in(cloud)
    claims = claims_of(get(f"{url}/whoami", tokens["IdToken"]))
    assert (claims["token_use"], claims["aud"]) == ("id", cloud.outputs["PeopleClientId"])
    groups = claims["cognito:groups"]  # an array, rendered "[a b]"
    assert (groups[0], groups[-1], set(groups[1:-1].split())) == ("[", "]", set(PERSON["Groups"]))
    assert claims["email_verified"] == "true"
    assert_answer(get(f"{url}/echo/x", tokens["IdToken"]), 403, "Forbidden")


def test_a_persons_access_token_passes_by_client_id_and_lacks_custom_scopes(
    cloud: LocalCloud, url: str, source: dict
) -> None:
    tokens = signed_in(cloud)
    claims = claims_of(get(f"{url}/whoami", tokens["AccessToken"]))
    assert (claims["token_use"], claims["client_id"]) == ("access", cloud.outputs["PeopleClientId"])
    assert "aud" not in claims
    assert_answer(get(f"{url}{path_of(source, 'Admin')}", tokens["AccessToken"]), 403, "Forbidden")


# ---------------------------------------------------------------- the gateway's own answers


@pytest.mark.parametrize("bearer", [None, "not-a-token"])
def test_an_unknown_route_is_404_before_any_authorizer(url: str, bearer: str | None) -> None:
    for path in ("/nothing", "/whoami/", "/admin/x"):
        response = get(f"{url}{path}", bearer)
        assert_answer(response, 404, "Not Found")
        assert "www-authenticate" not in response.headers


def test_a_function_error_is_500_and_a_malformed_answer_too(url: str) -> None:
    assert_answer(get(f"{url}/misbehave/raise"), 500, "Internal Server Error")
    assert_answer(get(f"{url}/misbehave/body-not-a-string"), 500, "Internal Server Error")
    assert_answer(get(f"{url}/answer/status-as-string"), 500, "Internal Server Error")


def test_the_integration_timeout_is_503_service_unavailable(url: str) -> None:
    started = time.monotonic()
    assert_answer(get(f"{url}/slow"), 503, "Service Unavailable")
    assert 0.9 < time.monotonic() - started < 5  # the route's timeoutInMillis: 1000


def test_a_throttled_lambda_is_503(url: str, tmp_path: Path) -> None:
    started, release = tmp_path / "started", tmp_path / "release"
    query = {"started": str(started), "release": str(release)}
    first: list[requests.Response] = []
    holder = threading.Thread(target=lambda: first.append(get(f"{url}/gate", params=query)))
    holder.start()
    try:
        deadline = time.monotonic() + 20
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.02)
        assert_answer(get(f"{url}/gate", params=query), 503, "Service Unavailable")
    finally:
        release.touch()
        holder.join(30)
    assert first[0].status_code == 200


def test_route_throttling_is_429(url: str, source: dict) -> None:
    settings = source["Resources"]["HttpApi"]["Properties"]["RouteSettings"]["GET /throttled"]
    responses = [get(f"{url}/throttled") for _ in range(settings["ThrottlingBurstLimit"] + 2)]
    assert_answer(responses[-1], 429, "Too Many Requests")


def test_a_body_over_10_mb_is_413(url: str) -> None:
    host, port = urlsplit(url).hostname, urlsplit(url).port
    assert host is not None
    assert port is not None
    request = f"POST /open/x HTTP/1.1\r\nHost: {host}\r\nContent-Length: {10 * 1024 * 1024 + 1}\r\n\r\n"
    with socket.create_connection((host, port), timeout=30) as connection:
        connection.sendall(request.encode())
        reply = connection.recv(65536).decode()
    assert reply.startswith("HTTP/1.1 413")
    assert reply.endswith('{"message":"Request Entity Too Large"}')


# ---------------------------------------------------------------- the event and the response


def test_cookies_decoded_raw_path_and_query(url: str) -> None:
    event = event_of(get(f"{url}/open/a%2Fb%40c?x=1&x=2&y=a+b", headers={"Cookie": "c1=v1; c2=v2"}))
    assert (event["rawPath"], event["requestContext"]["http"]["path"]) == ("/open/a/b@c",) * 2
    assert event["pathParameters"] == {"proxy": "a/b@c"}
    assert event["rawQueryString"] == "x=1&x=2&y=a+b"
    assert event["queryStringParameters"] == {"x": "1,2", "y": "a b"}
    assert event["cookies"] == ["c1=v1", "c2=v2"]
    assert "cookie" not in event["headers"]
    assert all(name == name.lower() for name in event["headers"])
    assert event["headers"]["x-forwarded-proto"] == "http"
    assert "authorizer" not in event["requestContext"]
    assert "body" not in event


def test_a_form_body_arrives_base64_and_json_as_text(url: str) -> None:
    form = event_of(requests.post(f"{url}/open/x", data={"a": "1"}, timeout=30))
    assert (form["isBase64Encoded"], form["body"]) == (True, "YT0x")
    sent = requests.post(f"{url}/open/x", json={"a": 1}, timeout=30)
    assert (event_of(sent)["isBase64Encoded"], event_of(sent)["body"]) == (False, '{"a": 1}')


@pytest.mark.parametrize(
    ("shape", "content_type", "body"),
    [
        ("string", "application/json", b"Hello"),
        ("list", "application/json", b"[1, 2, 3]"),
        ("no-content-type", "text/plain; charset=utf-8", b"created"),
        ("base64", "application/octet-stream", b"\x00\x01binary\xff"),
    ],
)
def test_the_response_rules(url: str, shape: str, content_type: str, body: bytes) -> None:
    response = get(f"{url}/answer/{shape}")
    assert (response.headers["content-type"], response.content) == (content_type, body)


def test_cookies_become_set_cookie_headers(url: str) -> None:
    response = get(f"{url}/answer/headers-and-cookies")
    assert response.raw.headers.getlist("set-cookie") == ["a=1; Path=/", "b=2; HttpOnly"]
    assert response.headers["x-request-note"] == "noted"


# ---------------------------------------------------------------- CORS


def test_a_preflight_is_answered_by_the_gateway(url: str, source: dict) -> None:
    cors = source["Resources"]["HttpApi"]["Properties"]["CorsConfiguration"]
    response = requests.options(
        f"{url}/whoami",
        headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"},
        timeout=30,
    )
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-headers"] == ",".join(cors["AllowHeaders"])


def test_a_401_to_an_allowed_origin_carries_cors_headers(url: str) -> None:
    response = get(f"{url}/whoami", headers={"Origin": ORIGIN})
    assert response.status_code == 401
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert response.headers["access-control-allow-credentials"] == "true"


def test_the_functions_own_cors_headers_are_replaced(url: str) -> None:
    response = get(f"{url}/answer/own-cors", headers={"Origin": ORIGIN})
    assert response.headers["access-control-allow-origin"] == ORIGIN
    assert "access-control-allow-origin" not in get(f"{url}/answer/own-cors").headers


# ---------------------------------------------------------------- beside a REST API, and a named stage


def test_an_http_api_beside_a_rest_api_each_on_its_port(tmp_path: Path) -> None:
    cloud = start_local_cloud(tmp_path, "--template", str(FIXTURES / "http_api.yaml"))
    try:
        rest = cloud.outputs["AwsEndpointUrl"]
        http = f"http://127.0.0.1:{cloud.port + 1}"  # the template's one HTTP API: PORT+1
        rest_event = event_of(get(f"{rest}/test/hello/world"))
        http_event = event_of(get(f"{http}/hello"))
        assert ("version" in rest_event, http_event["version"]) == (False, "2.0")
        assert_answer(get(f"{http}/test/hello/world"), 404, "Not Found")
    finally:
        cloud.stop()


def test_a_named_stage_answers_only_under_its_name(tmp_path: Path) -> None:
    cloud = start_local_cloud(tmp_path, "--template", str(FIXTURES / "http_api_stage.yaml"), "--port", "0")
    try:
        url = cloud.outputs["HttpApiUrl"]
        assert url.endswith("/prod")
        event = event_of(get(f"{url}/hello/x"))
        assert (event["rawPath"], event["requestContext"]["stage"]) == ("/prod/hello/x", "prod")
        assert event["stageVariables"] == {"flavour": "staged"}
        root = url.removesuffix("/prod")
        assert_answer(get(f"{root}/hello/x"), 404, "Not Found")
    finally:
        cloud.stop()
