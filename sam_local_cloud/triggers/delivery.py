"""The one way an event source runs a function: the Runner, as Lambda's two kinds of invocation.

- Synchronous (`invoke`): the pollers of SQS queues and streams wait for the outcome and act on it
  (delete, retry, redrive), as Lambda's event source mappings do.
- Asynchronous (`invoke_async`): SNS, S3, EventBridge and schedules hand the event over and are done,
  as with `InvocationType=Event`. Lambda keeps the event in its own queue: a function error or
  timeout is retried twice (after 1 and 2 minutes), a throttled call is retried with a back-off up to
  the event's maximum age (6 hours), and the function's EventInvokeConfig may lower both
  (docs/aws-behaviour.md §14.1).
Every invocation prints one line in the console, with the function's logs; a failure says what failed
and what happens next.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from sam_local_cloud import console
from sam_local_cloud.lambda_.outcome import Result, Throttled
from sam_local_cloud.lambda_.runner import Invocation, Runner

RETRY_DELAYS_SECONDS = (60.0, 120.0)  # Lambda's two retries of a failed asynchronous invocation
MAX_EVENT_AGE_SECONDS = 6 * 3600.0
THROTTLE_BACKOFF_SECONDS = (1.0, 300.0)  # from 1 s, doubling, to at most 5 minutes
_ASYNC_THREADS = 8  # asynchronous invocations running at once; more wait in the queue, as in Lambda


@dataclass(frozen=True)
class AsyncConfig:
    """A function's AWS::Lambda::EventInvokeConfig (Lambda's defaults without one)."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: float = MAX_EVENT_AGE_SECONDS


@dataclass
class _Queued:
    function: str
    event: Any
    source: str
    received: float  # monotonic
    request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    attempt: int = 1  # the attempt about to run
    throttles: int = 0


