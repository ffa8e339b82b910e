"""Schedules: EventBridge rules with a ScheduleExpression (SAM's `Schedule` event) and EventBridge
Scheduler schedules (SAM's `ScheduleV2`), fired on time while the cloud runs, or now on request.

A rule's target gets the scheduled event (docs/aws-behaviour.md §14.6): "detail-type" "Scheduled
Event", source "aws.events", the rule's ARN in `resources`, an empty `detail`, or the target's Input,
InputPath or InputTransformer; a Scheduler schedule's target gets its Input. Both invoke
asynchronously.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from botocore.exceptions import ClientError

from sam_local_cloud.aws_apis.lambda_deliveries import target_input
from sam_local_cloud.triggers.delivery import Deliveries
from sam_local_cloud.triggers.schedule_expressions import Expression


@dataclass(frozen=True)
class Schedule:
    logical_id: str
    name: str  # the rule's or the schedule's name
    arn: str
    expression_text: str
    expression: Expression
    targets: tuple[dict[str, Any], ...]  # each with Arn (a function of the template) and its input
    enabled: bool = True
    kind: str = "rule"  # "rule" (AWS::Events::Rule) or "scheduler" (AWS::Scheduler::Schedule)
    account: str = "123456789012"
    region: str = "us-east-1"
    bus: str = "default"  # a rule's event bus

    @property
    def label(self) -> str:
        what = "schedule" if self.kind == "scheduler" else "rule"
        return f"EventBridge {what} {self.name}"

    def events(self, when: datetime) -> list[tuple[str, Any]]:
        """(function ARN, event) for each target, at `when`."""
        if self.kind == "scheduler":
            return [(t["Arn"], _scheduler_input(t)) for t in self.targets]
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": "Scheduled Event",
            "source": "aws.events",
            "account": self.account,
            "time": when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "region": self.region,
            "resources": [self.arn],
            "detail": {},
        }
        return [
            (t["Arn"], target_input(t, event, {**event, "ingestion-time": when.timestamp()}))
            for t in self.targets
        ]


def enabled_in(events: Any) -> Callable[[Schedule], bool]:
    """Whether a schedule is enabled now: a rule's state as the Events API has it (`aws events
    disable-rule` stops it, as in AWS), else the template's."""

    def is_enabled(schedule: Schedule) -> bool:
        if schedule.kind != "rule":
            return schedule.enabled
        try:
            rule = events.describe_rule(Name=schedule.name, EventBusName=schedule.bus)
        except ClientError:  # not in the local Events API: the template's state
            return schedule.enabled
        return bool(rule.get("State") == "ENABLED")

    return is_enabled


def _scheduler_input(target: dict[str, Any]) -> Any:
    import json

    text = target.get("Input")
    if text is None:
        return {}  # a "default notification" is all AWS documents for a target without Input
    try:
        return json.loads(text)
    except ValueError:
        return text


@dataclass
class _Next:
    schedule: Schedule
    at: datetime | None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))


class Scheduler:
    """Fires each enabled schedule when its expression says, on one thread."""

    def __init__(
        self,
        schedules: list[Schedule],
        deliveries: Deliveries,
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        is_enabled: Callable[[Schedule], bool] = lambda schedule: schedule.enabled,
    ):
        self.schedules = {s.logical_id: s for s in schedules}
        self._deliveries = deliveries
        self._now = now
        self._is_enabled = is_enabled
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="schedules", daemon=True)
        started = now()
        self._next = [_Next(s, s.expression.next_after(started, started), started) for s in schedules]

    def start(self) -> None:
        if self._next:
            self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def next_fire(self, logical_id: str) -> datetime | None:
        return next((n.at for n in self._next if n.schedule.logical_id == logical_id), None)

    def find(self, name: str) -> Schedule | None:
        """A schedule by its logical id, or its rule's or schedule's name."""
        return self.schedules.get(name) or next((s for s in self.schedules.values() if s.name == name), None)

    def fire(self, schedule: Schedule, when: datetime | None = None) -> int:
        """The schedule's targets invoked (asynchronously) as at `when`; how many."""
        events = schedule.events(when or self._now())
        for function_arn, event in events:
            self._deliveries.invoke_async(function_arn, event, schedule.label)
        return len(events)

    def fire_due(self) -> int:
        """Every schedule whose time has come fired once, its next time set; how many fired."""
        now, fired = self._now(), 0
        for entry in self._next:
            if entry.at is None or entry.at > now:
                continue
            if self._is_enabled(entry.schedule):
                self.fire(entry.schedule, entry.at)
                fired += 1
            entry.at = entry.schedule.expression.next_after(now, entry.started)
        return fired

    def _loop(self) -> None:
        while not self._stopping.is_set():
            self.fire_due()
            upcoming = [n.at for n in self._next if n.at is not None]
            if not upcoming:
                return
            wait = (min(upcoming) - self._now()).total_seconds()
            self._stopping.wait(min(max(wait, 0.05), 1.0))
