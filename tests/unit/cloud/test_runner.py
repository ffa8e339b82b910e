"""sam_local_cloud/lambda_/runner.py: a function's execution environments scale as Lambda's do
(docs/aws-behaviour.md §7).

The function is tests/fixtures/functions/gate.py, run in real worker processes: each call notes its
pid in a file when it starts and waits until the test creates a release file, so a test holds as many
environments busy as it likes and nothing depends on timing.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from sam_local_cloud.lambda_.functions import FunctionConfig
from sam_local_cloud.lambda_.outcome import FunctionError, Throttled
from sam_local_cloud.lambda_.runner import Invocation, Runner
from tests.e2e.support import FIXTURES

FUNCTION = "GateFunction"


def config(reserved: int | None = None) -> FunctionConfig:
    return FunctionConfig(
        logical_id=FUNCTION,
        name="gate",
        arn="arn:aws:lambda:us-east-1:123456789012:function:gate",
        handler="gate.handler",
        code_dir=FIXTURES / "functions",
        runtime="python3.13",
        timeout_seconds=30,
        memory_mb=128,
        log_group="/aws/lambda/gate",
        reserved_concurrency=reserved,
        variables={},
    )


@pytest.fixture
def runner_for() -> Iterator:
    made: list[Runner] = []

    def make(reserved: int | None = None, concurrency: int | None = None, environments: int = 10) -> Runner:
        runner = Runner(
            {FUNCTION: config(reserved)},
            region="us-east-1",
            endpoint_url=None,
            concurrency=concurrency,
            environments=environments,
        )
        made.append(runner)
        return runner

    yield make
    for runner in made:
        runner.stop()


class Gate:
    """The files a gate call reads: where it notes that it started, and the release."""

    def __init__(self, directory: Path):
        self.started = directory / "started"
        self.release = directory / "release"
        self.started.touch()

    @property
    def event(self) -> dict[str, str]:
        return {"started": str(self.started), "release": str(self.release)}

    def wait_until_running(self, count: int) -> list[str]:
        deadline = time.monotonic() + 20
        while len(pids := self.started.read_text().split()) < count:
            assert time.monotonic() < deadline, f"{count} calls never ran at once: {pids}"
            time.sleep(0.01)
        return pids

    def open(self) -> None:
        self.release.touch()


def call_in_background(runner: Runner, gate: Gate, results: list[Invocation]) -> threading.Thread:
    thread = threading.Thread(target=lambda: results.append(runner.invoke(FUNCTION, gate.event)))
    thread.start()
    return thread


def test_concurrent_calls_each_get_an_environment_of_their_own(runner_for, tmp_path: Path) -> None:
    runner, gate, results = runner_for(), Gate(tmp_path), []
    threads = [call_in_background(runner, gate, results) for _ in range(4)]
    pids = gate.wait_until_running(4)  # four calls running at once: none waited for another
    gate.open()
    for thread in threads:
        thread.join()
    assert len(set(pids)) == 4
    assert all(r.error is None and r.cold_start for r in results)
    assert runner.functions[FUNCTION].count == 4


def test_an_idle_environment_is_reused_and_no_new_one_starts(runner_for, tmp_path: Path) -> None:
    runner, gate = runner_for(), Gate(tmp_path)
    gate.open()
    first, second, third = (runner.invoke(FUNCTION, gate.event) for _ in range(3))
    assert (first.cold_start, second.cold_start, third.cold_start) == (True, False, False)
    assert first.payload == second.payload == third.payload  # the same pid
    assert runner.functions[FUNCTION].count == 1


def test_beyond_reserved_concurrency_a_call_is_throttled_at_once(runner_for, tmp_path: Path) -> None:
    runner, gate, results = runner_for(reserved=2), Gate(tmp_path), []
    threads = [call_in_background(runner, gate, results) for _ in range(2)]
    gate.wait_until_running(2)
    throttled = runner.submit(FUNCTION, gate.event)
    assert throttled.done()  # not queued behind the busy ones
    invocation = throttled.result()
    assert (invocation.outcome, invocation.payload) == (Throttled(), None)
    assert invocation.error == "TooManyRequestsException: Rate Exceeded."
    gate.open()
    for thread in threads:
        thread.join()
    assert [r.throttled for r in results] == [False, False]
    assert runner.invoke(FUNCTION, gate.event).throttled is False  # free again once one is idle
    assert runner.functions[FUNCTION].count == 2


def test_without_reserved_concurrency_the_default_limit_applies(runner_for, tmp_path: Path) -> None:
    runner, gate, results = runner_for(concurrency=3), Gate(tmp_path), []
    threads = [call_in_background(runner, gate, results) for _ in range(3)]
    gate.wait_until_running(3)
    assert runner.invoke(FUNCTION, gate.event).throttled
    gate.open()
    for thread in threads:
        thread.join()
    assert runner.functions[FUNCTION].limit == 3


def test_without_a_limit_calls_beyond_the_local_environments_wait_for_one(runner_for, tmp_path: Path) -> None:
    """No ReservedConcurrentExecutions, no --concurrency: a standard account's calls are never throttled;
    beyond the environments the laptop runs at once, they wait for a free one."""
    runner, gate, results = runner_for(environments=2), Gate(tmp_path), []
    threads = [call_in_background(runner, gate, results) for _ in range(5)]
    pids = gate.wait_until_running(2)
    time.sleep(0.5)  # the other three would have started by now if they could
    assert len(gate.started.read_text().split()) == 2
    assert results == []  # waiting, not throttled
    gate.open()
    for thread in threads:
        thread.join()
    assert [r.error for r in results] == [None] * 5
    assert runner.functions[FUNCTION].count == 2
    assert set(gate.started.read_text().split()) == set(pids)  # the two environments served all five


def test_a_waiting_call_is_sent_to_its_environment_by_the_call_that_frees_it(
    runner_for, tmp_path: Path
) -> None:
    """The freed environment does not wait for the waiting call's thread to wake (docs/performance.md)."""
    runner, gate, results = runner_for(environments=1), Gate(tmp_path), []
    environments = runner.functions[FUNCTION]
    first = call_in_background(runner, gate, results)
    (pid,) = gate.wait_until_running(1)
    slots = []
    request = environments.request(gate.event)
    waiting = threading.Thread(target=lambda: slots.append(environments.take(request)))
    waiting.start()
    time.sleep(0.2)  # long enough to be waiting: it is not running
    assert slots == []
    assert gate.started.read_text().split() == [pid]
    gate.open()
    first.join()
    waiting.join(timeout=20)
    (slot,) = slots
    assert slot is not None
    assert slot.running is not None
    second = slot.running.finish()
    assert (second.error, second.cold_start, second.payload) == (None, False, results[0].payload)
    assert runner.invoke(FUNCTION, gate.event).payload == results[0].payload  # freed again: one environment


