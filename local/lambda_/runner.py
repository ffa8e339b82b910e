"""Lambda functions as local execution environments: long-lived worker processes, as many as needed.

An execution environment is a process (local/lambda_/worker.py), started with the function's environment set
before the handler is imported, so each one cold-starts once and keeps its own module cache, as in
Lambda. A call goes to an idle environment of its function; when all are busy, a new one cold-starts,
up to the function's concurrency limit: its ReservedConcurrentExecutions, or else the local default
(10, `python -m local --concurrency N`). A call beyond the limit is throttled: it gets no environment
and its Invocation says so (`throttled`), as Lambda answers 429 TooManyRequestsException; the gateway
turns that into API Gateway's answer (local/apigateway/errors.py, LambdaThrottled). A call that outlives
the function's Timeout kills its environment; the next call that needs one cold-starts a new one.
"""

from __future__ import annotations

import functools
import json
import os
import queue
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from local.lambda_.functions import FunctionConfig
from local.lambda_.outcome import (
    EnvironmentExited,
    FunctionError,
    InitFailed,
    Outcome,
    ResponseTooLarge,
    Result,
    Throttled,
    TimedOut,
    outcome_of_reply,
)
from local.lambda_.worker import LOG_MARKER

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")
# Execution environments a function without ReservedConcurrentExecutions may run at once. Lambda's
# default account quota is 1,000 (shared by all functions, lower for new accounts); each local
# environment is a process of some 50 MB that takes a quarter of a second of CPU to start.
DEFAULT_CONCURRENCY = 10
INIT_TIMEOUT_SECONDS = 10  # Lambda's limit on an on-demand environment's init
_COLD_STARTS_AT_ONCE = max(2, os.cpu_count() or 2)


@dataclass
class Invocation:
    function: str
    outcome: Outcome
    logs: list[str] = field(default_factory=list)
    duration_ms: float = 0.0
    cold_start: bool = False

    @property
    def payload(self) -> Any:
        """What the handler returned; None unless it returned."""
        return self.outcome.payload if isinstance(self.outcome, Result) else None

    @property
    def error(self) -> str | None:
        """How it failed, as Lambda's log says it; None when the handler returned."""
        return None if isinstance(self.outcome, Result) else self.outcome.describe()

    @property
    def throttled(self) -> bool:
        return isinstance(self.outcome, Throttled)


# One call on the environment reserved for it: (event, request id, trace id) -> its Invocation.
Call = Callable[[dict[str, Any], str | None, str | None], Invocation]


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
        self.initialized = threading.Event()  # the handler is imported (or failed to be)
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
            reply = json.loads(line)
            if reply.get("initialized"):
                self.initialized.set()
            else:
                self.replies.put(reply)
        self.initialized.set()
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


