"""The API against its contract: the local cloud serves docs/openapi.json, and schemathesis fuzzes every
operation from it, with a valid token, a fixed number of examples per operation and a fixed seed.

Checked: no 5xx, and every status, content type, header and body is one the document describes. Left
out on purpose: positive_data_acceptance (a next_token or Idempotency-Key that fits the document's
pattern may still be refused: only tokens the API issued, and each key with one body, are accepted) and
ensure_resource_availability (a replayed create answers with a product a later request may have deleted).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests

from sam_local_cloud.api_page import local_document
from scripts.openapi import SECURITY_SCHEME
from tests.e2e.console_log import ConsoleLog
from tests.e2e.support import DEPLOYED, Stack
from tests.harness import widest_client

pytestmark = pytest.mark.skipif(
    DEPLOYED, reason="fuzzing creates hundreds of products: run it against the local cloud"
)

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
EXAMPLES_PER_OPERATION = 50
SEED = 8
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "use_after_free",
    "ignored_auth",
)


def _local_origin(stack: Stack) -> str:
    assert stack.aws_endpoint_url
    return stack.aws_endpoint_url


def test_the_local_cloud_serves_the_document_with_itself_as_server_and_token_endpoint(stack: Stack) -> None:
    served = requests.get(f"{_local_origin(stack)}/openapi.json", timeout=10).json()
    committed = json.loads(DOCUMENT.read_text())

    assert served["servers"] == [{"url": stack.api_url, "description": "the local cloud"}]
    flows = committed["components"]["securitySchemes"][SECURITY_SCHEME]["flows"]
    local_urls = {"tokenUrl": stack.token_url, "authorizationUrl": f"{_local_origin(stack)}/oauth2/authorize"}
    assert served["components"]["securitySchemes"][SECURITY_SCHEME]["flows"] == {
        name: {**flow, **{key: url for key, url in local_urls.items() if key in flow}}
        for name, flow in flows.items()
    }
    stage = urlsplit(stack.api_url).path.strip("/")
    assert served == local_document(committed, _local_origin(stack), stage)


@pytest.mark.timeout(600)
def test_schemathesis_finds_no_server_error_and_no_response_outside_the_contract(
    stack: Stack, token_for: Callable[..., str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    token = token_for(widest_client(stack.clients))
    console = ConsoleLog(stack.console_log) if stack.console_log else None
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "run",
        f"{_local_origin(stack)}/openapi.json",
        "--header",
        f"Authorization: Bearer {token}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        str(EXAMPLES_PER_OPERATION),
        "--seed",
        str(SEED),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
    ]

    # In tmp_path: schemathesis keeps a cache in its working directory.
    run = subprocess.run(  # noqa: S603
        command, cwd=tmp_path, capture_output=True, text=True, timeout=540, check=False
    )

    assert run.returncode == 0, run.stdout[-8000:] + run.stderr[-2000:]
    cases = re.search(r"(\d+) generated, (\d+) passed", run.stdout)
    assert cases, run.stdout[-4000:]
    assert console is not None
    served = console.served(int(cases.group(1)))
    statuses = Counter(s.status for s in served)
    assert not [s for s in served if s.status >= 500]
    assert len(served) >= 500, statuses
    with capsys.disabled():
        print(
            f"\nschemathesis: {cases.group(1)} test cases, {len(served)} requests to the local cloud, "
            f"statuses {dict(sorted(statuses.items()))}, 0 failures"
        )
