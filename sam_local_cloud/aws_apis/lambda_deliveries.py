"""What moto delivers to a Lambda function, handed to the local cloud's functions instead.

moto 5.2.5 pushes three kinds of event to functions, each in its own way and none as AWS does:
- SNS (`Subscription.publish`, protocol `lambda`): after its filter policy matcher, a fixed sample
  event (message attributes, ids, subject all made up) to moto's own Lambda, which needs Docker;
- S3 (`s3.notifications._invoke_awslambda`): the notification's event (version 2.1, after moto's
  event-name and prefix/suffix matching) to moto's own Lambda, errors swallowed;
- EventBridge (`Rule.send_to_targets`): after its pattern matcher, a Lambda target raises
  NotImplementedError, so PutEvents fails.
Here the same matching (moto's filter policy matcher, notification rules and pattern matcher) stays
moto's; what reaches a Lambda target is handed to `deliver(function_arn, event, source)`: the local
cloud's functions (sam_local_cloud/triggers/). Everything else moto does with these (queues, topics, log
groups, other buses) is untouched. Written against moto 5.2.5 (sam_local_cloud/aws_apis/__init__.py).
"""

from __future__ import annotations

import copy
import json
import threading
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import quote_plus, unquote_plus

import moto.events.models
import moto.s3.notifications
import moto.sns.models
from moto.core.utils import iso_8601_datetime_with_milliseconds
from moto.events.utils import EventTemplateParser

# (function ARN, the event as the function receives it, where it came from) -> None
Deliver = Callable[[str, Any, str], None]

_deliver: Deliver | None = None
_lock = threading.Lock()
_MOTOS: dict[str, Any] = {}  # moto's own functions, as this module found them


def deliver_to(deliver: Deliver | None) -> None:
    """Lambda deliveries of SNS, S3 and EventBridge go to `deliver` (None: back to moto's own)."""
    global _deliver
    with _lock:
        if not _MOTOS:
            _MOTOS["sns_publish"] = moto.sns.models.Subscription.publish
            _MOTOS["s3_invoke"] = moto.s3.notifications._invoke_awslambda
            _MOTOS["send_to_targets"] = moto.events.models.Rule.send_to_targets
        _deliver = deliver
        hooked = deliver is not None
        moto.sns.models.Subscription.publish = _sns_publish if hooked else _MOTOS["sns_publish"]  # type: ignore[method-assign]
        moto.s3.notifications._invoke_awslambda = _s3_invoke if hooked else _MOTOS["s3_invoke"]
        moto.events.models.Rule.send_to_targets = (  # type: ignore[method-assign]
            _send_to_targets if hooked else _MOTOS["send_to_targets"]
        )


def _handed(function_arn: str, event: Any, source: str) -> None:
    deliver = _deliver
    if deliver is not None:
        deliver(function_arn, event, source)


# ---------------------------------------------------------------- SNS


def _sns_publish(
    self: Any,
    message: str,
    message_id: str,
    subject: str | None = None,
    message_attributes: dict[str, Any] | None = None,
    group_id: str | None = None,
    deduplication_id: str | None = None,
    message_structure: str | None = None,
) -> None:
    if self.protocol != "lambda":
        return _MOTOS["sns_publish"](
            self, message, message_id, subject, message_attributes, group_id, deduplication_id,
            message_structure,
        )  # fmt: skip
    # moto's matcher reads both attribute- and payload-based policies (FilterPolicyScope).
    if self._filter_policy_matcher is not None and not self._filter_policy_matcher.matches(
        message_attributes, message
    ):
        return None
    if message_structure == "json":
        message = self._parse_message_structure(message, self.protocol)
    _handed(
        self.endpoint,
        sns_event(self, message, message_id, subject, message_attributes),
        f"SNS {self.topic.name}",
    )
    return None


