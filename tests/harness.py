"""A local cloud as a child process, for the e2e suite, the README test and the benchmarks; its clients
picked by their scopes.

The cloud (`python -m sam_local_cloud`, or `make local` for the README test) runs in a process group of its
own, on a free port. It is ready once its outputs file exists: the cloud writes that file last, in one rename.
Stopping it signals the cloud alone, so that it stops its own workers as it would on Ctrl-C or `kill`, then
kills whatever of its group is left, so that no test or benchmark leaks processes.

Standard library only at import time (boto3 is imported for `LocalCloud.aws`), no pytest: the
benchmarks import this too.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import requests

ROOT = Path(__file__).resolve().parent.parent
STARTUP_TIMEOUT_SECONDS = 20
STOP_TIMEOUT_SECONDS = 15
POLL_SECONDS = 0.01  # fine enough for the benchmarks' start-up times


READY_LINE = "ready in "  # the banner's line once the cloud serves (sam_local_cloud/__main__.py)


class LocalCloudDidNotStart(RuntimeError):
    """The cloud exited, or wrote no outputs in time; the message ends with its console, if kept."""


def free_port() -> int:
    """A free port whose next one is free too: the cloud's HTTP APIs take PORT+1, PORT+2..."""
    for _ in range(100):
        with socket.socket() as first, socket.socket() as second:
            first.bind(("127.0.0.1", 0))
            port = first.getsockname()[1]
            try:
                second.bind(("127.0.0.1", port + 1))
            except (OSError, OverflowError):  # taken, or past the last port
                continue
            return port
    raise RuntimeError("no two free ports side by side on 127.0.0.1")


def local_aws_client(service: str, endpoint_url: str, region: str) -> Any:
    """boto3 against a local cloud's AWS APIs, with the dummy credentials they take."""
    import boto3

    make_client: Any = boto3.client  # typed per literal service name; this one is chosen at run time
    return make_client(
        service,
        endpoint_url=endpoint_url,
        region_name=region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@dataclass
class LocalCloud:
    process: subprocess.Popen[bytes]
    port: int
    outputs: dict[str, Any]
    ready_after: float  # seconds from spawning the process to its outputs file
    console_path: Path | None  # None: the console was discarded
    # Whether any process of the cloud's group outlived it (set by stop(), before they are killed):
    # a cloud that stops cleanly stops its workers itself.
    left_running: bool = False

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def console(self) -> str:
        """What the cloud printed so far (stdout and stderr): its banner, then one line per request."""
        return self.console_path.read_text(errors="replace") if self.console_path else ""

    def wait_for_console(self, text: str, timeout: float = 10) -> str:
        """The console once it holds `text` (its lines are written as requests end)."""
        deadline = time.monotonic() + timeout
        while text not in (console := self.console):
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} never appeared in the cloud's console:\n{console[-3000:]}")
            time.sleep(0.05)
        return console

    def aws(self, service: str) -> Any:
        """A boto3 client of this cloud's AWS APIs."""
        return local_aws_client(service, self.outputs["AwsEndpointUrl"], self.outputs["Region"])

    def stop(self, sig: int = signal.SIGTERM, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Signals the cloud's process, waits for it (killing its group if it takes too long), then
        kills anything its group left running. Returns the process's exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            code = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(self.process.pid)
            code = self.process.wait()
        self.left_running = self.left_running or _group_is_alive(self.process.pid)
        if self.left_running:
            _kill_group(self.process.pid)
            deadline = time.monotonic() + 2  # SIGKILL is not instant: gone before the next cloud starts
            while _group_is_alive(self.process.pid) and time.monotonic() < deadline:
                time.sleep(POLL_SECONDS)
        return code


def start_local_cloud(
    workdir: Path,
    *args: str,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
    keep_console: bool = True,
    env: Mapping[str, str] | None = None,
) -> LocalCloud:
    """`python -m sam_local_cloud ARGS` on a free port, returned once it is ready. Its outputs (and console,
    unless discarded) go to a new folder in `workdir`, so one workdir can serve several clouds; so does
    its state, unless ARGS name a `--state DIR` (a restart on the same state)."""
    workdir.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="cloud-", dir=workdir))
    port = free_port()
    outputs = folder / "outputs.json"
    state = () if "--state" in args else ("--state", str(folder / "state"))
    return launch(
        [
            sys.executable,
            "-m",
            "sam_local_cloud",
            "--port",
            str(port),
            "--outputs",
            str(outputs),
            *state,
            *args,
        ],
        port=port,
        outputs=outputs,
        console=folder / "console.log" if keep_console else None,
        timeout=timeout,
        env=env,
    )


