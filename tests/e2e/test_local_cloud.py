"""What only the local cloud can show: start-up time, API keys, seeding, a busy port, clean stop.

Misbehaving functions, limits and the event's shape are in test_fidelity.py, on a fixture template."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from tests.e2e.support import DEPLOYED
from tests.harness import ROOT, LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="about the local cloud itself")
SEED = ROOT / "events" / "seed_item.json"


def _children(pid: int) -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        children |= {int(p) for p in task.read_text().split()}
    return children


@pytest.fixture(scope="module")
def keyed_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LocalCloud, float]]:
    started = time.monotonic()
    cloud = start_local_cloud(
        tmp_path_factory.mktemp("keyed"), "--parameter-overrides", "RequireApiKey=true", "--seed", str(SEED)
    )
    ready_after = time.monotonic() - started
    yield cloud, ready_after
    cloud.stop(signal.SIGKILL)


def _token(cloud: LocalCloud) -> str:
    client = next(iter(cloud.outputs["Clients"].values()))
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as session:
        return session.fetch_token(cloud.outputs["TokenUrl"], grant_type="client_credentials")["access_token"]


def _seeded_id() -> str:
    return json.loads(SEED.read_text())["id"]["S"]


def test_local_cloud_is_ready_within_3_seconds(keyed_cloud: tuple[LocalCloud, float]) -> None:
    assert keyed_cloud[1] < 3.0


def test_api_key_is_published_in_outputs_when_required(keyed_cloud: tuple[LocalCloud, float]) -> None:
    outputs = keyed_cloud[0].outputs
    assert outputs["ApiKeyId"]
    assert outputs["ApiKey"]


@pytest.mark.parametrize("key", [None, "wrong-key"], ids=["missing", "wrong"])
def test_missing_or_wrong_api_key_is_403_forbidden(
    keyed_cloud: tuple[LocalCloud, float], key: str | None
) -> None:
    cloud = keyed_cloud[0]
    headers = {"Authorization": f"Bearer {_token(cloud)}"} | ({"x-api-key": key} if key else {})
    response = requests.get(f"{cloud.outputs['ApiUrl']}/products", headers=headers, timeout=10)
    assert (response.status_code, response.json()) == (403, {"message": "Forbidden"})
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_api_key_and_token_together_reach_the_seeded_product(keyed_cloud: tuple[LocalCloud, float]) -> None:
    cloud = keyed_cloud[0]
    headers = {"Authorization": f"Bearer {_token(cloud)}", "x-api-key": cloud.outputs["ApiKey"]}
    response = requests.get(f"{cloud.outputs['ApiUrl']}/products/{_seeded_id()}", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Espresso cup"


def test_api_key_without_token_is_still_401(keyed_cloud: tuple[LocalCloud, float]) -> None:
    cloud = keyed_cloud[0]
    headers = {"x-api-key": cloud.outputs["ApiKey"]}
    response = requests.get(f"{cloud.outputs['ApiUrl']}/products", headers=headers, timeout=10)
    assert response.status_code == 401


def test_the_http_api_takes_no_api_key_a_token_alone_reaches_the_seeded_product(
    keyed_cloud: tuple[LocalCloud, float],
) -> None:
    """RequireApiKey=true keys the REST API only: HTTP APIs have no API keys (docs/aws-behaviour.md §9)."""
    cloud = keyed_cloud[0]
    url = f"{cloud.outputs['HttpApiUrl'].rstrip('/')}/products/{_seeded_id()}"
    response = requests.get(url, headers={"Authorization": f"Bearer {_token(cloud)}"}, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["name"] == "Espresso cup"


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
    assert not cloud.left_running, "the cloud's stop left processes of its group running"
    assert "Traceback" not in cloud.console
    assert all(not Path(f"/proc/{pid}").exists() or _is_zombie(pid) for pid in workers)


def _is_zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