def sns_event(
    subscription: Any,
    message: str,
    message_id: str,
    subject: str | None,
    message_attributes: dict[str, Any] | None,
) -> dict[str, Any]:
    """The event SNS gives a function (docs/aws-behaviour.md §14.3)."""
    topic_arn = subscription.topic.arn
    region = topic_arn.split(":")[3]
    attributes = {
        name: {"Type": value["Type"], "Value": _attribute_text(value["Value"])}
        for name, value in (message_attributes or {}).items()
    }
    return {
        "Records": [
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": subscription.arn,
                "Sns": {
                    "Type": "Notification",
                    "MessageId": message_id,
                    "TopicArn": topic_arn,
                    "Subject": subject,
                    "Message": message,
                    "Timestamp": iso_8601_datetime_with_milliseconds(),
                    "SignatureVersion": "1",
                    "Signature": "EXAMPLE",  # nothing signs locally; SNS's own signature cannot be made
                    "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-local.pem",
                    "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                    f"&SubscriptionArn={subscription.arn}",
                    "MessageAttributes": attributes,
                },
            }
        ]
    }


def _attribute_text(value: Any) -> str:
    """A message attribute's value as SNS passes it on: text (moto keeps numbers as numbers)."""
    if isinstance(value, bytes):
        return value.decode("ascii", "replace")
    return value if isinstance(value, str) else json.dumps(value)


# ---------------------------------------------------------------- S3


def _s3_invoke(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
    """moto has matched the notification's event names and prefix/suffix; its event, completed."""
    record = event_body["Records"][0]
    bucket = record["s3"]["bucket"]
    bucket["ownerIdentity"] = {"principalId": account_id}
    record["userIdentity"] = {"principalId": f"AWS:{account_id}"}
    record["requestParameters"] = {"sourceIPAddress": "127.0.0.1"}
    record["responseElements"] = {
        "x-amz-request-id": uuid.uuid4().hex[:16].upper(),
        "x-amz-id-2": uuid.uuid4().hex,
    }
    s3_object = record["s3"]["object"]
    # URL-encoded as S3 encodes it: a space as `+`, the slashes of a key's "folders" kept (moto
    # encodes them as %2F).
    s3_object["key"] = quote_plus(unquote_plus(s3_object["key"]), safe="/")
    s3_object["sequencer"] = f"{uuid.uuid1().int >> 64:016X}"
    _handed(fn_arn, event_body, f"S3 {bucket['name']}")


# ---------------------------------------------------------------- EventBridge


def _send_to_targets(self: Any, original_event: Any, transform_input: bool = True) -> None:
    lambdas = [t for t in self.targets if _is_function(t.get("Arn", ""))]
    others = [t for t in self.targets if not _is_function(t.get("Arn", ""))]
    if others:
        rule = copy.copy(self)
        rule.targets = others
        _MOTOS["send_to_targets"](rule, original_event, transform_input)
    # A rule with a schedule and no pattern matches no event; a disabled one delivers nothing.
    if not lambdas or self.state != "ENABLED" or not self.event_pattern.get_pattern():
        return
    if not self.event_pattern.matches_event(original_event):
        return
    event = aws_event(original_event)
    for target in lambdas:
        _handed(target["Arn"], target_input(target, event, original_event), f"EventBridge rule {self.name}")


def aws_event(moto_event: Any) -> dict[str, Any]:
    """An event as EventBridge sends it to a target: moto keeps `time` as a number, and an
    `ingestion-time` targets never see."""
    event = {k: v for k, v in moto_event.items() if k != "ingestion-time"}
    if isinstance(event.get("time"), int | float):
        from datetime import UTC, datetime

        event["time"] = datetime.fromtimestamp(event["time"], UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return event


def target_input(target: dict[str, Any], event: dict[str, Any], moto_event: Any = None) -> Any:
    """What a target receives: the event, or its Input, InputPath or InputTransformer."""
    if "Input" in target:
        return json.loads(target["Input"])
    if "InputPath" in target:
        from jsonpath_ng.ext import parse

        found = parse(target["InputPath"]).find(event)
        return found[0].value if found else None
    if "InputTransformer" in target:
        transformer = target["InputTransformer"]
        # moto's parser, which reads `ingestion-time` for <aws.events.event.ingestion-time>
        source: Any = {"ingestion-time": 0, **(moto_event or event), "time": event.get("time")}
        return EventTemplateParser.parse(
            input_template=transformer.get("InputTemplate"),
            input_paths_map=transformer.get("InputPathsMap", {}),
            event=source,
        )
    return event


def _is_function(arn: str) -> bool:
    parts = arn.split(":")
    return len(parts) >= 7 and parts[2] == "lambda" and parts[5] == "function"
