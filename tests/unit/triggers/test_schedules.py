"""sam_local_cloud/triggers/schedule_expressions.py and schedules.py: rate(), cron() and at() fire when AWS's
rules say, and a rule's target gets the scheduled event (docs/aws-behaviour.md §14.6)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from sam_local_cloud.triggers.schedule_expressions import Cron, InvalidExpression, Rate, parse
from sam_local_cloud.triggers.schedules import Schedule, Scheduler, enabled_in

START = datetime(2026, 3, 4, 10, 7, 30, tzinfo=UTC)  # a Wednesday


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "after", "expected"),
    [
        ("cron(0 12 * * ? *)", "2026-03-04T10:07:30", "2026-03-04T12:00:00"),
        ("cron(0 12 * * ? *)", "2026-03-04T12:00:00", "2026-03-05T12:00:00"),  # strictly after
        ("cron(0/15 * * * ? *)", "2026-03-04T10:07:30", "2026-03-04T10:15:00"),
        ("cron(5,35 14 * * ? *)", "2026-03-04T14:10:00", "2026-03-04T14:35:00"),
        ("cron(0 18 ? * MON-FRI *)", "2026-03-06T19:00:00", "2026-03-09T18:00:00"),  # Fri -> Mon
        ("cron(0 9 ? * 1 *)", "2026-03-04T00:00:00", "2026-03-08T09:00:00"),  # 1 is Sunday
        ("cron(0 9 ? * SUN *)", "2026-03-04T00:00:00", "2026-03-08T09:00:00"),
        ("cron(0 8 1 * ? *)", "2026-03-04T00:00:00", "2026-04-01T08:00:00"),
        ("cron(0 0 L * ? *)", "2026-02-01T00:00:00", "2026-02-28T00:00:00"),
        ("cron(0 0 L * ? *)", "2028-02-01T00:00:00", "2028-02-29T00:00:00"),  # a leap year
        ("cron(0 10 ? * 6L *)", "2026-03-01T00:00:00", "2026-03-27T10:00:00"),  # last Friday
        ("cron(0 10 ? * 2#1 *)", "2026-03-04T00:00:00", "2026-04-06T10:00:00"),  # first Monday
        ("cron(0 9 1W * ? *)", "2026-02-03T00:00:00", "2026-03-02T09:00:00"),  # Sun 1 Mar -> Mon 2
        ("cron(0 9 15W * ? *)", "2026-03-01T00:00:00", "2026-03-16T09:00:00"),  # Sun 15 -> Mon 16
        ("cron(0 9 14W * ? *)", "2026-03-01T00:00:00", "2026-03-13T09:00:00"),  # Sat 14 -> Fri 13
        ("cron(15 10 * 1 ? 2027)", "2026-03-04T00:00:00", "2027-01-01T10:15:00"),
        ("cron(0 0 1 JAN,JUL ? *)", "2026-03-04T00:00:00", "2026-07-01T00:00:00"),
    ],
)
def test_cron_fires_at_the_next_time_it_names(expression: str, after: str, expected: str) -> None:
    assert parse(expression).next_after(at(after)) == at(expected)


def test_a_cron_in_the_past_never_fires() -> None:
    assert parse("cron(0 0 1 1 ? 2020)").next_after(START) is None


def test_a_schedule_runs_in_its_time_zone() -> None:
    expression = parse("cron(0 9 * * ? *)", "Europe/Paris")
    assert isinstance(expression, Cron)
    assert expression.next_after(at("2026-03-04T00:00:00")) == at("2026-03-04T08:00:00")  # CET
    assert expression.next_after(at("2026-07-04T00:00:00")) == at("2026-07-04T07:00:00")  # CEST


@pytest.mark.parametrize(
    ("expression", "seconds"),
    [("rate(1 minute)", 60), ("rate(5 minutes)", 300), ("rate(1 hour)", 3600), ("rate(2 days)", 172800)],
)
def test_rates_are_read(expression: str, seconds: int) -> None:
    assert parse(expression) == Rate(seconds)


def test_a_rate_fires_one_period_after_it_starts_then_every_period() -> None:
    rate = parse("rate(5 minutes)")
    assert rate.next_after(START, START) == START + timedelta(minutes=5)
    assert rate.next_after(START + timedelta(minutes=5), START) == START + timedelta(minutes=10)
    assert rate.next_after(START + timedelta(minutes=7), START) == START + timedelta(minutes=10)


def test_at_fires_once() -> None:
    once = parse("at(2026-03-04T12:00:00)")
    assert once.next_after(START, START) == at("2026-03-04T12:00:00")
    assert once.next_after(at("2026-03-04T12:00:00"), START) is None


@pytest.mark.parametrize(
    "expression",
    [
        "rate(1 minutes)",  # 1 takes the singular
        "rate(5 minute)",
        "rate(0 minutes)",
        "rate(5 seconds)",
        "cron(0 12 * * *)",  # five fields: Unix cron
        "cron(0 12 * * * *)",  # neither day field is ?
        "cron(0 12 ? * ? *)",  # both are
        "cron(60 12 * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 12 32 * ? *)",
        "cron(0 12 ? * 8 *)",
        "cron(0 12 * 13 ? *)",
        "every 5 minutes",
    ],
)
def test_invalid_expressions_are_refused(expression: str) -> None:
    with pytest.raises(InvalidExpression):
        parse(expression)


# ---------------------------------------------------------------- the scheduler


class Collected:
    """Stands where Deliveries stands: what would be invoked asynchronously."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str]] = []

    def invoke_async(self, function_arn: str, event: Any, source: str) -> None:
        self.calls.append((function_arn, event, source))


FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:nightly"
RULE_ARN = "arn:aws:events:us-east-1:123456789012:rule/product-api-Nightly-ABC"


def rule(expression: str, **target: Any) -> Schedule:
    return Schedule(
        logical_id="NightlyRule",
        name="product-api-Nightly-ABC",
        arn=RULE_ARN,
        expression_text=expression,
        expression=parse(expression),
        targets=({"Arn": FUNCTION_ARN, "Id": "t", **target},),
    )


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def test_a_schedule_fires_when_its_time_comes_with_the_scheduled_event() -> None:
    clock, collected = Clock(START), Collected()
    scheduler = Scheduler([rule("cron(0/15 * * * ? *)")], collected, now=clock)  # type: ignore[arg-type]

    assert scheduler.fire_due() == 0
    clock.now = at("2026-03-04T10:15:00")
    assert scheduler.fire_due() == 1
    assert scheduler.fire_due() == 0  # once per time
    assert scheduler.next_fire("NightlyRule") == at("2026-03-04T10:30:00")

    [(arn, event, source)] = collected.calls
    assert arn == FUNCTION_ARN
    assert source == "EventBridge rule product-api-Nightly-ABC"
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["resources"] == [RULE_ARN]
    assert event["detail"] == {}
    assert event["time"] == "2026-03-04T10:15:00Z"
    assert event["version"] == "0"
    assert event["id"]
    assert event["account"] == "123456789012"
    assert event["region"] == "us-east-1"


def test_a_disabled_schedule_does_not_fire() -> None:
    clock, collected = Clock(START), Collected()
    scheduler = Scheduler(
        [rule("rate(1 minute)")],
        collected,
        now=clock,
        is_enabled=lambda s: False,  # type: ignore[arg-type]
    )
    clock.now = START + timedelta(minutes=3)
    assert scheduler.fire_due() == 0
    assert collected.calls == []


def test_a_rules_target_input_replaces_the_event() -> None:
    collected = Collected()
    scheduler = Scheduler([rule("rate(1 hour)", Input='{"task": "cleanup"}')], collected)  # type: ignore[arg-type]
    schedule = scheduler.find("product-api-Nightly-ABC")
    assert schedule is not None
    assert scheduler.find("NightlyRule") is schedule

    assert scheduler.fire(schedule) == 1
    assert collected.calls[0][1] == {"task": "cleanup"}


def test_a_scheduler_schedule_gives_its_input() -> None:
    collected = Collected()
    schedule = Schedule(
        logical_id="Reminder",
        name="Reminder",
        arn="arn:aws:scheduler:us-east-1:123456789012:schedule/default/Reminder",
        expression_text="rate(5 minutes)",
        expression=parse("rate(5 minutes)"),
        targets=({"Arn": FUNCTION_ARN, "Input": '{"a": 1}'},),
        kind="scheduler",
    )
    Scheduler([schedule], collected).fire(schedule)  # type: ignore[arg-type]
    assert collected.calls == [(FUNCTION_ARN, {"a": 1}, "EventBridge schedule Reminder")]


def test_the_scheduler_thread_fires_on_time_and_stops() -> None:
    collected = Collected()
    clock = Clock(START)
    scheduler = Scheduler([rule("rate(1 minute)")], collected, now=clock)  # type: ignore[arg-type]
    scheduler.start()
    try:
        clock.now = START + timedelta(minutes=1)
        import time

        deadline = time.monotonic() + 3
        while not collected.calls and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        scheduler.stop()
        scheduler._thread.join(2)
    assert len(collected.calls) == 1
    assert not scheduler._thread.is_alive()


def test_a_rule_disabled_through_the_events_api_stops_firing() -> None:
    from tests.offline_aws import offline_aws

    with offline_aws("us-east-1"):
        events = boto3.client("events", region_name="us-east-1")
        events.put_rule(Name="product-api-Nightly-ABC", ScheduleExpression="rate(1 minute)")
        clock, collected = Clock(START), Collected()
        scheduler = Scheduler([rule("rate(1 minute)")], collected, now=clock, is_enabled=enabled_in(events))  # type: ignore[arg-type]

        clock.now = START + timedelta(minutes=1)
        assert scheduler.fire_due() == 1
        events.disable_rule(Name="product-api-Nightly-ABC")
        clock.now = START + timedelta(minutes=2)
        assert scheduler.fire_due() == 0
        events.enable_rule(Name="product-api-Nightly-ABC")
        clock.now = START + timedelta(minutes=3)
        assert scheduler.fire_due() == 1


def test_a_rule_the_events_api_does_not_know_keeps_the_templates_state() -> None:
    from tests.offline_aws import offline_aws

    with offline_aws("us-east-1"):
        events = boto3.client("events", region_name="us-east-1")
        assert enabled_in(events)(rule("rate(1 minute)")) is True
