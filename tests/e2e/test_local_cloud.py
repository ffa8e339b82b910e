"""What only the local cloud can show: start-up time, API keys, seeding, clean stop, and 502s from
functions that misbehave (run in-process here, with throwaway handlers instead of the real ones)."""

from __future__ import annotations

import json
import os
import signal
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session
from werkzeug.test import EnvironBuilder

from local.authorizer import CognitoAuthorizer
from local.gateway import Gateway
from local.runner import FunctionConfig, Runner, runtime_environment
from local.spec import read_spec
from local.template import ROOT, translate
from local.tokens import SigningKey, jwks_document
from tests.e2e.support import DEPLOYED, RunningCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="about the local cloud itself")
SEED = ROOT / "events" / "seed_item.json"


def _children(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children |= {int(p) for p in task.read_text().split()}
    return children


@pytest.fixture(scope="module")
def keyed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[RunningCloud, float]]:
    started = time.monotonic()
    cloud = start_local_cloud(
        tmp_path_factory.mktemp("keyed"), "--parameter-overrides", "RequireApiKey=true", "--seed", str(SEED)
    )
    ready_after = time.monotonic() - started
    yield cloud, ready_after
    cloud.stop(signal.SIGKILL)


def _token(cloud: RunningCloud) -> str:
    client = next(iter(cloud.outputs["Clients"].values()))
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as session:
        return session.fetch_token(cloud.outputs["TokenUrl"], grant_type="client_credentials")["access_token"]


def _seeded_id() -> str:
    return json.loads(SEED.read_text())["id"]["S"]


def test_local_cloud_is_ready_within_3_seconds(keyed_cloud: tuple[RunningCloud, float]) -> None:
    assert keyed_cloud[1] < 3.0


def test_api_key_is_published_in_outputs_when_required(keyed_cloud: tuple[RunningCloud, float]) -> None:
    outputs = keyed_cloud[0].outputs
    assert outputs["ApiKeyId"]
    assert outputs["ApiKey"]