def launch(
    command: Sequence[str],
    *,
    port: int,
    outputs: Path,
    console: Path | None,
    cwd: Path = ROOT,
    env: Mapping[str, str] | None = None,
    timeout: float = STARTUP_TIMEOUT_SECONDS,
) -> LocalCloud:
    """Any command that starts a local cloud on `port` and writes its outputs to `outputs` (such as
    `make local`), returned once that file exists."""
    started = time.perf_counter()
    with contextlib.ExitStack() as files:
        out: IO[bytes] | int = files.enter_context(console.open("wb")) if console else subprocess.DEVNULL
        process = subprocess.Popen(  # noqa: S603 - the project's own commands
            list(command), cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    cloud = LocalCloud(process, port, outputs={}, ready_after=0.0, console_path=console)
    deadline = started + timeout
    while not outputs.exists():
        exited = process.poll() is not None
        if exited or time.perf_counter() > deadline:
            cloud.stop(signal.SIGKILL)
            why = f"exited with {process.returncode}" if exited else f"was not ready after {timeout:g} s"
            raise LocalCloudDidNotStart(
                f"the local cloud did not start ({' '.join(command)} {why}):\n{cloud.console}"
            )
        time.sleep(POLL_SECONDS)
    cloud.ready_after = time.perf_counter() - started
    cloud.outputs = json.loads(outputs.read_text())
    if console is not None:  # the banner follows the outputs file: tests that read it find it whole
        cloud.wait_for_console(READY_LINE, timeout=max(1.0, deadline - time.perf_counter()))
    return cloud


def _group_is_alive(group: int) -> bool:
    """Whether a process of `group` runs; on Linux not counting zombies, which are done already."""
    proc = Path("/proc")
    if not (proc / "self" / "stat").exists():
        try:
            os.killpg(group, 0)
        except (ProcessLookupError, PermissionError):
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            state, _parent, process_group = stat.read_text().rpartition(")")[2].split()[:3]
            if int(process_group) == group and state != "Z":
                return True
    return False


def _kill_group(group: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(group, signal.SIGKILL)


# ---------------------------------------------------------------- clients by their scopes


def scopes_of(client: Any) -> tuple[str, ...]:
    """A client's allowed scopes, from the outputs' entry (`AllowedScopes`), the template's properties
    (`AllowedOAuthScopes`) or the e2e suite's `Client` (`.scopes`)."""
    if hasattr(client, "scopes"):
        return tuple(client.scopes)
    return tuple(client.get("AllowedScopes", client.get("AllowedOAuthScopes", ())))


def machine_clients(outputs: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The outputs' clients that get tokens with their own secret (client_credentials), by name."""
    return {
        name: client
        for name, client in outputs["Clients"].items()
        if "client_credentials" in client["AllowedOAuthFlows"]
    }


def clients_by_scopes(clients: Mapping[str, Any]) -> list[str]:
    """The clients' names, the one allowing the fewest scopes first."""
    return sorted(clients, key=lambda name: len(scopes_of(clients[name])))


def widest_client(clients: Mapping[str, Any]) -> str:
    """The name of the client that allows the most scopes."""
    return clients_by_scopes(clients)[-1]


def narrowest_client(clients: Mapping[str, Any]) -> str:
    """The name of the client that allows the fewest scopes."""
    return clients_by_scopes(clients)[0]


def client_token(token_url: str, client_id: str, secret: str, scope: str | None = None) -> str:
    """A client_credentials access token from a cloud's token endpoint, the client authenticated with
    HTTP Basic (`scope` narrows it; without it, every scope the client is allowed)."""
    form = {"grant_type": "client_credentials", **({"scope": scope} if scope else {})}
    response = requests.post(token_url, data=form, auth=(client_id, secret), timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])
