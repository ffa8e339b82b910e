"""Which part answers a request, and what a bug in one of them costs (docs/aws-behaviour.md §8)."""

from __future__ import annotations

import json
import threading

from werkzeug.test import Client
from werkzeug.wrappers import Request, Response

from sam_local_cloud.cloud import ServedApi, _Dispatcher


def _dispatcher(gateway) -> tuple[_Dispatcher, list[str]]:
    dispatcher = _Dispatcher()
    dispatcher.apis = [ServedApi("Api", "v1", gateway, "http://127.0.0.1/v1")]
    seen: list[str] = []

    def fake_aws(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return Response("aws")(environ, start_response)

    dispatcher.aws = fake_aws
    dispatcher.endpoints = {"/oauth2/token": lambda request: Response("token")}
    return dispatcher, seen


def test_a_bug_in_the_local_cloud_is_a_500_for_that_request_and_the_next_one_is_served(capsys) -> None:
    calls = []

    def gateway(request: Request) -> Response:
        calls.append(request.path)
        if len(calls) == 1:
            raise KeyError("a bug")
        return Response("fine")

    client = Client(_dispatcher(gateway)[0])
    first = client.get("/v1/products")
    assert (first.status_code, json.loads(first.get_data())) == (500, {"message": "Internal server error"})
    assert client.get("/v1/products").get_data(as_text=True) == "fine"
    assert "KeyError: 'a bug'" in capsys.readouterr().out


def test_a_slow_request_holds_no_lock_that_others_wait_for() -> None:
    release = threading.Event()

    def gateway(request: Request) -> Response:
        if request.path.endswith("/slow"):
            release.wait(10)
        return Response(request.path)

    client = Client(_dispatcher(gateway)[0])
    slow = threading.Thread(target=client.get, args=("/v1/slow",))
    slow.start()
    try:
        assert client.get("/v1/fast").get_data(as_text=True) == "/v1/fast"
    finally:
        release.set()
        slow.join()


def test_the_stage_path_reaches_the_gateway_whatever_its_aws_headers() -> None:
    dispatcher, seen = _dispatcher(lambda request: Response("gateway"))
    client = Client(dispatcher)
    signed = {"Authorization": "AWS4-HMAC-SHA256 Credential=x", "X-Amz-Target": "DynamoDB_20120810.Scan"}
    assert client.post("/v1/products", headers=signed).get_data(as_text=True) == "gateway"
    assert client.post("/", headers=signed).get_data(as_text=True) == "aws"
    assert client.get("/oauth2/token").get_data(as_text=True) == "token"
    assert client.get("/other-stage/products").get_data(as_text=True) == "gateway"  # which says 403
    assert seen == ["/"]


def test_a_call_signed_for_s3_reaches_s3_whatever_its_path() -> None:
    """Path-style S3 (`/{bucket}/{key}`, as boto3 sends it to 127.0.0.1): a bucket may be named like
    the stage or an endpoint; a call signed for another service on the stage path stays the gateway's."""
    dispatcher, seen = _dispatcher(lambda request: Response("gateway"))
    client = Client(dispatcher)
    scope = "Credential=testing/20260101/us-east-1/{}/aws4_request, SignedHeaders=host, Signature=0"
    for_s3 = {"Authorization": f"AWS4-HMAC-SHA256 {scope.format('s3')}"}
    assert client.put("/v1/report.csv", headers=for_s3).get_data(as_text=True) == "aws"
    assert client.get("/oauth2/token", headers=for_s3).get_data(as_text=True) == "aws"
    presigned = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=testing%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    )
    assert client.get(f"/v1/report.csv?{presigned}").get_data(as_text=True) == "aws"
    for_the_api = {"Authorization": f"AWS4-HMAC-SHA256 {scope.format('execute-api')}"}
    assert client.get("/v1/products", headers=for_the_api).get_data(as_text=True) == "gateway"
    assert seen == ["/v1/report.csv", "/oauth2/token", "/v1/report.csv"]


def test_the_server_serves_only_once_every_api_and_endpoint_is_wired(monkeypatch, tmp_path) -> None:
    from sam_local_cloud.cloud import LocalCloud, Options, _Dispatcher
    from sam_local_cloud.cognito.public_host import PublicHost
    from sam_local_cloud.http_server import Server

    seen: list[tuple[str, bool]] = []
    serve_forever = Server.serve_forever

    def recording(server: Server, *args, **kwargs) -> None:
        app = server.app
        if isinstance(app, _Dispatcher):  # the main port: its APIs and the pool's endpoints
            seen.append(("main", len(app.apis) == 1 and "/oauth2/token" in app.endpoints))
        elif isinstance(getattr(app, "__self__", None), PublicHost):  # AWS's Cognito host: the pool's keys
            seen.append(("public host", len(app.__self__._documents) == 2))
        else:  # an HTTP API's own port: its gateway
            seen.append(("http api", getattr(app, "gateway", None) is not None))
        serve_forever(server, *args, **kwargs)

    monkeypatch.setattr(Server, "serve_forever", recording)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    cloud = LocalCloud(Options(port=0, outputs_path=tmp_path / "outputs.json"))
    try:
        cloud.start()
    finally:
        cloud.stop()
    assert seen == [("public host", True), ("main", True), ("http api", True)]