def test_a_waiting_call_whose_environment_died_starts_a_new_one(runner_for, tmp_path: Path) -> None:
    import os
    import signal

    runner, gate, results = runner_for(environments=1), Gate(tmp_path), []
    first = call_in_background(runner, gate, results)
    (pid,) = gate.wait_until_running(1)
    second = call_in_background(runner, gate, results)
    time.sleep(0.2)
    os.kill(int(pid), signal.SIGKILL)
    first.join(timeout=20)
    gate.open()
    second.join(timeout=20)
    died, served = results
    assert died.error is not None
    assert served.error is None
    assert served.cold_start
    assert json.loads(served.payload["body"])["pid"] != int(pid)
    assert runner.functions[FUNCTION].count == 1


def test_a_call_to_an_environment_that_exited_while_idle_starts_a_new_one(runner_for, tmp_path: Path) -> None:
    """Found when the call cannot be sent to it (its liveness is not asked of the kernel each call)."""
    import os
    import signal

    runner, gate = runner_for(), Gate(tmp_path)
    gate.open()
    first = runner.invoke(FUNCTION, gate.event)
    gone = json.loads(first.payload["body"])["pid"]
    os.kill(gone, signal.SIGKILL)
    time.sleep(0.2)  # gone, and not yet known to be
    for call in (runner.invoke, lambda *args: runner.submit(*args).result(timeout=20)):
        again = call(FUNCTION, gate.event)
        assert again.error is None
        pid = json.loads(again.payload["body"])["pid"]
        assert pid != gone
        os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)
    assert runner.functions[FUNCTION].count == 1  # the two found gone were dropped; the last is not yet found


def test_calls_waiting_when_the_cloud_stops_are_not_left_waiting(runner_for, tmp_path: Path) -> None:
    runner, gate, results = runner_for(environments=1), Gate(tmp_path), []
    first = call_in_background(runner, gate, results)
    gate.wait_until_running(1)
    waiting = [call_in_background(runner, gate, results) for _ in range(2)]
    time.sleep(0.2)
    runner.stop()
    for thread in [first, *waiting]:
        thread.join(timeout=20)
        assert not thread.is_alive()
    assert sorted(r.throttled for r in results) == [False, True, True]  # the waiting ones got none


def test_reserved_concurrency_of_zero_throttles_every_call(runner_for, tmp_path: Path) -> None:
    runner, gate = runner_for(reserved=0), Gate(tmp_path)
    gate.open()
    assert runner.invoke(FUNCTION, gate.event).throttled
    assert runner.functions[FUNCTION].count == 0


