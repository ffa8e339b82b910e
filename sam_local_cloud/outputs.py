"""Where a local cloud writes its outputs, and how a reader finds those of the cloud it talks to.

One file per cloud, named by its port, so that two clouds side by side never overwrite each other's:
the cloud on the default port writes `.local/outputs.json` (what the README reads), a cloud on any
other port `.local/outputs-PORT.json`. A cloud removes its file when it stops, so a file present
means a cloud serves on that port (or one was killed before it could clean up).

Standard library only, imported by nothing heavy: `python3 -m sam_local_cloud.client_token` runs
without .venv.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

DEFAULT_PORT = 3000
FOLDER = ".local"


class OutputsNotFound(FileNotFoundError):
    """No outputs for that cloud; the message says what to do."""


def file_name(port: int) -> str:
    return "outputs.json" if port == DEFAULT_PORT else f"outputs-{port}.json"


def default_path(root: Path, port: int) -> Path:
    """The file the cloud on `port` writes under `root` unless --outputs names another."""
    return root / FOLDER / file_name(port)


def port_of(url: str) -> int:
    """The port of a local cloud's URL (http://127.0.0.1:3000/v1 -> 3000)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"{url!r} is not a local cloud's URL with its port, such as http://127.0.0.1:3000")
    return port


def find(url: str, start: Path | None = None) -> Path:
    """The outputs file of the cloud at `url`: `.local/` of `start` (the working folder) or of the
    nearest folder above it that has one, as git finds `.git`."""
    port = port_of(url)
    name = Path(FOLDER) / file_name(port)
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / name).is_file():
            return folder / name
    raise OutputsNotFound(
        f"no local cloud on port {port} has written its outputs ({name} in {here} or above): "
        f"start one with `make local{'' if port == DEFAULT_PORT else f' PORT={port}'}` in the project's "
        "folder, or name the file it wrote (--outputs)"
    )


def read(path: Path, url: str | None = None) -> dict[str, Any]:
    """The outputs in `path`; with `url`, refused unless they are the outputs of the cloud at that port."""
    outputs: dict[str, Any] = json.loads(path.read_text())
    if url is not None:
        written_by = outputs.get("AwsEndpointUrl", "")
        if written_by and port_of(written_by) != port_of(url):
            raise OutputsNotFound(f"{path} holds the outputs of the cloud at {written_by}, not of {url}")
    return outputs