@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["missing", "wrong"])
def test_missing_or_wrong_api_key_is_403_forbidden(
    keyed_cloud: tuple[RunningCloud, float], key: str | None
) -> None:
    cloud = keyed_cloud[0]
    headers = {"Authorization": f"Bearer {_token(cloud)}"} | ({"x-api-key": key} if key else {})
    response = requests.get(f"{cloud.outputs['ApiUrl']}/products", headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_api_key_and_token_together_reach_the_seeded_product(keyed_cloud: tuple[RunningCloud, float]) -> None:
    cloud = keyed_cloud[0]
    headers = {"Authorization": f"Bearer {_token(cloud)}", "x-api-key": cloud.outputs["ApiKey"]}
    response = requests.get(f"{cloud.outputs['ApiUrl']}/products/{_seeded_id()}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Espresso cup"


def test_api_key_without_token_is_still_401(keyed_cloud: tuple[RunningCloud, float]) -> None:
    cloud = keyed_cloud[0]
    headers = {"x-api-key": cloud.outputs["ApiKey"]}
    response = requests.get(f"{cloud.outputs['ApiUrl']}/products", headers=headers, timeout=10)
    assert response.status_code == 401


def test_ctrl_c_stops_workers_and_exits_cleanly(tmp_path: Path) -> None:
    cloud = start_local_cloud(tmp_path)
    token = _token(cloud)
    response = requests.get(
        f"{cloud.outputs['ApiUrl']}/products", headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert response.status_code == 200
    workers = _children(cloud.process.pid)
    assert workers, "the function's worker process should be running"

    assert cloud.stop(signal.SIGINT) == 0
    assert "Traceback" not in cloud.log
    assert all(not Path(f"/proc/{pid}").exists() or _is_zombie(pid) for pid in workers)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


# ---------------------------------------------------------------- 502s, with throwaway handlers

_RAISES = "def lambda_handler(event, context):\n    raise RuntimeError('boom')\n"
_BODY_NOT_A_STRING = "def lambda_handler(event, context):\n    return {'statusCode': 200, 'body': {}}\n"
_SLOW = "import time\ndef lambda_handler(event, context):\n    time.sleep(5)\n"
_NOT_A_DICT = "def lambda_handler(event, context):\n    return 'just a string'\n"
MISBEHAVING = {
    "GetProductFunction": _RAISES,
    "ListProductsFunction": _BODY_NOT_A_STRING,
    "CreateProductFunction": _SLOW,
    "DeleteProductFunction": _NOT_A_DICT,
    "UpdateProductFunction": textwrap.dedent(
        """\
        import os
        def lambda_handler(event, context):
            return {"statusCode": 200, "headers": {"X-Env": os.environ["TABLE_NAME"]},
                    "body": str(context.get_remaining_time_in_millis())}
        """
    ),
}


@pytest.fixture(scope="module")
def misbehaving_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Gateway, Runner, str]]:
    code = tmp_path_factory.mktemp("handlers")
    configs = {}
    for name, source in MISBEHAVING.items():
        (code / f"{name.lower()}.py").write_text(source)
        handler = f"{name.lower()}.lambda_handler"
        env = runtime_environment(
            name=name,
            runtime="python3.13",
            memory_mb=128,
            region="us-east-1",
            endpoint_url="http://127.0.0.1:9",  # nothing listens: these handlers make no AWS calls
            code_dir=code,
            handler=handler,
        )
        configs[name] = FunctionConfig(
            logical_id=name,
            name=name,
            arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
            handler=handler,
            code_dir=code,
            environment={"TABLE_NAME": "t", **env},
            timeout_seconds=1.0,
            memory_mb=128,
        )
    spec = read_spec(translate())
    key = SigningKey.generate()
    issuer = "http://127.0.0.1:9/us-east-1_test"
    authorizers = {
        name: CognitoAuthorizer(issuer=issuer, jwks=jwks_document([key])) for name in spec.api.authorizers
    }
    runner = Runner(configs)
    gateway = Gateway(
        spec.api, runner=runner, authorizers=authorizers, api_keys=None, api_id="t", account_id="1"
    )
    now = int(time.time())
    scopes = " ".join(s for r in spec.api.routes for s in r.scopes)
    claims = {"sub": "c", "client_id": "c", "token_use": "access", "scope": scopes, "iss": issuer}
    token = key.sign({**claims, "exp": now + 60, "iat": now})
    yield gateway, runner, token
    runner.stop()


def _call(gateway: Gateway, token: str, method: str, path: str) -> tuple[int, dict[str, str], str]:
    request = EnvironBuilder(method=method, path=f"/v1{path}", headers={"Authorization": token}).get_request()
    response = gateway(request)
    return response.status_code, dict(response.headers), response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("method", "path"),
    [("GET", "/products/x"), ("GET", "/products"), ("DELETE", "/products/x"), ("POST", "/products")],
    ids=["raises", "body not a string", "not a dict", "times out"],
)
def test_misbehaving_function_gives_502_internal_server_error(
    misbehaving_gateway: tuple[Gateway, Runner, str], method: str, path: str
) -> None:
    gateway, _, token = misbehaving_gateway
    status, headers, body = _call(gateway, token, method, path)
    assert (status, json.loads(body)) == (502, {"message": "Internal server error"})
    assert headers["Access-Control-Allow-Origin"] == "*"


def test_a_timed_out_function_cold_starts_on_its_next_call(
    misbehaving_gateway: tuple[Gateway, Runner, str],
) -> None:
    _, runner, _ = misbehaving_gateway
    first = runner.invoke("CreateProductFunction", {})
    second = runner.invoke("CreateProductFunction", {})
    assert first.error is not None
    assert "timed out" in first.error
    assert second.cold_start


def test_function_sees_its_environment_and_a_lambda_context(
    misbehaving_gateway: tuple[Gateway, Runner, str],
) -> None:
    gateway, runner, token = misbehaving_gateway
    status, headers, body = _call(gateway, token, "PUT", "/products/x")
    assert (status, headers["X-Env"]) == (200, "t")
    assert 0 < int(body) <= 1000
    again = runner.invoke("UpdateProductFunction", {})
    assert not again.cold_start  # one process per function, kept warm
    assert os.environ.get("TABLE_NAME") != "t"  # the function's environment stayed in its worker
