"""Lambda functions as local execution environments: long-lived worker processes, as many as needed.

An execution environment is a process (sam_local_cloud/lambda_/worker.py), started with the function's
environment set before the handler is imported, so each one cold-starts once and keeps its own module cache,
as in Lambda. A call goes to an idle environment of its function; when all are busy, a new one cold-starts.
A call that waits for an environment is sent to it by the call that frees it, at once: waking the
waiting thread first would leave the environment idle while the cloud's process is busy with other
requests (docs/performance.md).

Two numbers bound a function (docs/aws-behaviour.md §7):
- its concurrency limit, where Lambda throttles: its ReservedConcurrentExecutions, or else the limit of
  a smaller account that `python -m sam_local_cloud --concurrency N` models; with neither, none (a standard
  account's 1,000 concurrent executions, which a laptop's load never reaches). A call beyond the limit
  is throttled: it gets no environment and its Invocation says so (`throttled`), as Lambda answers 429
  TooManyRequestsException; the gateway turns that into API Gateway's answer
  (sam_local_cloud/apigateway/errors.py, LambdaThrottled);
- the environments the laptop runs at once (LOCAL_ENVIRONMENTS, or fewer when the limit is lower): a
  call within the limit that finds them all busy waits for one to be free, where Lambda would have
  started another.
A call that outlives the function's Timeout kills its environment; the next call that needs one
cold-starts a new one.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import select
import subprocess
import sys
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_local_cloud import ids
from sam_local_cloud.lambda_.functions import FunctionConfig
from sam_local_cloud.lambda_.outcome import (
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
from sam_local_cloud.lambda_.worker import INITIALIZED_MARKER, LOG_MARKER

_WORKER_SCRIPT = Path(__file__).with_name("worker.py")
_END, _INITIALIZED = LOG_MARKER.encode(), INITIALIZED_MARKER.encode()


def _local_environments() -> int:
    """Execution environments the laptop runs at once per function: twice its cores, 2 to 10.

    Each is a process of some 65 MB that takes a quarter of a second of CPU to start, and the local
    cloud's handlers mostly wait on the local AWS APIs, in the cloud's own process on the same cores.
    Ten keep a laptop's cores busy; on a smaller machine more environments than about twice its cores
    only take turns, and each comes back to caches the others emptied: on 2 cores, 16 clients' GET
    cost 2.8-3.0 ms of CPU with 10 environments against 2.1 ms with 4 (docs/performance.md). Calls
    beyond them wait for one.
    """
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(2, min(10, 2 * cores))


LOCAL_ENVIRONMENTS = _local_environments()
INIT_TIMEOUT_SECONDS = 10  # Lambda's limit on an on-demand environment's init
_COLD_STARTS_AT_ONCE = max(2, os.cpu_count() or 2)
_READ_BYTES = 1024 * 1024


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


class _Request:
    """One call's request to its environment, written as JSON in the caller's thread before the call
    has an environment; only the deadline is added when it is sent (its clock starts then)."""

    __slots__ = ("_head", "request_id")

    def __init__(
        self, config: FunctionConfig, event: dict[str, Any], request_id: str | None, trace_id: str | None
    ):
        self.request_id = request_id or ids.uuid4()
        whole = json.dumps(
            {
                "event": event,
                "requestId": self.request_id,
                "invokedFunctionArn": config.arn,
                "traceId": trace_id or new_trace_id(),
            }
        )
        self._head = whole[:-1].encode()  # without its closing brace

    def line(self, deadline_ms: float) -> bytes:
        return self._head + b', "deadlineMs": %r}\n' % deadline_ms


class _Process:
    """One running worker. Its output (logs, then each reply: worker.py) is read by the thread running
    its call, never by a thread of its own: a warm call then crosses no thread (docs/performance.md),
    and calls to one environment come one at a time, so only one thread reads it at once."""

    def __init__(self, config: FunctionConfig, environment: dict[str, str]):
        self.popen = subprocess.Popen(  # noqa: S603 - our own worker script, no shell
            [sys.executable, str(_WORKER_SCRIPT), config.handler, str(config.code_dir)]
            + [str(path) for path in config.python_paths],
            cwd=config.code_dir,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,  # the worker writes everything on stderr
            stderr=subprocess.PIPE,
        )
        stdin, output = self.popen.stdin, self.popen.stderr
        assert stdin is not None
        assert output is not None
        self._stdin = stdin
        self._output_fd = output.fileno()
        self._poll = select.poll()
        self._poll.register(self._output_fd, select.POLLIN)
        self._open = True  # the output not yet at its end
        self._partial = b""
        # Each reply with the log lines written before it: None for the worker's first line (its logs
        # go with the first invocation) and for its end (reply None: the worker is gone).
        self._replies: deque[tuple[dict[str, Any] | None, list[str] | None]] = deque()
        self._logs: list[str] = []  # since the last reply
        self._reply_logs: list[str] | None = None  # the logs of the reply last taken
        self.initialized = False  # the handler is imported (or failed to be), or the worker is gone

    def wait_initialized(self, seconds: float) -> None:
        """Until the worker says its handler is imported (its first line), it exits, or `seconds` pass."""
        with contextlib.suppress(TimeoutError):
            self.reply(time.monotonic() + seconds)
            self.initialized = True

    def read(self, deadline: float) -> bool:
        """Read what the worker has written, waiting for it up to `deadline` (monotonic); False when
        nothing came in time (or the worker is gone and everything is read)."""
        if not self._open:
            return False
        timeout_ms = max(0, math.ceil((deadline - time.monotonic()) * 1000))
        if not self._poll.poll(timeout_ms):
            return False
        chunk = os.read(self._output_fd, _READ_BYTES)
        if chunk:
            self._take_lines(chunk)
        else:
            self._poll.unregister(self._output_fd)
            self._open = False
            if self._partial:
                self._logs.append(self._partial.decode("utf-8", errors="replace"))
            self._replies.append((None, None))  # its logs stay, for take_logs
        return True

    def _take_lines(self, chunk: bytes) -> None:
        *lines, self._partial = (self._partial + chunk).split(b"\n")
        for raw in lines:
            # A marker ends its own line; one the handler left unfinished (no newline) comes before it.
            logged, marker, rest = raw.partition(_END)
            if not marker:
                logged, marker, rest = raw.partition(_INITIALIZED)
                if marker:  # its logs (module-level code's) go with the first invocation, as in Lambda's
                    self._replies.append(({"initialized": True}, None))
            if logged or not marker:
                self._logs.append(logged.decode("utf-8", errors="replace"))
            if marker == _END:
                _request_id, _, reply = rest.partition(b" ")
                self._replies.append((json.loads(reply), self._logs))
                self._logs = []

    def send(self, line: bytes) -> None:
        self._stdin.write(line)
        self._stdin.flush()

    def reply(self, deadline: float) -> dict[str, Any] | None:
        """The worker's next reply; None when it is gone; TimeoutError when none came by `deadline`."""
        while not self._replies:
            if not self._open:
                return None
            if not self.read(deadline) and time.monotonic() >= deadline:
                raise TimeoutError
        reply, self._reply_logs = self._replies.popleft()
        return reply

    def take_logs(self, wait_seconds: float = 1.0) -> list[str]:
        """The log lines of the invocation whose reply was taken last: those written before it. With no
        reply (its environment killed at its timeout), those written until the worker's exit."""
        if self._reply_logs is not None:
            lines, self._reply_logs = self._reply_logs, None
            return lines
        deadline = time.monotonic() + wait_seconds
        while self._open and self.read(deadline):
            pass
        lines, self._logs = self._logs, []
        return lines

    @property
    def alive(self) -> bool:
        """Whether the worker may still take a call: its output has not ended and it has not been
        stopped. Known without a system call (asking the kernel, in `Popen.poll`, let go of the
        interpreter lock twice a request: docs/performance.md); a worker that exited while idle is
        found when a call cannot be sent to it, and the call then starts a new one."""
        return self._open and self.popen.returncode is None

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
        self.popen.wait()