class Environments:
    """One function's execution environments: idle ones are reused, busy ones counted up to `limit`."""

    def __init__(
        self,
        config: FunctionConfig,
        environment: dict[str, str],
        limit: int,
        cold_starts: threading.Semaphore | None = None,
    ):
        self.config = config
        self.environment = environment
        self.limit = limit
        self._cold_starts = cold_starts or threading.Semaphore(_COLD_STARTS_AT_ONCE)
        self._idle: list[_Process] = []  # the most recently used last: it is the one reused
        self._all: set[_Process] = set()
        self._busy = 0  # calls holding an environment, including one still starting for them
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Environments now alive, busy or idle."""
        with self._lock:
            return len(self._all)

    def reserve(self) -> Call | None:
        """An environment for one call (an idle one, or a new one), or None: the call is throttled."""
        with self._lock:
            if self._busy >= self.limit:
                return None
            self._busy += 1
            while self._idle and not self._idle[-1].alive:  # one that died while idle is gone
                self._all.discard(self._idle.pop())
            process = self._idle.pop() if self._idle else None
        return functools.partial(self._run, process)

    def invoke(
        self, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        call = self.reserve()
        return call(event, request_id, trace_id) if call else self.throttled()

    def throttled(self) -> Invocation:
        return Invocation(function=self.config.logical_id, outcome=Throttled())

    def stop(self) -> None:
        with self._lock:
            processes, self._all, self._idle = list(self._all), set(), []
        for process in processes:
            process.kill()

    def _run(
        self,
        process: _Process | None,
        event: dict[str, Any],
        request_id: str | None = None,
        trace_id: str | None = None,
    ) -> Invocation:
        request_id = request_id or str(uuid.uuid4())
        cold = process is None
        try:
            if process is None:
                process = self._start()
            started = time.perf_counter()
            outcome = self._call(process, event, request_id, trace_id or new_trace_id())
            duration_ms = (time.perf_counter() - started) * 1000
            logs = process.take_logs(request_id)
            if not isinstance(outcome, Result | FunctionError | ResponseTooLarge) or not process.alive:
                process.kill()  # this environment is done: the next call that needs one starts anew
            return Invocation(
                function=self.config.logical_id,
                outcome=outcome,
                logs=logs,
                duration_ms=duration_ms,
                cold_start=cold,
            )
        finally:
            with self._lock:
                self._busy -= 1
                if process is not None and process.alive and process in self._all:
                    self._idle.append(process)  # stop() may have run meanwhile: then it is not kept
                elif process is not None:
                    self._all.discard(process)

    def _start(self) -> _Process:
        """A new environment, once its handler is imported or its init has run out of time.

        Cold starts take turns, one per core at a time: on a laptop, twenty environments importing
        at once would starve one another past Lambda's init limit, which in AWS they never share.
        """
        with self._cold_starts:
            process = _Process(self.config, self.environment)
            with self._lock:
                self._all.add(process)
            process.initialized.wait(INIT_TIMEOUT_SECONDS)
        return process

    def _call(self, process: _Process, event: dict[str, Any], request_id: str, trace_id: str) -> Outcome:
        timeout = self.config.timeout_seconds
        # Lambda limits init on its own (10 s) and starts the function's Timeout after it
        # (docs/aws-behaviour.md §7), so a slow cold start under load is not a timed-out invocation.
        if not process.initialized.is_set():
            process.kill()
            return InitFailed("TimeoutError", f"init did not finish within Lambda's {INIT_TIMEOUT_SECONDS} s")
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
            reply = process.replies.get(timeout=timeout)
        except queue.Empty:
            process.kill()
            return TimedOut(timeout)
        except (BrokenPipeError, OSError):
            return EnvironmentExited()
        return EnvironmentExited() if reply is None else outcome_of_reply(reply)


class Runner:
    """All functions of the template, each with its execution environments."""

    def __init__(
        self,
        configs: dict[str, FunctionConfig],
        *,
        region: str,
        endpoint_url: str | None,
        concurrency: int = DEFAULT_CONCURRENCY,
    ):
        self.configs = configs
        cold_starts = threading.Semaphore(_COLD_STARTS_AT_ONCE)  # shared by all the functions
        self.functions = {
            name: Environments(
                config,
                config.environment(region=region, endpoint_url=endpoint_url),
                limit=config.reserved_concurrency if config.reserved_concurrency is not None else concurrency,
                cold_starts=cold_starts,
            )
            for name, config in configs.items()
        }
        # Calls run on threads of their own, so a caller can stop waiting (API Gateway's integration
        # timeout) while the function runs on to its own timeout, as in Lambda. A call holds an
        # environment for as long as it runs, so the limits bound the threads needed.
        most = sum(environments.limit for environments in self.functions.values())
        self._threads = ThreadPoolExecutor(max_workers=max(1, most), thread_name_prefix="invoke")

    def invoke(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        return self.functions[function].invoke(event, request_id, trace_id)

    def submit(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Future[Invocation]:
        """The call, running; throttled at once (a done future) when the function has no environment."""
        environments = self.functions[function]
        call = environments.reserve()
        if call is None:
            throttled: Future[Invocation] = Future()
            throttled.set_result(environments.throttled())
            return throttled
        return self._threads.submit(call, event, request_id, trace_id)

    def stop(self) -> None:
        for environments in self.functions.values():
            environments.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda and API Gateway pass it (not sampled: nothing is recorded)."""
    return f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]};Parent={uuid.uuid4().hex[:16]};Sampled=0"
