"""The template's event sources, running its functions with AWS's events and delivery rules.

Every trigger reaches a function through one seam, `Deliveries` (delivery.py): the Runner
(sam_local_cloud/lambda_/runner.py), called synchronously by the pollers of queues and streams, asynchronously
(Lambda's own queue, its retries) by everything that pushes. Which source does what:
- sqs.py: SQS event source mappings (batches, partial batch responses; the queue's visibility timeout
  and redrive are moto's);
- streams.py: DynamoDB stream and Kinesis event source mappings;
- SNS subscriptions, S3 notifications and EventBridge rules with a pattern: moto matches (filter policies,
  event names and key filters, event patterns) and sam_local_cloud/aws_apis/lambda_deliveries.py hands what it
  would give its own Lambda to `Deliveries.invoke_async`;
- schedules.py (with schedule_expressions.py): rules with a ScheduleExpression and EventBridge
  Scheduler schedules, fired on time, or now on request (`python -m sam_local_cloud.fire`).
`EventSources.build` reads them from the transformed template; `report()` is the start-up's list of
what is served and what is not reproduced, with the reason.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.wrappers import Request, Response

from sam_local_cloud.aws_apis import lambda_deliveries
from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable
from sam_local_cloud.cloudformation.template import Template
from sam_local_cloud.lambda_.runner import Runner
from sam_local_cloud.triggers.delivery import AsyncConfig, Deliveries
from sam_local_cloud.triggers.schedule_expressions import InvalidExpression, parse
from sam_local_cloud.triggers.schedules import Schedule, Scheduler, enabled_in
from sam_local_cloud.triggers.sqs import SqsMapping, SqsPoller
from sam_local_cloud.triggers.streams import StreamMapping, StreamPoller

# Resource types that run a function and that the local cloud does not reproduce, with the reason.
_NOT_REPRODUCED = {
    "AWS::Logs::SubscriptionFilter": "CloudWatch Logs subscription: the local cloud keeps no log groups",
    "AWS::IoT::TopicRule": "IoT rule: the local cloud serves no IoT broker",
    "AWS::Lambda::Url": "function URL: not served locally",
    "AWS::Pipes::Pipe": "EventBridge Pipes: not served locally",
}
_STOP_SECONDS = 3.0
SCHEDULES_PATH = "/_local/schedules"  # where `python -m sam_local_cloud.fire` asks the running cloud


@dataclass
class EventSources:
    deliveries: Deliveries
    pollers: list[SqsPoller | StreamPoller] = field(default_factory=list)
    scheduler: Scheduler | None = None
    served: list[str] = field(default_factory=list)  # one line per event source, for the banner
    not_reproduced: list[str] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        template: Template,
        resolver: Resolver,
        runner: Runner,
        aws: Callable[[str], Any],
        *,
        region: str,
        account: str,
        deliveries: Deliveries | None = None,
    ) -> EventSources:
        reader = _Reader(template, resolver, region, account)
        sources = cls(deliveries or Deliveries(runner, async_configs=reader.async_configs()))
        functions = sources.deliveries
        for name, resource in template.of_type("AWS::Lambda::EventSourceMapping").items():
            mapping = reader.mapping(name, resource.get("Properties", {}), functions, sources)
            if isinstance(mapping, SqsMapping):
                sources.pollers.append(SqsPoller(mapping, aws("sqs"), functions))
                sources.served.append(
                    f"SQS {mapping.queue_name} -> {mapping.function} (batch {mapping.batch_size})"
                )
            elif isinstance(mapping, StreamMapping):
                client = aws("kinesis" if mapping.kind == "kinesis" else "dynamodbstreams")
                sources.pollers.append(StreamPoller(mapping, client, functions))
                position, batch = mapping.starting_position, mapping.batch_size
                sources.served.append(f"{mapping.label} -> {mapping.function} ({position}, batch {batch})")
        reader.pushes(functions, sources)
        schedules = reader.schedules(functions, sources)
        if schedules:
            sources.scheduler = Scheduler(schedules, functions, is_enabled=enabled_in(aws("events")))
            for schedule in schedules:
                state = "" if schedule.enabled else " (DISABLED)"
                sources.served.append(f"{schedule.label} {schedule.expression_text}{state}")
        for resource_type, reason in _NOT_REPRODUCED.items():
            for name in template.of_type(resource_type):
                sources.not_reproduced.append(f"{name}: {reason}")
        return sources

    def start(self) -> None:
        lambda_deliveries.deliver_to(self.deliveries.invoke_async)
        for poller in self.pollers:
            poller.start()
        if self.scheduler:
            self.scheduler.start()

    def stop(self) -> None:
        lambda_deliveries.deliver_to(None)
        if self.scheduler:
            self.scheduler.stop()
        for poller in self.pollers:
            poller.stop()
        for poller in self.pollers:
            poller.join(_STOP_SECONDS)
        self.deliveries.stop()

    def report(self) -> list[str]:
        lines = [f"  {line}" for line in self.served]
        lines += [f"  NOT REPRODUCED: {line}" for line in self.not_reproduced]
        return lines

    def schedules_endpoint(self, request: Request) -> Response:
        """`GET /_local/schedules`: the schedules and when each fires next; `POST` with
        `{"schedule": NAME}` (a logical id, rule or schedule name): that one fired now."""
        if request.method == "GET":
            scheduler = self.scheduler
            listed = [
                {
                    "schedule": s.logical_id,
                    "name": s.name,
                    "expression": s.expression_text,
                    "enabled": s.enabled,
                    "next": (at := scheduler.next_fire(s.logical_id) if scheduler else None)
                    and at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                }
                for s in (scheduler.schedules.values() if scheduler is not None else [])
            ]
            return _json({"schedules": listed})
        if request.method != "POST":
            return _json({"message": "Method Not Allowed"}, 405)
        try:
            name = json.loads(request.get_data(as_text=True) or "null")["schedule"]
            if not isinstance(name, str):
                raise TypeError
        except (ValueError, TypeError, KeyError):
            return _json({"message": 'expected a JSON body {"schedule": NAME}'}, 400)
        try:
            return _json(self.fire(name))
        except LookupError as error:
            return _json({"message": str(error)}, 404)

    def fire(self, name: str) -> dict[str, Any]:
        """A schedule fired now (the local cloud's `/_local/schedules` endpoint)."""
        schedule = self.scheduler.find(name) if self.scheduler else None
        if schedule is None or self.scheduler is None:
            known = sorted(self.scheduler.schedules) if self.scheduler else []
            raise LookupError(f"no schedule named {name!r}; the template's: {', '.join(known) or 'none'}")
        targets = self.scheduler.fire(schedule)
        return {"schedule": schedule.logical_id, "name": schedule.name, "targets": targets}


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


class _Reader:
    """The template's event sources, their intrinsics resolved to the local physical ids."""

    def __init__(self, template: Template, resolver: Resolver, region: str, account: str):
        self.template = template
        self.resolver = resolver
        self.region = region
        self.account = account

    def _resolved(self, name: str, props: dict[str, Any], sources: EventSources) -> dict[str, Any] | None:
        try:
            resolved = self.resolver.resolve(props)
        except Unresolvable as error:
            sources.not_reproduced.append(f"{name}: cannot be resolved locally: {error}")
            return None
        return resolved if isinstance(resolved, dict) else {}

    def async_configs(self) -> dict[str, AsyncConfig]:
        configs: dict[str, AsyncConfig] = {}
        for resource in self.template.of_type("AWS::Lambda::EventInvokeConfig").values():
            props = resource.get("Properties", {})
            function = props.get("FunctionName", {})
            logical_id = function.get("Ref") if isinstance(function, dict) else None
            if logical_id:
                configs[logical_id] = AsyncConfig(
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", 2)),
                    maximum_event_age_seconds=float(props.get("MaximumEventAgeInSeconds", 21600)),
                )
        return configs

    def mapping(
        self, name: str, raw: dict[str, Any], functions: Deliveries, sources: EventSources
    ) -> SqsMapping | StreamMapping | None:
        props = self._resolved(name, raw, sources)
        if props is None:
            return None
        source_arn = str(props.get("EventSourceArn") or "")
        function = functions.function_of(str(props.get("FunctionName", "")))
        service = source_arn.split(":")[2] if source_arn.count(":") >= 5 else ""
        if function is None:
            sources.not_reproduced.append(
                f"{name}: its function {props.get('FunctionName')!r} is not in the template"
            )
            return None
        if service not in ("sqs", "dynamodb", "kinesis"):
            kind = (
                "Kafka, MQ or DocumentDB"
                if not source_arn or service in ("kafka", "mq", "docdb")
                else service
            )
            sources.not_reproduced.append(f"{name}: a {kind} event source mapping is not served locally")
            return None
        if props.get("FilterCriteria"):
            sources.not_reproduced.append(
                f"{name}: FilterCriteria is not applied locally: every record reaches {function}"
            )
        if props.get("BisectBatchOnFunctionError") or props.get("DestinationConfig"):
            sources.not_reproduced.append(
                f"{name}: BisectBatchOnFunctionError and on-failure destinations are not reproduced"
            )
        enabled = props.get("Enabled", True) not in (False, "false", "False")
        report = "ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or [])
        if not enabled:
            sources.not_reproduced.append(f"{name}: disabled in the template (Enabled: false)")
            return None
        if service == "sqs":
            return SqsMapping(
                logical_id=name,
                function=function,
                queue_arn=source_arn,
                batch_size=int(props.get("BatchSize", 10)),
                batching_window_seconds=float(props.get("MaximumBatchingWindowInSeconds", 0)),
                report_batch_item_failures=report,
            )
        return StreamMapping(
            logical_id=name,
            function=function,
            stream_arn=source_arn,
            starting_position=str(props.get("StartingPosition", "LATEST")),
            batch_size=int(props.get("BatchSize", 100)),
            maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
            report_batch_item_failures=report,
        )

    def pushes(self, functions: Deliveries, sources: EventSources) -> None:
        """SNS subscriptions, S3 notifications and pattern rules: delivered from moto's own paths."""
        for name, resource in self.template.of_type("AWS::SNS::Subscription").items():
            props = self._resolved(name, resource.get("Properties", {}), sources)
            if props is None or props.get("Protocol") != "lambda":
                continue
            function = functions.function_of(str(props.get("Endpoint", "")))
            topic = str(props.get("TopicArn", "")).split(":")[-1]
            policy = " (filter policy)" if props.get("FilterPolicy") else ""
            sources.served.append(f"SNS {topic} -> {function or props.get('Endpoint')}{policy}")
        for name, resource in self.template.of_type("AWS::S3::Bucket").items():
            props = self._resolved(name, resource.get("Properties", {}), sources)
            notifications = (props or {}).get("NotificationConfiguration") or {}
            for configuration in notifications.get("LambdaConfigurations") or []:
                function = functions.function_of(str(configuration.get("Function", "")))
                rules = (configuration.get("Filter") or {}).get("S3Key", {}).get("Rules", [])
                keys = "".join(f" {r['Name'].lower()}={r['Value']!r}" for r in rules)
                bucket = self.resolver.refs.get(name, name)
                sources.served.append(f"S3 {bucket} {configuration.get('Event')}{keys} -> {function}")
        for name, resource in self.template.of_type("AWS::Events::Rule").items():
            props = self._resolved(name, resource.get("Properties", {}), sources)
            if props is None or "EventPattern" not in props:
                continue
            for target in props.get("Targets") or []:
                function = functions.function_of(str(target.get("Arn", "")))
                if function is not None:
                    bus, rule = props.get("EventBusName", "default"), self.resolver.refs.get(name, name)
                    sources.served.append(f"EventBridge rule {rule} on {bus} -> {function} (PutEvents)")

    def schedules(self, functions: Deliveries, sources: EventSources) -> list[Schedule]:
        found = []
        for kind, resource_type in (("rule", "AWS::Events::Rule"), ("scheduler", "AWS::Scheduler::Schedule")):
            for name, resource in self.template.of_type(resource_type).items():
                props = self._resolved(name, resource.get("Properties", {}), sources)
                if props is None or "ScheduleExpression" not in props:
                    continue
                every = props.get("Targets") or ([props["Target"]] if "Target" in props else [])
                targets = [t for t in every if functions.function_of(str(t.get("Arn", "")))]
                if len(targets) < len(every):
                    sources.not_reproduced.append(
                        f"{name}: on schedule, only targets that are functions of the template are invoked"
                    )
                if not targets:
                    continue
                text = str(props["ScheduleExpression"])
                try:
                    expression = parse(text, props.get("ScheduleExpressionTimezone"))
                except InvalidExpression as error:
                    sources.not_reproduced.append(f"{name}: {error}")
                    continue
                rule_name = str(self.resolver.refs.get(name, name))
                bus = str(props.get("EventBusName", "default"))
                if kind == "rule":
                    path = rule_name if bus == "default" else f"{bus}/{rule_name}"
                    arn = self.resolver.attributes.get(
                        (name, "Arn"), f"arn:aws:events:{self.region}:{self.account}:rule/{path}"
                    )
                else:
                    rule_name = str(props.get("Name") or rule_name)
                    group = props.get("GroupName", "default")
                    arn = f"arn:aws:scheduler:{self.region}:{self.account}:schedule/{group}/{rule_name}"
                found.append(
                    Schedule(
                        logical_id=name,
                        name=rule_name,
                        arn=arn,
                        expression_text=text,
                        expression=expression,
                        targets=tuple(_target(t) for t in targets),
                        enabled=props.get("State", "ENABLED") == "ENABLED",
                        kind=kind,
                        bus=bus.rsplit("/", 1)[-1],  # a name, or an ARN
                        account=self.account,
                        region=self.region,
                    )
                )
        return found


def _target(target: dict[str, Any]) -> dict[str, Any]:
    """A target as the Events API holds it: Input as JSON text (CloudFormation takes either)."""
    target = dict(target)
    if "Input" in target and not isinstance(target["Input"], str):
        target["Input"] = json.dumps(target["Input"])
    return target