class Deliveries:
    """The Runner, as the event sources call it."""

    def __init__(
        self,
        runner: Runner,
        *,
        async_configs: dict[str, AsyncConfig] | None = None,
        retry_delays: tuple[float, ...] = RETRY_DELAYS_SECONDS,
        throttle_backoff: tuple[float, float] = THROTTLE_BACKOFF_SECONDS,
        say: Callable[..., None] = console.say,
    ):
        self.runner = runner
        self._async_configs = async_configs or {}
        self._retry_delays = retry_delays
        self._throttle_backoff = throttle_backoff
        self.say = say  # the console: one line per invocation, failures with what happens next
        self._poll_failures: dict[str, str | None] = {}  # source -> the failure last said
        self._functions: dict[str, str] = {}  # ARN or name -> logical id
        for logical_id, config in runner.configs.items():
            self._functions[config.arn] = self._functions[config.name] = logical_id
        self._queue: list[tuple[float, int, _Queued]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._stopped = False
        self._threads = ThreadPoolExecutor(max_workers=_ASYNC_THREADS, thread_name_prefix="async-invoke")
        self._free = threading.Semaphore(_ASYNC_THREADS)
        self._dispatcher = threading.Thread(target=self._dispatch, name="async-invocations", daemon=True)
        self._dispatcher.start()

    def function_of(self, arn_or_name: str) -> str | None:
        """The logical id of the function an ARN (with or without a qualifier) or a name points to."""
        if arn_or_name in self._functions:
            return self._functions[arn_or_name]
        parts = arn_or_name.split(":")
        if len(parts) == 8 and parts[5] == "function":  # qualified: ...:function:NAME:ALIAS
            return self._functions.get(":".join(parts[:7]))
        return None

    def polled(self, source: str, error: Exception | None = None) -> None:
        """A poller's last poll: a failure is said once (until it changes), and so is the recovery,
        so that a deleted queue does not fill the console with one line a second."""
        said = self._poll_failures.get(source)
        now = None if error is None else f"{source}: poll failed: {error}"
        if now != said:
            self.say(now or f"{source}: polling again")
            self._poll_failures[source] = now

    # ------------------------------------------------------------ synchronous

    def invoke(self, function: str, event: Any, source: str) -> Invocation:
        """One call, waited for; its line in the console."""
        invocation = self.runner.invoke(function, event)
        self._report(source, invocation)
        return invocation

    # ------------------------------------------------------------ asynchronous

    def invoke_async(self, function_arn: str, event: Any, source: str) -> None:
        """Queued for the function (`function_arn`: its ARN or name), as Lambda's Event invocation."""
        function = self.function_of(function_arn)
        if function is None:
            self.say(f"{source} -> {function_arn}: not delivered: no function of the template has that ARN")
            return
        self._enqueue(0.0, _Queued(function, event, source, time.monotonic()))

    def pending(self) -> int:
        """Asynchronous events waiting (for a retry, or for a free thread)."""
        with self._changed:
            return len(self._queue)

    def stop(self) -> None:
        with self._changed:
            self._stopped = True
            dropped, self._queue = len(self._queue), []
            self._changed.notify_all()
        if dropped:
            self.say(f"stopping: {dropped} asynchronous invocation(s) not delivered")
        self._threads.shutdown(wait=False, cancel_futures=True)

    def _enqueue(self, delay: float, queued: _Queued) -> None:
        with self._changed:
            if self._stopped:
                return
            heapq.heappush(self._queue, (time.monotonic() + delay, next(self._order), queued))
            self._changed.notify_all()

    def _dispatch(self) -> None:
        while True:
            with self._changed:
                while not self._stopped and (not self._queue or self._queue[0][0] > time.monotonic()):
                    self._changed.wait(self._queue[0][0] - time.monotonic() if self._queue else None)
                if self._stopped:
                    return
                _, _, queued = heapq.heappop(self._queue)
            self._free.acquire()
            try:
                self._threads.submit(self._run, queued)
            except RuntimeError:  # shut down meanwhile
                return

    def _run(self, queued: _Queued) -> None:
        try:
            self._attempt(queued)
        finally:
            self._free.release()

    def _attempt(self, queued: _Queued) -> None:
        config = self._async_configs.get(queued.function, AsyncConfig())
        invocation = self.runner.invoke(queued.function, queued.event, queued.request_id)
        outcome = invocation.outcome
        age = time.monotonic() - queued.received
        if isinstance(outcome, Result):
            self._report(queued.source, invocation, attempt=queued.attempt)
            return
        if isinstance(outcome, Throttled):
            low, high = self._throttle_backoff
            delay = min(high, low * 2**queued.throttles)
            if age + delay > config.maximum_event_age_seconds:
                self._report(queued.source, invocation, note="dropped: past the event's maximum age")
                return
            queued.throttles += 1
            self._report(queued.source, invocation, note=f"throttled: retried in {delay:g} s")
            self._enqueue(delay, queued)
            return
        retries_left = config.maximum_retry_attempts - (queued.attempt - 1)
        if retries_left <= 0 or queued.attempt - 1 >= len(self._retry_delays):
            self._report(queued.source, invocation, attempt=queued.attempt, note="no retries left: dropped")
            return
        delay = self._retry_delays[queued.attempt - 1]
        if age + delay > config.maximum_event_age_seconds:
            self._report(queued.source, invocation, note="dropped: past the event's maximum age")
            return
        self._report(queued.source, invocation, attempt=queued.attempt, note=f"retried in {delay:g} s")
        queued.attempt += 1
        self._enqueue(delay, queued)

    # ------------------------------------------------------------ the console

    def _report(self, source: str, invocation: Invocation, attempt: int = 1, note: str = "") -> None:
        outcome = invocation.outcome
        cold = " (cold start)" if invocation.cold_start else ""
        tried = f" (attempt {attempt})" if attempt > 1 else ""
        if isinstance(outcome, Result):
            line = f"{source} -> {invocation.function} {invocation.duration_ms:.1f} ms{cold}{tried}"
        else:
            line = f"{source} -> {invocation.function} FAILED {outcome.describe()}{cold}{tried}"
        self.say(line + (f"; {note}" if note else ""), *invocation.logs)
