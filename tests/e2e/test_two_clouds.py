"""Two local clouds side by side, as a user runs them: `python -m sam_local_cloud` on two ports from the
project's folder, with no --outputs. Each writes its own outputs file and removes it when it stops;
the README's quick start against either finds the right one, and against a stopped one says so in
one line instead of a traceback."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sam_local_cloud.outputs import default_path
from tests.e2e.support import LOCAL_ONLY
from tests.harness import ROOT, LocalCloud, free_port, launch

pytestmark = LOCAL_ONLY

README = (ROOT / "README.md").read_text()
# The quick start: the README's first block a user runs against `make local`, on port 3000.
QUICK_START = re.search(r"```sh local\n(.*?)```", README, re.DOTALL)


def quick_start(port: int) -> str:
    assert QUICK_START, "the README has no `sh local` block"
    body = QUICK_START.group(1)
    assert "127.0.0.1:3000" in body
    body = body.replace("127.0.0.1:3001", f"127.0.0.1:{port + 1}")
    return body.replace("127.0.0.1:3000", f"127.0.0.1:{port}")


def run(script: str) -> subprocess.CompletedProcess[str]:
    """In bash from the project's folder, as a user types it (no `set -e`)."""
    return subprocess.run(  # noqa: S603 - the README's own commands
        ["bash", "-c", script],  # noqa: S607 - bash from PATH, as the user's
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def start(tmp_path: Path) -> LocalCloud:
    port = free_port()
    return launch(
        # Outputs where a user's cloud writes them (the point here); state in the test's own folder.
        [
            sys.executable,
            "-m",
            "sam_local_cloud",
            "--port",
            str(port),
            "--state",
            str(tmp_path / f"state-{port}"),
        ],
        port=port,
        outputs=default_path(ROOT, port),
        console=tmp_path / f"console-{port}.log",
    )


@pytest.fixture
def two_clouds(tmp_path: Path) -> Iterator[tuple[LocalCloud, LocalCloud]]:
    first = start(tmp_path)
    try:
        second = start(tmp_path)
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        for cloud in (first, second):
            cloud.stop()
            default_path(ROOT, cloud.port).unlink(missing_ok=True)  # only if a stop left it


def test_the_quick_start_works_against_each_of_two_clouds_and_says_when_one_is_gone(two_clouds):
    first, second = two_clouds
    first_file, second_file = default_path(ROOT, first.port), default_path(ROOT, second.port)
    assert first_file != second_file
    assert first.outputs["Clients"] != second.outputs["Clients"]  # each cloud its own ids and secrets

    for cloud in (first, second):
        ran = run(quick_start(cloud.port))
        assert ran.returncode == 0, ran.stderr
        assert ran.stderr == ""
        assert ran.stdout.count('"name": "Kettle"') == 3, ran.stdout  # created, listed on REST and HTTP

    assert first.stop() == 0
    assert not first_file.exists()
    assert second_file.exists()

    gone = run(quick_start(first.port))
    assert "Traceback" not in gone.stderr
    token_error, *curl_errors = gone.stderr.splitlines()
    assert token_error.startswith("python3 -m sam_local_cloud.client_token: no local cloud on port")
    assert all(line.startswith("curl: (7)") for line in curl_errors), gone.stderr
    assert run(quick_start(second.port)).returncode == 0
