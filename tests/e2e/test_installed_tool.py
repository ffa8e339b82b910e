"""The local cloud installed with pip into another project's environment, as docs/local-cloud.md ("In
another SAM project") says: the wheel pip builds from this repository holds the whole package and its
command, and `sam-local-cloud`, run in another project's folder with no option but its port, serves
that project's `template.yaml` with its authorizer enforced, from the installed copy (not from this
checkout).

To install nothing from the network but the build backend, the new environment reaches the
dependencies through a `.pth` file naming this environment's site-packages; the package itself and
its command come from the wheel alone.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sam_local_cloud.cloudformation.spec import active, read_spec
from sam_local_cloud.cloudformation.template import translate
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import ROOT, LocalCloud, free_port, launch, machine_clients

pytestmark = pytest.mark.skipif(DEPLOYED, reason="installs the local cloud, it calls no deployed stack")

APP = FIXTURES / "sam_apps" / "conventions"  # a SAM application of its own: no local-cloud.toml
COMMAND = "sam-local-cloud"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The wheel `pip install` builds from this repository (from a copy of what it reads, so the
    build writes nothing into the checkout)."""
    where = tmp_path_factory.mktemp("wheel")
    source = where / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(
        ROOT / "sam_local_cloud", source / "sam_local_cloud", ignore=shutil.ignore_patterns("__pycache__")
    )
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--disable-pip-version-check",
         "--wheel-dir", str(where), str(source)],
        check=True, timeout=300,
    )  # fmt: skip
    return next(where.glob("*.whl"))


@pytest.fixture(scope="module")
def environment(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another project's virtual environment with the wheel installed; its `bin/`."""
    venv = tmp_path_factory.mktemp("project-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    site = next(venv.glob("lib/python3*/site-packages"))
    (site / "dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install", "--no-deps",
         "--quiet", "--disable-pip-version-check", str(wheel)],
        check=True, timeout=300,
    )  # fmt: skip
    return venv / "bin"


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Another SAM project's folder: a copy of a fixture application, far from this checkout."""
    folder = tmp_path_factory.mktemp("my-app") / "my-app"
    shutil.copytree(APP, folder, ignore=shutil.ignore_patterns(".local", ".aws-sam", "__pycache__"))
    return folder


@pytest.fixture(scope="module")
def served(environment: Path, project: Path) -> Iterator[LocalCloud]:
    port = free_port()
    cloud = launch(
        [str(environment / COMMAND), "--port", str(port)],
        port=port,
        outputs=project / ".local" / f"outputs-{port}.json",  # beside the template, by its port
        console=project.parent / "console.log",
        cwd=project,
        env=_without_this_checkout(),
    )
    yield cloud
    cloud.stop()


def _without_this_checkout() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}


def test_the_wheel_holds_every_module_of_the_package_and_the_command(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    modules = {p.relative_to(ROOT).as_posix() for p in (ROOT / "sam_local_cloud").rglob("*.py")}
    assert modules - names == set()
    assert not {n for n in names if n.endswith(".py") and not n.startswith("sam_local_cloud/")}
    assert f"{COMMAND} = sam_local_cloud.__main__:main" in scripts


def test_the_command_runs_the_installed_package_not_this_checkout(environment: Path, project: Path) -> None:
    where = subprocess.run(
        [str(environment / "python"), "-c", "import sam_local_cloud; print(sam_local_cloud.__file__)"],
        cwd=project, env=_without_this_checkout(), capture_output=True, text=True, check=True, timeout=60,
    ).stdout.strip()  # fmt: skip
    assert Path(where).is_relative_to(environment.parent), where
    help_text = subprocess.run(
        [str(environment / COMMAND), "--help"], capture_output=True, text=True, check=True, timeout=60
    ).stdout
    assert help_text.startswith(f"usage: {COMMAND} ")


def test_the_command_serves_the_template_of_the_folder_it_runs_in(served: LocalCloud, project: Path) -> None:
    api = read_spec(active(translate(path=project / "template.yaml"))).api
    assert api is not None
    get = next(r for r in api.routes if r.method == "GET" and r.resource == "/items")
    assert get.scopes
    assert get.validation is not None
    headers = dict.fromkeys(get.validation.required_headers, "x")
    query = dict.fromkeys(get.validation.required_query, "x")
    url = f"{served.outputs['ApiUrl']}/items"

    refused = requests.get(url, headers=headers, params=query, timeout=10)
    assert refused.status_code == 401, refused.text

    client = next(
        c for c in machine_clients(served.outputs).values() if set(get.scopes) <= set(c["AllowedScopes"])
    )
    token = requests.post(
        served.outputs["TokenUrl"],
        data={"grant_type": "client_credentials"},
        auth=(client["ClientId"], client["ClientSecret"]),
        timeout=10,
    ).json()["access_token"]
    answered = requests.get(url, headers={**headers, "Authorization": token}, params=query, timeout=10)
    assert answered.status_code == 200, answered.text
    assert Path(answered.json()["file"]).is_relative_to(project)  # the project's code, not this checkout's
