"""Several REST APIs in one template (tests/fixtures/rest_apis.yaml), over HTTP: the first on PORT
under its stage, the others on ports of their own after the HTTP API's, each with its own id, stage,
authorizer (none, Cognito, Lambda), API keys and gateway responses (docs/local-cloud.md, "What it
serves")."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import translate
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import LocalCloud, client_token, machine_clients, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="uses the local cloud's fixture templates")

TEMPLATE = FIXTURES / "rest_apis.yaml"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    started = start_local_cloud(tmp_path_factory.mktemp("rest-apis"), "--template", str(TEMPLATE))
    yield started
    started.stop()


@pytest.fixture(scope="module")
def spec() -> Any:
    return read_spec(translate({}, path=TEMPLATE, region="us-east-1", stack_name="rest-apis"))


@pytest.fixture(scope="module")
def token(cloud: LocalCloud) -> str:
    client = next(iter(machine_clients(cloud.outputs).values()))
    scope = " ".join(client["AllowedScopes"])
    return client_token(f"{cloud.base_url}/oauth2/token", client["ClientId"], client["ClientSecret"], scope)


def url_of(cloud: LocalCloud, api: Any) -> str:
    """An API's URL from the outputs: the output whose name begins with the API's logical id."""
    return str(cloud.outputs[f"{api.logical_id}Url"])


def event_of(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(json.loads(response.text)["event"])


def test_each_rest_api_answers_on_its_url_with_its_own_id_and_stage(
    cloud: LocalCloud, spec: Any, token: str
) -> None:
    first, second, third = spec.rest_apis
    headers = {"Authorization": token, second.api_key_header: cloud.outputs["ApiKey"]}
    events = [
        event_of(requests.get(f"{url_of(cloud, first)}/hello/a", timeout=10)),
        event_of(requests.get(f"{url_of(cloud, second)}/hello/b", headers=headers, timeout=10)),
        event_of(requests.get(f"{url_of(cloud, third)}/hello/c", headers={"X-Customer": "good"}, timeout=10)),
    ]
    contexts = [event["requestContext"] for event in events]
    assert [c["stage"] for c in contexts] == [api.stage for api in spec.rest_apis]
    assert len({c["apiId"] for c in contexts}) == 3
    # The first on PORT, as a one-API template's; the others after the HTTP API's port (PORT+1).
    ports = [urlsplit(url_of(cloud, api)).port for api in spec.rest_apis]
    assert ports == [cloud.port, cloud.port + 2, cloud.port + 3]
    assert urlsplit(cloud.outputs["HttpApiUrl"]).port == cloud.port + 1
    assert "claims" in contexts[1]["authorizer"]
    assert "claims" not in (contexts[0].get("authorizer") or {})


def test_each_rest_api_has_its_own_authorizer_and_api_keys(cloud: LocalCloud, spec: Any, token: str) -> None:
    first, second, third = spec.rest_apis
    assert (first.authorizers, bool(second.authorizers), bool(third.lambda_authorizers)) == ({}, True, True)
    secure = f"{url_of(cloud, second)}/hello/b"
    assert requests.get(secure, timeout=10).status_code == 401  # no token
    key = {second.api_key_header: cloud.outputs["ApiKey"]}
    assert (
        requests.get(secure, headers={**key, "Authorization": "not-a-token"}, timeout=10).status_code == 401
    )
    assert requests.get(secure, headers={"Authorization": token}, timeout=10).status_code == 403  # no key
    # The open API asks for neither; the Lambda-authorized one for its own header, not a token.
    assert requests.get(f"{url_of(cloud, first)}/hello/a", timeout=10).status_code == 200
    partner = f"{url_of(cloud, third)}/hello/c"
    assert requests.get(partner, headers={"Authorization": token}, timeout=10).status_code == 401
    assert requests.get(partner, headers={"X-Customer": "bad"}, timeout=10).status_code == 403
    allowed = event_of(requests.get(partner, headers={"X-Customer": "good"}, timeout=10))
    assert allowed["requestContext"]["authorizer"]["customer"] == "good"


def test_each_rest_api_has_its_own_gateway_responses_and_no_api_shadows_another(
    cloud: LocalCloud, spec: Any
) -> None:
    first, second, _ = spec.rest_apis
    public_missing = requests.get(f"{url_of(cloud, first)}/nowhere", timeout=10)
    secure_missing = requests.get(f"{url_of(cloud, second)}/nowhere", timeout=10)
    # The first's MISSING_AUTHENTICATION_TOKEN response is its own; the second keeps API Gateway's.
    assert (public_missing.status_code, public_missing.json()) == (404, {"message": "public: no such route"})
    assert (secure_missing.status_code, secure_missing.json()) == (
        403,
        {"message": "Missing Authentication Token"},
    )
    # Neither serves the other's stage.
    secure_root = url_of(cloud, second).removesuffix(f"/{second.stage}")
    assert requests.get(f"{secure_root}/{first.stage}/hello/a", timeout=10).status_code == 403
    assert requests.get(f"{cloud.base_url}/{second.stage}/hello/b", timeout=10).status_code == 403


def test_the_banner_lists_every_rest_api(cloud: LocalCloud, spec: Any) -> None:
    # The banner follows the outputs file (the harness's sign of readiness): waited for.
    console = cloud.wait_for_console("  HTTP API  ")
    lines = [line for line in console.splitlines() if line.startswith("  API  ")]
    assert lines == [f"  API         {url_of(cloud, api)}  ({api.logical_id})" for api in spec.rest_apis]


def test_a_rest_api_beyond_the_first_keeps_its_port_numbering_with_port_0(tmp_path: Path) -> None:
    cloud = start_local_cloud(tmp_path, "--template", str(TEMPLATE), "--port", "0")
    try:
        secure = str(cloud.outputs["SecureApiUrl"])
        assert urlsplit(secure).port not in (None, 0)
        assert requests.get(f"{secure}/hello/b", timeout=10).status_code == 401
    finally:
        cloud.stop()
