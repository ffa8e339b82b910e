"""The local cloud never serves open what it cannot enforce (docs/aws-behaviour.md §8).

Fixture templates declare a Lambda authorizer whose function is in another stack, IAM authorization and a
WebSocket API: start-up stops and names each, unless --allow-unenforced is given, and then every such
request is marked in the console. (Lambda authorizers on the template's own functions are served:
tests/e2e/test_lambda_authorizers.py.)
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import ROOT, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="about the local cloud itself")
ELSEWHERE = "a Lambda authorizer (token; its function is not in this template) TokenCheck"


@pytest.mark.parametrize(
    ("template", "named"),
    [
        ("lambda_authorizer.yaml", f"GET /hello/{{name}}: {ELSEWHERE}"),
        ("iam_authorizer.yaml", "GET /hello/{name}: IAM authorization (SigV4)"),
        ("websocket_api.yaml", "Socket: WebSocket API (not served)"),
    ],
)
def test_start_up_stops_on_what_cannot_be_enforced_and_names_it(
    tmp_path: Path, template: str, named: str
) -> None:
    outputs = tmp_path / "outputs.json"
    command = [sys.executable, "-m", "sam_local_cloud", "--port", "0", "--outputs", str(outputs)]
    result = subprocess.run(  # noqa: S603 - our own CLI
        [*command, "--template", str(FIXTURES / template)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert named in result.stderr
    assert "--allow-unenforced" in result.stderr
    assert not outputs.exists()


def test_allowed_unenforced_routes_are_served_and_marked_in_the_console(tmp_path: Path) -> None:
    cloud = start_local_cloud(
        tmp_path, "--template", str(FIXTURES / "lambda_authorizer.yaml"), "--allow-unenforced"
    )
    try:
        response = requests.get(f"{cloud.outputs['AwsEndpointUrl']}/test/hello/world", timeout=30)
        assert response.status_code == 200
        log = cloud.wait_for_console("GET /test/hello/world 200")
        line = next(line for line in log.splitlines() if line.startswith("GET /test/hello/world 200"))
        assert f"[UNENFORCED: {ELSEWHERE}]" in line
        assert "SERVED UNENFORCED" in log
    finally:
        cloud.stop()
