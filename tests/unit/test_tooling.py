"""The set-up a new user meets first: the Makefile's targets and Python detection, the CI workflows
and the pre-commit hooks. The Makefile runs for real (dry runs, and .venv made in a temporary
folder) with fake interpreters standing in for the ones a machine may have."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


def make(*args: str, check: bool = False) -> subprocess.CompletedProcess[str]:
    """make in the repository, with nothing inherited from an enclosing make or CI's PYTHON."""
    env = {k: v for k, v in os.environ.items() if k not in {"PYTHON", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(ROOT), *args],
        capture_output=True,
        text=True,
        env=env,
        check=check,
        timeout=120,
    )


@pytest.fixture
def interpreters(tmp_path: Path) -> dict[str, str]:
    """A pyenv shim that fails to start, a Python 3.9, and this Python (3.11 or newer)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    fakes = {
        "broken": "#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n",
        "old": '#!/bin/sh\ncase "$1" in -V) echo "Python 3.9.6";; *) exit 1;; esac\n',
    }
    paths = {}
    for name, script in fakes.items():
        path = folder / name
        path.write_text(script)
        path.chmod(0o755)
        paths[name] = str(path)
    paths["good"] = sys.executable
    return paths


def made_by(venv: Path, python: str) -> Path:
    """The marker the Makefile leaves in a venv it made with `python`."""
    out = make(f"VENV={venv}", f"PYTHON={python}", "--eval", "where: ; @echo $(MADE_BY)", "where", check=True)
    return Path(out.stdout.strip())


# ---------------------------------------------------------------- make help, clean, local


def test_help_lists_every_documented_target_without_make_syntax():
    documented = re.findall(r"^([a-z0-9-]+):.*## ", (ROOT / "Makefile").read_text(), re.MULTILINE)
    shown = make("help", check=True).stdout

    assert {"e2e", "local", "deploy", "destroy", "clean", "distclean"} <= set(documented)
    for target in documented:
        assert f"make {target} " in shown
    assert "$(" not in shown


def test_clean_keeps_the_venv_and_distclean_removes_it():
    clean = make("-n", "clean", check=True).stdout
    distclean = make("-n", "distclean", check=True).stdout

    assert ".venv" not in clean.replace(".venv-", "")
    assert re.search(r"rm -rf \.venv \.venv-\*", distclean)


def test_distclean_says_which_venvs_it_removes():
    """Every venv the project makes beside .venv (the Makefile's and the benchmark's) is named in the
    help, and removed."""
    made = set(re.findall(r"^\w+_VENV := (\.venv-[\w-]+)$", (ROOT / "Makefile").read_text(), re.MULTILINE))
    made |= set(re.findall(r'ROOT / "(\.venv-[\w-]+)"', (ROOT / "bench" / "cold_start.py").read_text()))
    (help_line,) = [line for line in make("help", check=True).stdout.splitlines() if "make distclean" in line]
    removed = make("-n", "distclean", check=True).stdout

    assert made >= {".venv-checkov", ".venv-lambda"}
    for venv in {".venv", *made}:
        assert re.search(rf"{re.escape(venv)}\b", help_line), f"the help leaves out {venv}"
    assert re.search(r"rm -rf \.venv \.venv-\*", removed)


def test_invoke_without_function_or_event_names_the_variables_and_installs_nothing(tmp_path):
    for missing in ([], ["FUNCTION=GetProductFunction"], ["EVENT=events/get_product.json"]):
        ran = make("invoke", f"VENV={tmp_path / 'venv'}", *missing)

        assert ran.returncode != 0
        assert "FUNCTION=" in ran.stderr
        assert "EVENT=" in ran.stderr
        assert "function, event" not in ran.stderr
        assert not (tmp_path / "venv").exists()


def test_invoke_with_both_runs_the_function_on_the_event(interpreters):
    out = make("-n", "invoke", f"PYTHON={interpreters['good']}", "FUNCTION=F", "EVENT=e.json")

    assert "-m sam_local_cloud.invoke F e.json" in out.stdout


def test_local_passes_args_through(interpreters):
    out = make(
        "-n",
        "local",
        f"PYTHON={interpreters['good']}",
        "ARGS=--parameter-overrides RequireApiKey=true",
    )

    assert "sam-local-cloud --port 3000 --parameter-overrides RequireApiKey=true" in " ".join(
        out.stdout.split()
    )


# ---------------------------------------------------------------- finding Python


def test_the_first_working_python_311_or_newer_is_chosen(interpreters, tmp_path):
    candidates = " ".join(interpreters[k] for k in ("broken", "old", "good"))
    out = make("-n", "install", f"VENV={tmp_path / 'venv'}", f"PYTHON_CANDIDATES={candidates}", check=True)

    assert f"{interpreters['good']} -m venv {tmp_path / 'venv'}" in out.stdout


def test_without_python_311_install_says_what_it_needs_and_creates_nothing(interpreters, tmp_path):
    venv = tmp_path / "venv"
    candidates = " ".join(interpreters[k] for k in ("broken", "old"))
    out = make("install", f"VENV={venv}", f"PYTHON_CANDIDATES={candidates}")

    assert out.returncode != 0
    assert "needs Python 3.11 or newer" in out.stderr
    assert f"{interpreters['old']}: Python 3.9.6" in out.stderr
    assert "Traceback" not in out.stderr
    assert not venv.exists()


def test_a_python_that_is_too_old_is_refused_by_name(interpreters, tmp_path):
    out = make("install", f"VENV={tmp_path / 'venv'}", f"PYTHON={interpreters['old']}")

    assert out.returncode != 0
    assert f"PYTHON={interpreters['old']} is Python 3.9.6" in out.stderr


def test_a_venv_made_by_another_interpreter_is_made_again(interpreters, tmp_path):
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".made-by-another-python").touch()  # e.g. a half-made 3.9 venv from an earlier try
    (venv / "bin" / "python").symlink_to(interpreters["old"])
    marker = made_by(venv, interpreters["good"])

    make(str(marker), f"VENV={venv}", f"PYTHON={interpreters['good']}", check=True)

    assert marker.exists()
    assert not (venv / ".made-by-another-python").exists()
    version = subprocess.run([venv / "bin" / "python", "-V"], capture_output=True, text=True, check=True)
    assert version.stdout.strip() == f"Python {'.'.join(map(str, sys.version_info[:3]))}"


# ---------------------------------------------------------------- CI and pre-commit


def workflow(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(flow: dict) -> list[dict]:
    return [step for job in flow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_workflow_actions_are_pinned_by_commit_and_permissions_are_read_only(name):
    flow = workflow(name)

    assert flow["permissions"] == {"contents": "read"}
    for step in steps(flow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), f"{step['uses']}: pin it by commit hash"


def test_ci_runs_the_entry_point_on_311_and_313_with_a_pip_cache():
    flow = workflow("ci.yml")
    (job,) = flow["jobs"].values()
    setup = next(s for s in job["steps"] if s.get("uses", "").startswith("actions/setup-python@"))

    assert job["strategy"]["matrix"]["python"] == ["3.11", "3.13"]
    assert setup["with"]["cache"] == "pip"
    assert any(s.get("run") == "bash .ci/run" for s in job["steps"])
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_deploy_workflow_is_off_until_configured_and_uses_oidc():
    flow = workflow("deploy.yml")
    (job,) = flow["jobs"].values()
    aws = next(
        s for s in job["steps"] if s.get("uses", "").startswith("aws-actions/configure-aws-credentials@")
    )

    assert job["if"] == "vars.AWS_DEPLOY_ROLE_ARN != ''"
    assert job["permissions"]["id-token"] == "write"
    assert aws["with"]["role-to-assume"] == "${{ vars.AWS_DEPLOY_ROLE_ARN }}"
    assert not any("aws-access-key-id" in s.get("with", {}) for s in job["steps"])


def lint_commands() -> set[tuple[str, ...]]:
    """The tools `make lint` runs, as (tool, subcommand)."""
    makefile = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^lint:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
    assert recipe
    commands = set()
    for line in recipe.group(1).splitlines():
        words = [w.rsplit("/", 1)[-1] for w in shlex.split(line.strip())]
        commands.add(tuple(w for w in words[:2] if not w.startswith("-") and "." not in w))
    return commands


def test_pre_commit_runs_the_same_checks_as_make_lint():
    config = yaml.safe_load((ROOT / ".pre-commit-config.yaml").read_text())
    hooks = set()
    for hook in (h for repo in config["repos"] for h in repo["hooks"]):
        words = [w.rsplit("/", 1)[-1] for w in shlex.split(hook["entry"]) if "=" not in w and w != "env"]
        hooks.add(tuple(w for w in words[:2] if not w.startswith("-") and "." not in w))
    validated = subprocess.run(
        [Path(sys.executable).parent / "pre-commit", "validate-config", ROOT / ".pre-commit-config.yaml"],
        capture_output=True,
        text=True,
    )

    assert validated.returncode == 0, validated.stdout + validated.stderr
    assert lint_commands() == hooks
    assert len(hooks) >= 5
