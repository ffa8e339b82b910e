"""A function's own `requirements.txt`, installed once per content into a cache folder, as `sam build`
would install it into the function's build folder (docs/local-cloud.md, "SAM CLI's conventions").

The folder is named by the hash of the file and of the local Python's version, so an unchanged file is
never installed twice and an edited one gets a folder of its own. pip writes into a temporary folder
that is renamed once complete: a failed or interrupted install leaves nothing that looks done.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

REQUIREMENTS = "requirements.txt"
DEPENDENCIES_DIR = "dependencies"
_PIP_TIMEOUT_SECONDS = 300


class DependenciesNotInstalled(SystemExit):
    """pip could not install a function's requirements: the start-up refusal, with pip's last words."""


def dependencies_dir(requirements: Path, cache: Path) -> Path:
    """Where the requirements' packages are (installed now with pip when they are not yet)."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(f"{sys.version_info.major}.{sys.version_info.minor}".encode())
    target = cache / DEPENDENCIES_DIR / digest.hexdigest()[:16]
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
        "--no-input", "--retries", "1", "--target", str(partial), "--requirement", str(requirements),
    ]  # fmt: skip
    try:
        done = subprocess.run(  # noqa: S603 - pip, on the project's own requirements file
            command, capture_output=True, text=True, timeout=_PIP_TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        shutil.rmtree(partial, ignore_errors=True)
        why = f"pip took over {_PIP_TIMEOUT_SECONDS} s"
        raise DependenciesNotInstalled(_refusal(requirements, why)) from None
    if done.returncode != 0:
        shutil.rmtree(partial, ignore_errors=True)
        last = [line for line in done.stderr.splitlines() if line.strip()][-3:]
        raise DependenciesNotInstalled(_refusal(requirements, " / ".join(last) or f"exit {done.returncode}"))
    partial.rename(target)
    return target


def _refusal(requirements: Path, why: str) -> str:
    return (
        f"{requirements}: pip could not install it ({why}).\n"
        "Fix: make it installable (offline: `sam build` once online and serve "
        ".aws-sam/build/template.yaml, or put the packages in the code folder)."
    )
