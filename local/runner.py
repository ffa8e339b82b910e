"""Lambda functions as long-lived local worker processes.

Each function gets its own process (local/worker.py), started on its first call with the function's
environment set before the handler is imported, so every function cold-starts once and keeps its own
module cache, as a Lambda execution environment does. Calls to one function are served one at a
time by its worker (Lambda would start more environments; locally they queue). A call that outlives
the function's Timeout kills the worker; the next call cold-starts a new one.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local.worker import LOG_MARKER

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Inherited from the developer's environment: enough to run Python, nothing about AWS credentials.
_PASSED_THROUGH = ("PATH", "LANG", "PYTHONDONTWRITEBYTECODE", "SYSTEMROOT")


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    name: str
    arn: str
    handler: str
    code_dir: Path
    environment: dict[str, str]  # the template's variables, resolved, plus the runtime's own
    timeout_seconds: float
    memory_mb: int


@dataclass
class Invocation:
    function: str
    payload: Any = None
    error: str | None = None  # None when the handler returned a value
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    cold_start: bool = False


class _Process:
    """One running worker and the threads that read its two output pipes."""

    def __init__(self, config: FunctionConfig):
        self.popen = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
            [sys.executable, str(_WORKER_SCRIPT), config.handler, str(config.code_dir)],
            cwd=config.code_dir,
            env=config.environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.replies: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._logs: list[str] = []
        self._logs_lock = threading.Lock()
        self._log_end = threading.Condition(self._logs_lock)
        self._ended: set[str] = set()
        self._log_reader = threading.Thread(target=self._read_logs, daemon=True)
        self._log_reader.start()
        threading.Thread(target=self._read_replies, daemon=True).start()

    def _read_replies(self) -> None:
        assert self.popen.stdout is not None
        for line in self.popen.stdout:
            self.replies.put(json.loads(line))
        self.replies.put(None)  # the worker is gone

    def _read_logs(self) -> None:
        stream: IO[str] | None = self.popen.stderr
        assert stream is not None
        for line in stream:
            with self._log_end:
                if line.startswith(LOG_MARKER):
                    self._ended.add(line[len(LOG_MARKER) :].strip())
                    self._log_end.notify_all()
                else:
                    self._logs.append(line.rstrip("\n"))
        with self._log_end:
            self._log_end.notify_all()

    def send(self, request: dict[str, Any]) -> None:
        assert self.popen.stdin is not None
        self.popen.stdin.write(json.dumps(request) + "\n")
        self.popen.stdin.flush()

    def take_logs(self, request_id: str, wait_seconds: float = 1.0) -> list[str]:
        """This invocation's log lines: everything up to its end marker (or up to the worker's exit)."""
        with self._log_end:
            self._log_end.wait_for(
                lambda: request_id in self._ended or not self._log_reader.is_alive(), timeout=wait_seconds
            )
            self._ended.discard(request_id)
            lines, self._logs = self._logs, []
        return lines

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        if self.alive:
            self.popen.kill()
        self.popen.wait()


class Worker:
    """The execution environment of one function: at most one process at a time."""

    def __init__(self, config: FunctionConfig):
        self.config = config
        self._process: _Process | None = None
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any], request_id: str | None = None) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        with self._lock:
            cold = self._process is None or not self._process.alive
            if cold:
                self._process = _Process(self.config)
            process = self._process
            assert process is not None
            started = time.perf_counter()
            reply = self._call(process, event, request_id)
            duration_ms = (time.perf_counter() - started) * 1000
            logs = process.take_logs(request_id)
            if reply is None or reply.get("fatal") or not process.alive:
                process.kill()
                self._process = None  # the next call cold-starts
            return Invocation(
                function=self.config.logical_id,
                payload=reply.get("result") if reply else None,
                error=_error_text(reply, self.config.timeout_seconds),
                logs=logs,
                duration_ms=duration_ms,
                cold_start=cold,
            )

    def _call(self, process: _Process, event: dict[str, Any], request_id: str) -> dict[str, Any] | None:
        timeout = self.config.timeout_seconds
        try:
            process.send(
                {
                    "event": event,
                    "requestId": request_id,
                    "invokedFunctionArn": self.config.arn,
                    "deadlineMs": time.time() * 1000 + timeout * 1000,
                }
            )
            return process.replies.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            return {"ok": False, "errorType": "TimeoutError"}
        except (BrokenPipeError, OSError):
            return None

    def stop(self) -> None:
        with self._lock:
            if self._process is not None:
                self._process.kill()
                self._process = None


def _error_text(reply: dict[str, Any] | None, timeout: float) -> str | None:
    if reply is None:
        return "Runtime.ExitError: the worker process exited"
    if reply["ok"]:
        return None
    if reply["errorType"] == "TimeoutError":
        return f"Task timed out after {timeout:.2f} seconds"
    return f"{reply['errorType']}: {reply.get('errorMessage', '')}"


class Runner:
    """All functions of the template, each behind its own worker."""

    def __init__(self, configs: dict[str, FunctionConfig]):
        self.workers = {name: Worker(config) for name, config in configs.items()}

    def invoke(self, function: str, event: dict[str, Any], request_id: str | None = None) -> Invocation:
        return self.workers[function].invoke(event, request_id)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()


def runtime_environment(
    *, name: str, runtime: str, memory_mb: int, region: str, endpoint_url: str, code_dir: Path, handler: str
) -> dict[str, str]:
    """What the Lambda runtime adds to a function's own variables, pointed at the local cloud."""
    passed = {k: os.environ[k] for k in _PASSED_THROUGH if k in os.environ}
    return {
        **passed,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        # Dummy credentials: the local AWS endpoint accepts any, and real ones must never leak in.
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory_mb),
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_LOG_STREAM_NAME": f"local/[$LATEST]{uuid.uuid4().hex}",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_SAM_LOCAL": "true",  # as `sam local` sets it: Powertools Tracer stays off without X-Ray
        "LAMBDA_TASK_ROOT": str(code_dir),
        "_HANDLER": handler,
        "TZ": ":UTC",
        "PYTHONUNBUFFERED": "1",
    }
