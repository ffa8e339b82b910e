"""The commands of the README and of the docs it leads to, as written.

The documents are read in the order a newcomer reads them (DOCUMENTS), so a block may use what an
earlier one set. Shell blocks are fenced with tags after the language:

- `sh local`: a user runs it on a fresh clone, from a second terminal while `make local` serves.
  This test does exactly that: `make local` on a free port in a scratch copy of the repository,
  then every `sh local` block in order, in one bash session (so `$TOKEN` from one block serves the
  next), failing on the first command that fails. `needs:<tool>` runs a block only where the tool
  is installed.
- `sh aws`: needs an AWS account; only checked for syntax (`bash -n`).
- `sh` alone: shown, not run here (`make test` is what CI runs; `make local` is started above).

Blocks are found by their tags, wherever they are, so sections can come and go.
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from sam_local_cloud.outputs import file_name
from tests.e2e.support import LOCAL_ONLY
from tests.harness import free_port, launch

ROOT = Path(__file__).resolve().parents[2]
# Every document with `sh local` or `sh aws` blocks, in reading order.
DOCUMENTS = ("README.md", "docs/local-cloud.md", "docs/people.md", "docs/api.md", "docs/deploy.md")
FENCE = re.compile(
    r"^(?P<indent> *)```sh(?P<tags>[^\n]*)\n(?P<body>.*?)^(?P=indent)```", re.MULTILINE | re.DOTALL
)
STARTUP_SECONDS, STOP_SECONDS = 60, 20


@dataclass(frozen=True)
class Block:
    document: str
    line: int
    tags: frozenset[str]
    body: str

    @property
    def needs(self) -> list[str]:
        return [tag.removeprefix("needs:") for tag in self.tags if tag.startswith("needs:")]

    def __str__(self) -> str:
        return f"{self.document} line {self.line} ({' '.join(sorted(self.tags)) or 'sh'})"


def shell_blocks(document: str, text: str) -> list[Block]:
    blocks = []
    for match in FENCE.finditer(text):
        indent = len(match["indent"])
        body = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        line = text.count("\n", 0, match.start()) + 1
        blocks.append(Block(document, line, frozenset(match["tags"].split()), body))
    return blocks


BLOCKS = [block for document in DOCUMENTS for block in shell_blocks(document, (ROOT / document).read_text())]


def shell_env() -> dict[str, str]:
    """The user's environment, minus an enclosing make's, with the Python that made .venv (so make
    finds .venv as it is and never rebuilds it through the scratch copy's link)."""
    env = {k: v for k, v in os.environ.items() if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL"}}
    env["PYTHON"] = sys.executable
    return env


@pytest.fixture(scope="module")
def scratch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh-clone-like folder: every top-level entry of the repository linked, no .local."""
    folder = tmp_path_factory.mktemp("readme")
    for entry in ROOT.iterdir():
        if entry.name not in {".local", ".pytest_cache"}:
            (folder / entry.name).symlink_to(entry)
    return folder


@pytest.fixture(scope="module")
def local_cloud(scratch: Path) -> Iterator[int]:
    """`make local` in the scratch folder, on a free port; its outputs go to the scratch .local/, under
    the name a cloud on that port gives them (the scratch folder's entries are links, so the default
    folder would be the repository's own)."""
    port = free_port()
    outputs = Path(".local") / file_name(port)
    cloud = launch(
        ["make", "--no-print-directory", "local", f"PORT={port}", f"ARGS=--outputs {outputs}"],
        port=port,
        outputs=scratch / outputs,
        console=scratch / "make-local.log",
        cwd=scratch,
        env=shell_env(),
        timeout=STARTUP_SECONDS,
    )
    try:
        yield port
    finally:
        cloud.stop(timeout=STOP_SECONDS)


def test_the_readme_has_blocks_of_each_kind():
    tags = {tag for block in BLOCKS for tag in block.tags}
    assert {"local", "aws"} <= tags


def test_every_document_with_runnable_blocks_is_read():
    documents = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    with_blocks = {
        str(path.relative_to(ROOT))
        for path in documents
        if any(block.tags & {"local", "aws"} for block in shell_blocks(path.name, path.read_text()))
    }

    assert with_blocks <= set(DOCUMENTS)


def test_the_readme_shows_how_to_start_and_how_to_test():
    readme = [block for block in BLOCKS if block.document == "README.md"]
    commands = {line.split("#")[0].strip() for block in readme for line in block.body.splitlines()}

    assert {"make local", "make test"} <= commands


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.tags & {"local", "aws"}], ids=str)
def test_tagged_block_is_valid_bash(block: Block):
    checked = subprocess.run(["bash", "-n"], input=block.body, capture_output=True, text=True)

    assert checked.returncode == 0, f"{block}: {checked.stderr}"


@LOCAL_ONLY
def test_local_blocks_run_as_written_against_make_local(scratch: Path, local_cloud: int):
    # `make` targets that talk to the running cloud (make fire) find it by PORT, as for `make local`.
    script = ["set -eo pipefail", f"export PORT={local_cloud}"]
    skipped = []
    for block in (b for b in BLOCKS if "local" in b.tags):
        missing = [tool for tool in block.needs if shutil.which(tool) is None]
        if missing:
            skipped.append(f"{block}: needs {', '.join(missing)}")
            continue
        # The docs' cloud is on 3000 and its HTTP API on the next port, 3001; its outputs are those of
        # a cloud on 3000. Blocks that find the outputs by the cloud's URL find this cloud's unchanged.
        body = block.body.replace("127.0.0.1:3001", f"127.0.0.1:{local_cloud + 1}")
        body = body.replace("127.0.0.1:3000", f"127.0.0.1:{local_cloud}")
        body = body.replace(".local/outputs.json", f".local/{file_name(local_cloud)}")
        script += [f"echo '>>> {block}' >&2", body]
    ran = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=scratch,
        env=shell_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )

    blocks_started = re.findall(r"^>>> (.*)$", ran.stderr, re.MULTILINE)
    assert ran.returncode == 0, (
        f"failed in {blocks_started[-1] if blocks_started else 'the first block'}:\n"
        f"{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"
    )
    assert len(blocks_started) + len(skipped) == sum("local" in b.tags for b in BLOCKS)
    # What the blocks show, shown: a product created, a token's claims decoded, one token for many calls.
    assert '"name": "Kettle"' in ran.stdout or '"name":"Kettle"' in ran.stdout
    assert '"token_use": "access"' in ran.stdout
    assert "3 call(s), 1 token request(s)" in ran.stderr


def test_the_jwt_tip_decodes_claims_of_every_length():
    (tip,) = [b for b in BLOCKS if "local" in b.tags and "urlsafe_b64decode" in b.body]
    for padding in range(3):  # payloads whose base64url form needs 0, 1 or 2 "=" to decode
        claims = {"sub": "x" * padding, "scope": "product-api/read_product"}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        token = f"eyJhbGciOiJSUzI1NiJ9.{payload}.c2ln"
        decoded = subprocess.run(
            ["bash", "-c", tip.body], env={**os.environ, "TOKEN": token}, capture_output=True, text=True
        )

        assert decoded.returncode == 0, decoded.stderr
        assert json.loads(decoded.stdout) == claims
