"""Lambda functions as long-lived local worker processes.

Each function gets its own process (local/worker.py), started on its first call with the function's
environment set before the handler is imported, so every function cold-starts once and keeps its own
module cache, as a Lambda execution environment does. Calls to one function are served one at a
time by its worker (Lambda would start more environments; locally they queue). A call that outlives
the function's Timeout kills the worker; the next call cold-starts a new one.
"""

from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local.functions import FunctionConfig
from local.worker import LOG_MARKER

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")


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

    def __init__(self, config: FunctionConfig, environment: dict[str, str]):
        self.popen = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
            [sys.executable, str(_WORKER_SCRIPT), config.handler, str(config.code_dir)],
            cwd=config.code_dir,
            env=environment,
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

    def __init__(self, config: FunctionConfig, environment: dict[str, str]):
        self.config = config
        self.environment = environment
        self._process: _Process | None = None
        self._lock = threading.Lock()

    def invoke(
        self, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        with self._lock:
            cold = self._process is None or not self._process.alive
            if cold:
                self._process = _Process(self.config, self.environment)
            process = self._process
            assert process is not None
            started = time.perf_counter()
            reply = self._call(process, event, request_id, trace_id or new_trace_id())
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

    def _call(
        self, process: _Process, event: dict[str, Any], request_id: str, trace_id: str
    ) -> dict[str, Any] | None:
        timeout = self.config.timeout_seconds
        try:
            process.send(
                {
                    "event": event,
                    "requestId": request_id,
                    "invokedFunctionArn": self.config.arn,
                    "deadlineMs": time.time() * 1000 + timeout * 1000,
                    "traceId": trace_id,
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

    def __init__(self, configs: dict[str, FunctionConfig], *, region: str, endpoint_url: str | None):
        self.configs = configs
        self.workers = {
            name: Worker(config, config.environment(region=region, endpoint_url=endpoint_url))
            for name, config in configs.items()
        }
        # Invocations run on their own threads, so a caller can stop waiting (API Gateway's integration
        # timeout) while the function runs on to its own timeout, as in Lambda.
        self._threads = ThreadPoolExecutor(thread_name_prefix="invoke")

    def invoke(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        return self.workers[function].invoke(event, request_id, trace_id)

    def submit(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Future[Invocation]:
        return self._threads.submit(self.invoke, function, event, request_id, trace_id)

    def stop(self) -> None:
        for worker in self.workers.values():
            worker.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda and API Gateway pass it (not sampled: nothing is recorded)."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
