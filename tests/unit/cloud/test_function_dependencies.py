"""A function's own requirements.txt (sam_local_cloud/lambda_/dependencies.py): installed with pip into a
cache folder named by the file's hash, once; a file pip cannot install is a start-up refusal that names it.
The package is a real wheel made here, so pip installs it offline."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

import pytest

from sam_local_cloud.lambda_ import dependencies
from sam_local_cloud.lambda_.dependencies import DependenciesNotInstalled, dependencies_dir


def wheel(folder: Path, name: str = "tinydep", version: str = "1.0") -> Path:
    """A minimal pure-Python wheel holding the module `name` (its RECORD hashed as pip checks it)."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}.py": f"VERSION = {version!r}\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = []
    for file, text in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{file},sha256={digest},{len(text.encode())}")
    record.append(f"{info}/RECORD,,")
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in files.items():
            archive.writestr(file, text)
        archive.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


def test_requirements_are_installed_once_into_a_folder_named_by_their_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{wheel(tmp_path)}\n")
    installed = dependencies_dir(requirements, tmp_path / "cache")
    assert (installed / "tinydep.py").read_text() == "VERSION = '1.0'\n"

    def no_pip(*args: object, **kwargs: object) -> None:
        raise AssertionError("pip ran again for the same requirements")

    monkeypatch.setattr(dependencies.subprocess, "run", no_pip)
    assert dependencies_dir(requirements, tmp_path / "cache") == installed

    requirements.write_text(f"{wheel(tmp_path, version='2.0')}\n")
    monkeypatch.undo()
    assert dependencies_dir(requirements, tmp_path / "cache") != installed


def test_requirements_pip_cannot_install_are_a_refusal_that_names_the_file(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"{tmp_path / 'missing-1.0-py3-none-any.whl'}\n")
    with pytest.raises(DependenciesNotInstalled) as refused:
        dependencies_dir(requirements, tmp_path / "cache")
    assert str(requirements) in str(refused.value)
    assert not list((tmp_path / "cache" / "dependencies").iterdir())  # nothing half-installed is left