def test_a_handler_that_raises_timeout_error_is_a_function_error_not_a_timeout(runner_for) -> None:
    misbehave = dataclasses.replace(config(), logical_id="MisbehaveFunction", handler="misbehave.handler")
    runner = Runner({"MisbehaveFunction": misbehave}, region="us-east-1", endpoint_url=None)
    try:
        invocation = runner.invoke("MisbehaveFunction", {"pathParameters": {"how": "raise-timeout-error"}})
    finally:
        runner.stop()
    assert invocation.outcome == FunctionError("TimeoutError", "the upstream did not answer")
    assert invocation.error == "TimeoutError: the upstream did not answer"  # not "Task timed out ..."


def test_a_warm_call_is_read_by_the_thread_that_waits_for_it(
    runner_for, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner, gate = runner_for(), Gate(tmp_path)
    gate.open()
    assert runner.submit(FUNCTION, gate.event).result(timeout=20).cold_start  # on a thread of the pool
    handed_on: list[object] = []
    monkeypatch.setattr(runner._threads, "submit", lambda *call: handed_on.append(call))
    warm = [runner.submit(FUNCTION, gate.event).result(timeout=20) for _ in range(3)]
    assert [(w.error, w.cold_start) for w in warm] == [(None, False)] * 3
    assert handed_on == []


def test_a_caller_that_stops_waiting_leaves_the_call_running_to_its_end(runner_for, tmp_path: Path) -> None:
    runner, gate = runner_for(), Gate(tmp_path)
    gate.open()
    first = runner.invoke(FUNCTION, gate.event)
    gate.release.unlink()
    call = runner.submit(FUNCTION, gate.event)
    gate.wait_until_running(2)
    with pytest.raises(TimeoutError):
        call.result(timeout=0.2)  # as API Gateway stops at its integration timeout
    assert not call.done()
    ended: list[Invocation] = []
    call.add_done_callback(lambda done: ended.append(done.result()))
    gate.open()
    assert call.result(timeout=20).payload == first.payload  # the same environment answered
    assert ended == [call.result()]
    assert ended[0].error is None
    again = runner.invoke(FUNCTION, gate.event)
    assert (again.cold_start, again.payload) == (False, first.payload)  # and it is free again


def test_each_invocation_gets_its_own_logs_and_the_first_its_inits(runner_for) -> None:
    talk = dataclasses.replace(config(), logical_id="TalkFunction", handler="talk.handler", timeout_seconds=1)
    runner = Runner({"TalkFunction": talk}, region="us-east-1", endpoint_url=None)
    try:
        first = runner.invoke("TalkFunction", {"lines": ["one", "", "two"], "stderr": "to stderr"})
        second = runner.invoke("TalkFunction", {"unfinished": "no newline after this"})
        third = runner.invoke("TalkFunction", {"lines": ["three"]})
        timed_out = runner.invoke("TalkFunction", {"lines": ["before its timeout"], "seconds": 5})
    finally:
        runner.stop()
    assert first.logs == ["imported talk", "one", "", "two", "to stderr"]
    assert first.payload == {"said": 3}
    assert second.logs == ["no newline after this"]
    assert (third.logs, third.payload) == (["three"], {"said": 1})
    assert timed_out.error == "Task timed out after 1.00 seconds"
    assert timed_out.logs == ["before its timeout"]


def test_a_handler_that_replaces_or_closes_its_streams_does_not_lose_its_replies() -> None:
    talk = dataclasses.replace(
        config(), logical_id="TalkFunction", handler="talk.replaces_its_streams", timeout_seconds=3
    )
    runner = Runner({"TalkFunction": talk}, region="us-east-1", endpoint_url=None)
    try:
        first, second = (runner.invoke("TalkFunction", {}) for _ in range(2))
    finally:
        runner.stop()
    assert (first.error, first.payload) == (None, {"replaced": True})
    assert first.logs == ["imported talk", "before replacing them"]
    assert (second.error, second.payload, second.cold_start) == (None, {"replaced": True}, False)


def test_a_first_invocation_that_times_out_has_the_inits_logs_and_its_own() -> None:
    talk = dataclasses.replace(config(), logical_id="TalkFunction", handler="talk.handler", timeout_seconds=1)
    runner = Runner({"TalkFunction": talk}, region="us-east-1", endpoint_url=None)
    try:
        timed_out = runner.invoke("TalkFunction", {"lines": ["before its timeout"], "seconds": 5})
    finally:
        runner.stop()
    assert timed_out.error == "Task timed out after 1.00 seconds"
    assert timed_out.logs == ["imported talk", "before its timeout"]


@pytest.mark.parametrize(("cores", "environments"), [(1, 2), (2, 4), (3, 6), (5, 10), (16, 10)])
def test_a_function_runs_twice_the_cores_in_environments_at_once_up_to_ten(
    monkeypatch: pytest.MonkeyPatch, cores: int, environments: int
) -> None:
    """More environments than about twice the cores only take turns on them (docs/performance.md)."""
    import os

    from sam_local_cloud.lambda_ import runner

    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: set(range(cores)), raising=False)
    assert runner._local_environments() == environments
