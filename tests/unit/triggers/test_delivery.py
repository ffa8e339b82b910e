"""sam_local_cloud/triggers/delivery.py: asynchronous invocations as Lambda makes them: two retries of a
failed event, throttles retried until the event's maximum age, EventInvokeConfig obeyed, every failure in the
console (docs/aws-behaviour.md §14.1). Lambda's delays (1 and 2 minutes) are shortened here."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sam_local_cloud.lambda_.runner import Runner
from sam_local_cloud.triggers.delivery import AsyncConfig, Deliveries
from tests.unit.triggers.support import FUNCTION, FUNCTION_ARN, Console, recorded, recorder_runner, wait_for

FAST = (0.1, 0.2)


def deliveries_for(runner: Runner, console: Console, **settings: object) -> Deliveries:
    return Deliveries(runner, retry_delays=FAST, say=console, **settings)  # type: ignore[arg-type]


def test_an_event_is_delivered_once_when_the_function_succeeds(tmp_path: Path) -> None:
    record_to, console = tmp_path / "events.jsonl", Console()
    runner = recorder_runner(record_to)
    deliveries = deliveries_for(runner, console)
    try:
        deliveries.invoke_async(FUNCTION_ARN, {"n": 1}, "test source")
        wait_for(lambda: "test source -> RecorderFunction" in console.text(), what="the delivery")
    finally:
        deliveries.stop()
        runner.stop()
    assert [call["event"] for call in recorded(record_to)] == [{"n": 1}]
    assert "FAILED" not in console.text()


def test_a_failing_event_is_tried_three_times_with_one_request_id(tmp_path: Path) -> None:
    record_to, console = tmp_path / "events.jsonl", Console()
    runner = recorder_runner(record_to, FAIL="always")
    deliveries = deliveries_for(runner, console)
    try:
        deliveries.invoke_async(FUNCTION_ARN, {"n": 1}, "test source")
        wait_for(lambda: "no retries left" in console.text(), what="the last retry")
    finally:
        deliveries.stop()
        runner.stop()
    calls = recorded(record_to)
    assert len(calls) == 3
    assert len({call["requestId"] for call in calls}) == 1
    text = console.text()
    assert "test source -> RecorderFunction FAILED RuntimeError: told to fail (FAIL=always)" in text
    assert "retried in 0.1 s" in text
    assert "(attempt 2); retried in 0.2 s" in text
    assert "(attempt 3); no retries left: dropped" in text


def test_a_retry_that_succeeds_ends_the_retries(tmp_path: Path) -> None:
    record_to, console = tmp_path / "events.jsonl", Console()
    runner = recorder_runner(record_to)
    deliveries = deliveries_for(runner, console)
    try:
        deliveries.invoke_async(FUNCTION_ARN, {"note": "fail-once"}, "test source")
        wait_for(lambda: "(attempt 2)" in console.text(), what="the retry")
    finally:
        deliveries.stop()
        runner.stop()
    assert len(recorded(record_to)) == 2
    assert "FAILED" in console.lines[0]
    assert "FAILED" not in console.lines[-1]


def test_event_invoke_config_can_turn_retries_off(tmp_path: Path) -> None:
    record_to, console = tmp_path / "events.jsonl", Console()
    runner = recorder_runner(record_to, FAIL="always")
    config = AsyncConfig(maximum_retry_attempts=0)
    deliveries = deliveries_for(runner, console, async_configs={FUNCTION: config})
    try:
        deliveries.invoke_async(FUNCTION_ARN, {}, "test source")
        wait_for(lambda: "no retries left" in console.text(), what="the failure")
    finally:
        deliveries.stop()
        runner.stop()
    assert len(recorded(record_to)) == 1


def test_a_throttled_event_waits_and_is_dropped_past_its_maximum_age(tmp_path: Path) -> None:
    record_to, console = tmp_path / "events.jsonl", Console()
    runner = recorder_runner(record_to)
    runner.functions[FUNCTION].limit = 0  # no environment may run: every call is throttled
    config = AsyncConfig(maximum_event_age_seconds=0.5)
    deliveries = deliveries_for(
        runner, console, async_configs={FUNCTION: config}, throttle_backoff=(0.05, 0.1)
    )
    try:
        deliveries.invoke_async(FUNCTION_ARN, {}, "test source")
        wait_for(lambda: "maximum age" in console.text(), what="the drop")
    finally:
        deliveries.stop()
        runner.stop()
    text = console.text()
    assert "FAILED TooManyRequestsException: Rate Exceeded.; throttled: retried in 0.05 s" in text
    assert "throttled: retried in 0.1 s" in text
    assert recorded(record_to) == []


def test_an_unknown_function_is_named_in_the_console(tmp_path: Path) -> None:
    console = Console()
    runner = recorder_runner(tmp_path / "events.jsonl")
    deliveries = deliveries_for(runner, console)
    try:
        deliveries.invoke_async("arn:aws:lambda:us-east-1:123456789012:function:elsewhere", {}, "SNS orders")
    finally:
        deliveries.stop()
        runner.stop()
    assert console.lines == [
        "SNS orders -> arn:aws:lambda:us-east-1:123456789012:function:elsewhere: not delivered: "
        "no function of the template has that ARN"
    ]


def test_functions_are_found_by_arn_qualified_arn_or_name(tmp_path: Path) -> None:
    runner = recorder_runner(tmp_path / "events.jsonl")
    deliveries = Deliveries(runner)
    try:
        config = runner.configs[FUNCTION]
        assert deliveries.function_of(config.arn) == FUNCTION
        assert deliveries.function_of(config.arn + ":live") == FUNCTION
        assert deliveries.function_of(config.name) == FUNCTION
        assert deliveries.function_of(dataclasses.replace(config, name="other").name) is None
    finally:
        deliveries.stop()
        runner.stop()