class Environments:
    """One function's execution environments: idle ones are reused, busy ones counted up to
    `environments`; calls beyond `limit` (None: no limit) are throttled, the others wait for one."""

    def __init__(
        self,
        config: FunctionConfig,
        environment: dict[str, str],
        limit: int | None,
        cold_starts: threading.Semaphore | None = None,
        environments: int = LOCAL_ENVIRONMENTS,
    ):
        self.config = config
        self.environment = environment
        self.limit = limit
        self.environments = environments if limit is None else min(limit, environments)
        self._cold_starts = cold_starts or threading.Semaphore(_COLD_STARTS_AT_ONCE)
        self._idle: list[_Process] = []  # the most recently used last: it is the one reused
        self._all: set[_Process] = set()
        self._busy = 0  # calls holding an environment, including one still starting for them
        self._admitted = 0  # calls within the limit: holding an environment or waiting for one
        self._waiting: deque[_Waiter] = deque()  # calls waiting for one, first come first served
        self._stopped = False
        self._lock = threading.Lock()

    @property
    def count(self) -> int:
        """Environments busy or idle, not known to have ended (one that exited while idle is found, and
        dropped, when a call cannot be sent to it)."""
        with self._lock:
            return len(self._all)

    def request(
        self, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> _Request:
        return _Request(self.config, event, request_id, trace_id)

    def take(self, request: _Request) -> _Slot | None:
        """A place for the call, once one is free: the idle environment it runs on (None: one is to
        start), or the call already running there, sent by the call that freed it; or None: the call is
        beyond the limit (or the cloud is stopping). Unless it is running, `run` or `begin` must follow;
        `finish` frees it."""
        with self._lock:
            if self._stopped or (self.limit is not None and self._admitted >= self.limit):
                return None
            self._admitted += 1
            if self._busy < self.environments:
                self._busy += 1
                return _Slot(self._idle_process())
            waiter = _Waiter(request)
            self._waiting.append(waiter)
        return waiter.wait()

    def _idle_process(self) -> _Process | None:
        """The most recently used idle environment (None: none is left); under the lock."""
        while self._idle and not self._idle[-1].alive:  # one that died while idle is gone
            self._all.discard(self._idle.pop())
        return self._idle.pop() if self._idle else None

    def invoke(
        self, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        request = self.request(event, request_id, trace_id)
        slot = self.take(request)
        if slot is None:
            return self.throttled()
        return slot.running.finish() if slot.running else self.run(slot.process, request)

    def throttled(self) -> Invocation:
        return Invocation(function=self.config.logical_id, outcome=Throttled())

    def stop(self) -> None:
        with self._lock:
            processes, self._all, self._idle = list(self._all), set(), []
            self._stopped = True
            waiting, self._waiting = list(self._waiting), deque()
            self._admitted -= len(waiting)
        for waiter in waiting:  # no environment will be free again
            waiter.give(None)
        for process in processes:
            process.kill()

    def run(self, process: _Process | None, request: _Request) -> Invocation:
        """The whole call, in this thread: a cold start if it needs one, until its outcome and logs."""
        return self.begin(process, request).finish()

    def begin(self, process: _Process | None, request: _Request) -> _Running:
        """The call sent to its environment (started first if `process` is None, or if it has exited
        since its last call)."""
        if process is not None:
            running = self.begin_warm(process, request)
            if running is not None:
                return running
        try:
            return _Running(self, self._start(), request, cold=True)
        except BaseException:
            self.release(None)
            raise

    def begin_warm(self, process: _Process, request: _Request) -> _Running | None:
        """The call sent to a warm environment; None when it has exited since its last call: it is
        dropped, and the call, keeping its place, is to start a new one (`begin(None, ...)`), as Lambda
        replaces an environment that is gone."""
        running = _Running(self, process, request, cold=False)
        if running.sent:
            return running
        self._drop(process)
        return None

    def _drop(self, process: _Process) -> None:
        process.kill()
        with self._lock:
            self._all.discard(process)

    def release(self, process: _Process | None) -> None:
        """The call's place freed, and given to the first call waiting for one, if any: with this
        environment if it is still alive (the waiting call is sent to it here and now), else with
        another idle one or none (the waiting call starts one). Without a waiting call, the environment
        is kept for the next call if it is still alive."""
        with self._lock:
            self._admitted -= 1
            kept = process is not None and process.alive and process in self._all
            if process is not None and not kept:
                self._all.discard(process)  # stop() may have run meanwhile: then it is not kept
            if not self._waiting:
                self._busy -= 1
                if kept and process is not None:
                    self._idle.append(process)
                return
            waiter = self._waiting.popleft()  # the place passes to it: busy stays as it is
            given = process if kept else self._idle_process()
        running = None
        try:
            if given is not None:
                running = self.begin_warm(given, waiter.request)
        finally:  # the waiting call runs it, or starts an environment for itself
            waiter.give(_Slot(given if running else None, running))

    def _start(self) -> _Process:
        """A new environment, once its handler is imported or its init has run out of time.

        Cold starts take turns, one per core at a time: on a laptop, twenty environments importing
        at once would starve one another past Lambda's init limit, which in AWS they never share.
        """
        with self._cold_starts:
            process = _Process(self.config, self.environment)
            with self._lock:
                self._all.add(process)
            process.wait_initialized(INIT_TIMEOUT_SECONDS)
        return process


@dataclass(frozen=True)
class _Slot:
    process: _Process | None  # None: the call starts an environment of its own
    running: _Running | None = None  # the call, already sent to `process` by the call that freed it


class _Waiter:
    """A call waiting for an environment, until `give` hands it a place (None: none will come)."""

    __slots__ = ("_given", "_slot", "request")

    def __init__(self, request: _Request):
        self.request = request
        self._given = threading.Lock()
        self._given.acquire()  # held until given: the cheapest wait the threading module has
        self._slot: _Slot | None = None

    def give(self, slot: _Slot | None) -> None:
        self._slot = slot
        self._given.release()

    def wait(self) -> _Slot | None:
        self._given.acquire()
        return self._slot


class _Running:
    """One call, sent to its environment: `wait` for its end, then `finish` it exactly once."""

    def __init__(self, environments: Environments, process: _Process, request: _Request, cold: bool):
        self._environments = environments
        self._process = process
        self._request_id = request.request_id
        self._cold = cold
        self._timeout = environments.config.timeout_seconds
        self._started = time.perf_counter()
        self._deadline = time.monotonic() + self._timeout
        self._outcome: Outcome | None = None
        self._duration_ms = 0.0
        self.sent = False  # the request is with the worker (else it is gone, or its init failed)
        # Lambda limits init on its own (10 s) and starts the function's Timeout after it
        # (docs/aws-behaviour.md §7), so a slow cold start under load is not a timed-out invocation.
        if not process.initialized:
            process.kill()
            self._outcome = InitFailed(
                "TimeoutError", f"init did not finish within Lambda's {INIT_TIMEOUT_SECONDS} s"
            )
            return
        try:
            process.send(request.line(time.time() * 1000 + self._timeout * 1000))
        except OSError:  # the worker is gone (a broken pipe)
            self._outcome = EnvironmentExited()
        else:
            self.sent = True

    def wait(self, until: float) -> bool:
        """Whether the call has ended by `until` (monotonic): its reply came, or its Timeout ran out
        (which kills its environment). Its reply is read by the thread that waits."""
        if self._outcome is None:
            try:
                reply = self._process.reply(min(until, self._deadline))
            except TimeoutError:
                if time.monotonic() < self._deadline:
                    return False
                self._process.kill()
                self._outcome = TimedOut(self._timeout)
            except ValueError:  # not JSON: nothing more can be understood of this environment
                self._process.kill()
                self._outcome = EnvironmentExited()
            else:
                self._outcome = EnvironmentExited() if reply is None else outcome_of_reply(reply)
            self._duration_ms = (time.perf_counter() - self._started) * 1000
        return True

    def finish(self) -> Invocation:
        """Its Invocation, once it has ended (waiting as long as the function may run); its
        environment freed, or stopped when the outcome leaves it unusable."""
        process = self._process
        try:
            self.wait(self._deadline)
            outcome = self._outcome
            assert outcome is not None
            logs = process.take_logs()
            if not isinstance(outcome, Result | FunctionError | ResponseTooLarge) or not process.alive:
                process.kill()  # this environment is done: the next call that needs one starts anew
            return Invocation(
                function=self._environments.config.logical_id,
                outcome=outcome,
                logs=logs,
                duration_ms=self._duration_ms,
                cold_start=self._cold,
            )
        finally:
            self._environments.release(process)


class _RunByCaller(Future[Invocation]):
    """A call to a warm environment whose reply is read by the thread that waits for its result, so
    the call crosses no thread. If that thread stops waiting first (API Gateway's integration
    timeout), a thread of the runner's waits on for the function, which runs on as in Lambda."""

    def __init__(self, running: _Running, threads: ThreadPoolExecutor):
        super().__init__()
        self.set_running_or_notify_cancel()  # it is: the event has been sent
        self._running = running
        self._threads = threads
        self._claimed = threading.Lock()  # held by the one thread that reads the reply

    def result(self, timeout: float | None = None) -> Invocation:
        until = math.inf if timeout is None else time.monotonic() + timeout
        if self._claimed.acquire(blocking=False):
            if self._running.wait(until):
                self._finish()
            else:
                self._threads.submit(self._finish)
        return super().result(None if timeout is None else max(0.0, until - time.monotonic()))

    def _finish(self) -> None:
        try:
            self.set_result(self._running.finish())
        except BaseException as error:
            self.set_exception(error)


class Runner:
    """All functions of the template, each with its execution environments."""

    def __init__(
        self,
        configs: dict[str, FunctionConfig],
        *,
        region: str,
        endpoint_url: str | None,
        concurrency: int | None = None,
        environments: int = LOCAL_ENVIRONMENTS,
        local_environment: dict[str, str] | None = None,
    ):
        """`concurrency`: the limit of a function without ReservedConcurrentExecutions (None: none, as
        in a standard account); `environments`: how many the laptop runs at once per function;
        `local_environment`: what every execution environment gets besides Lambda's own variables, for
        the local cloud's sake (the user pool's public host: sam_local_cloud/cognito/public_host.py)."""
        self.configs = configs
        cold_starts = threading.Semaphore(_COLD_STARTS_AT_ONCE)  # shared by all the functions
        self.functions = {
            name: Environments(
                config,
                {**config.environment(region=region, endpoint_url=endpoint_url), **(local_environment or {})},
                limit=config.reserved_concurrency if config.reserved_concurrency is not None else concurrency,
                cold_starts=cold_starts,
                environments=environments,
            )
            for name, config in configs.items()
        }
        # Cold starts, and calls whose caller stopped waiting (API Gateway's integration timeout) while
        # the function runs on to its own timeout, as in Lambda, wait on threads of their own. A call
        # holds an environment for as long as it runs, so the environments bound the threads needed.
        most = sum(environments.environments for environments in self.functions.values())
        self._threads = ThreadPoolExecutor(max_workers=max(1, most), thread_name_prefix="invoke")

    def invoke(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Invocation:
        return self.functions[function].invoke(event, request_id, trace_id)

    def submit(
        self, function: str, event: dict[str, Any], request_id: str | None = None, trace_id: str | None = None
    ) -> Future[Invocation]:
        """The call, running once an environment is free (this waits for one); throttled at once (a done
        future) when the call is beyond the function's limit.

        A warm call's reply is read when its result is first asked for: ask for it (with a timeout).
        """
        environments = self.functions[function]
        request = environments.request(event, request_id, trace_id)
        slot = environments.take(request)
        if slot is None:
            throttled: Future[Invocation] = Future()
            throttled.set_result(environments.throttled())
            return throttled
        if slot.running is not None:  # sent to its environment by the call that freed it
            return _RunByCaller(slot.running, self._threads)
        running = None if slot.process is None else environments.begin_warm(slot.process, request)
        if running is None:  # a cold start, which takes turns with others: on a thread of its own
            return self._threads.submit(environments.run, None, request)
        return _RunByCaller(running, self._threads)

    def stop(self) -> None:
        for environments in self.functions.values():
            environments.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda and API Gateway pass it (not sampled: nothing is recorded)."""
    return f"Root=1-{int(time.time()):08x}-{ids.hex_digits(24)};Parent={ids.hex_digits(16)};Sampled=0"
