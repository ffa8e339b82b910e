"""One outputs file per local cloud, named by its port and removed when it stops; readers find the one of the
cloud they talk to (sam_local_cloud/outputs.py), and `python3 -m sam_local_cloud.client_token` says in one
line what is wrong instead of a traceback."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sam_local_cloud import client_token
from sam_local_cloud import outputs as outputs_file
from sam_local_cloud.cloud import LocalCloud, Options
from tests.harness import ROOT


def write(path: Path, port: int, **extra: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = {"AwsEndpointUrl": f"http://127.0.0.1:{port}", "TokenUrl": f"http://127.0.0.1:{port}/oauth2/token"}
    path.write_text(json.dumps({**body, **extra}))
    return path


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_default_port_keeps_its_file_and_any_other_port_has_its_own(tmp_path):
    assert outputs_file.default_path(tmp_path, 3000) == tmp_path / ".local" / "outputs.json"
    assert outputs_file.default_path(tmp_path, 3100) == tmp_path / ".local" / "outputs-3100.json"


def test_a_reader_finds_the_file_of_the_port_it_talks_to_from_a_folder_below(tmp_path):
    first = write(tmp_path / ".local" / "outputs.json", 3000)
    second = write(tmp_path / ".local" / "outputs-3100.json", 3100)
    below = tmp_path / "app" / "src"
    below.mkdir(parents=True)

    assert outputs_file.find("http://127.0.0.1:3000/v1", below) == first
    assert outputs_file.find("http://localhost:3100", below) == second
    with pytest.raises(outputs_file.OutputsNotFound, match=r"port 3200 .*make local PORT=3200"):
        outputs_file.find("http://127.0.0.1:3200", below)


def test_outputs_written_by_a_cloud_on_another_port_are_refused(tmp_path):
    misplaced = write(tmp_path / "outputs.json", 3100)

    with pytest.raises(outputs_file.OutputsNotFound, match=re.escape("not of http://127.0.0.1:3000")):
        outputs_file.read(misplaced, "http://127.0.0.1:3000")


@pytest.mark.parametrize("url", ["http://127.0.0.1", "not a url:x"])
def test_a_url_without_a_port_is_refused_with_an_example(url):
    with pytest.raises(ValueError, match=re.escape("such as http://127.0.0.1:3000")):
        outputs_file.port_of(url)


def run_client_token(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """As the README runs it: any python3, from the project's folder (here: the module by path)."""
    return subprocess.run(  # noqa: S603 - the project's own module
        [sys.executable, "-m", "sam_local_cloud.client_token", *args],
        cwd=cwd,
        env={"PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_client_token_without_a_cloud_says_so_in_one_line(tmp_path):
    port = closed_port()
    missing = run_client_token(f"http://127.0.0.1:{port}", cwd=tmp_path)
    write(
        tmp_path / ".local" / f"outputs-{port}.json",
        port,
        Clients={"A": {"ClientId": "a", "ClientSecret": "s", "AllowedOAuthFlows": ["client_credentials"]}},
    )
    stale = run_client_token(f"http://127.0.0.1:{port}", cwd=tmp_path)

    for ran in (missing, stale):
        assert ran.returncode == 1
        assert ran.stdout == ""
        assert ran.stderr.count("\n") == 1, ran.stderr
        assert "Traceback" not in ran.stderr
    assert f"no local cloud on port {port} has written its outputs" in missing.stderr
    assert f"no local cloud answers at http://127.0.0.1:{port}/oauth2/token" in stale.stderr


def test_client_token_names_the_clients_it_could_use(tmp_path):
    clients = {
        name: {"ClientId": name, "ClientSecret": "s", "AllowedOAuthFlows": ["client_credentials"]}
        for name in ("Reader", "Admin")
    }
    path = write(tmp_path / "outputs.json", 3000, Clients=clients)

    with pytest.raises(client_token.Refused, match="no machine client Writer: pick one of Admin, Reader"):
        client_token.token("http://127.0.0.1:3000", "Writer", path)


@pytest.fixture
def cloud_root(monkeypatch, tmp_path) -> Path:
    """The project folder a cloud writes its default outputs under (its template's): a temporary copy
    of this one, not the repository."""
    for name in ("template.yaml", "samconfig.toml", "local-cloud.toml"):
        shutil.copy(ROOT / name, tmp_path / name)
    for name in ("functions", "events", "docs"):
        (tmp_path / name).symlink_to(ROOT / name)
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    return tmp_path


def test_a_cloud_writes_its_outputs_by_its_port_and_removes_them_when_it_stops(cloud_root):
    cloud = LocalCloud(Options(port=0))
    try:
        cloud.start()
        port = int(cloud.base_url.rsplit(":", 1)[1])
        path = cloud_root / ".local" / f"outputs-{port}.json"
        assert json.loads(path.read_text())["AwsEndpointUrl"] == cloud.base_url
    finally:
        cloud.stop()

    assert not path.exists()


def test_a_stopping_cloud_leaves_a_file_another_cloud_wrote_since(cloud_root):
    shared = cloud_root / "outputs.json"
    mine, theirs = LocalCloud(Options(outputs_path=shared)), LocalCloud(Options(outputs_path=shared))
    mine.outputs, theirs.outputs = {"AwsEndpointUrl": "mine"}, {"AwsEndpointUrl": "theirs"}
    mine._write_outputs()
    theirs._write_outputs()  # a second cloud started with the same --outputs

    mine.stop()
    assert json.loads(shared.read_text()) == theirs.outputs
    theirs.stop()
    assert not shared.exists()


def test_client_token_refuses_outputs_left_under_the_port_by_another_cloud(tmp_path, monkeypatch, capsys):
    write(tmp_path / ".local" / "outputs.json", 3100)  # a file left under the default port's name
    monkeypatch.chdir(tmp_path)

    assert client_token.main(["http://127.0.0.1:3000"]) == 1

    assert capsys.readouterr().err == (
        f"python3 -m sam_local_cloud.client_token: {tmp_path.resolve()}/.local/outputs.json holds the "
        "outputs of the cloud at http://127.0.0.1:3100, not of http://127.0.0.1:3000\n"
    )
