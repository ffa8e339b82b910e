"""The functions deploy with no requirements.txt: every import must come from the runtime or the layer.

The python3.13 runtime gives the standard library and boto3 (with botocore, s3transfer, urllib3...);
the Powertools layer gives `aws-lambda-powertools[all]` at the pinned version (docs/decisions.md §4).
An import of anything else would pass here, where .venv has it, and fail in Lambda.
"""

from __future__ import annotations

import ast
import importlib.metadata as metadata
import re
import sys
from pathlib import Path

from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS = ROOT / "functions"
OWN_PACKAGES = {p.name for p in FUNCTIONS.iterdir() if (p / "__init__.py").exists()}


def _import_names(distribution: str) -> set[str]:
    """Top-level modules a distribution installs, and those of everything it requires, recursively."""
    names: set[str] = set()
    seen: set[str] = set()
    todo = [(distribution, "all")]
    by_distribution: dict[str, set[str]] = {}
    for module, dists in metadata.packages_distributions().items():
        for dist in dists:
            by_distribution.setdefault(_norm(dist), set()).add(module)
    while todo:
        name, extra = todo.pop()
        if _norm(name) in seen:
            continue
        seen.add(_norm(name))
        names |= by_distribution.get(_norm(name), set())
        for text in metadata.requires(name) or []:
            requirement = Requirement(text)  # markers as pip reads them, whatever their quoting
            if requirement.marker and not requirement.marker.evaluate({"extra": extra}):
                continue
            todo.append((requirement.name, ""))
    return names


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def provided_modules() -> set[str]:
    layer = _import_names("aws-lambda-powertools")  # the layer ships the [all] extra
    runtime = _import_names("boto3")
    return set(sys.stdlib_module_names) | layer | runtime | OWN_PACKAGES


def unprovided_imports(files: list[Path], provided: set[str]) -> list[str]:
    problems = []
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                modules = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules = [node.module]
            else:
                continue
            problems += [f"{path.name}: {m}" for m in modules if m.split(".")[0] not in provided]
    return problems


def test_function_code_imports_only_what_the_runtime_and_the_powertools_layer_provide():
    files = sorted(FUNCTIONS.rglob("*.py"))
    assert files
    assert unprovided_imports(files, provided_modules()) == []


def test_the_check_catches_an_import_the_lambda_would_not_have(tmp_path):
    handler = tmp_path / "handler.py"
    handler.write_text("import json\nimport requests\nfrom fastjsonschema import compile\n")

    assert unprovided_imports([handler], provided_modules()) == ["handler.py: requests"]
