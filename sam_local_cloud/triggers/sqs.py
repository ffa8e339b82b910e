"""An SQS event source mapping: a poller that runs the function on batches of a queue's messages.

Through the SQS API, as Lambda's pollers use it, so that the queue's own rules are moto's: a received
message stays invisible for the queue's visibility timeout, comes back after it unless deleted, and
moves to the dead-letter queue of its RedrivePolicy once received maxReceiveCount times. Lambda's
rules (docs/aws-behaviour.md §14.2):
- a batch is up to BatchSize messages, gathered for up to MaximumBatchingWindowInSeconds;
- the function's success deletes the batch; a failure (error, timeout, throttle) deletes nothing;
- with ReportBatchItemFailures, only the messages named in `batchItemFailures` stay; an answer Lambda
  cannot read as one fails the whole batch.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from dataclasses import dataclass
from typing import Any

from sam_local_cloud.lambda_.outcome import Result
from sam_local_cloud.triggers.delivery import Deliveries

_RECEIVE_MAX = 10  # ReceiveMessage's limit
_LONG_POLL_SECONDS = 1  # short enough that stopping the cloud stops the poller promptly


@dataclass(frozen=True)
class SqsMapping:
    """An AWS::Lambda::EventSourceMapping on a queue, resolved."""

    logical_id: str
    function: str  # logical id
    queue_arn: str
    batch_size: int = 10
    batching_window_seconds: float = 0.0
    report_batch_item_failures: bool = False
    enabled: bool = True

    @property
    def queue_name(self) -> str:
        return self.queue_arn.split(":")[-1]


class SqsPoller:
    def __init__(self, mapping: SqsMapping, sqs: Any, deliveries: Deliveries):
        self.mapping = mapping
        self._sqs = sqs
        self._deliveries = deliveries
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"sqs-{mapping.logical_id}", daemon=True)
        self._queue_url: str | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self.poll_once()
            except Exception as error:  # the queue went away, or moto failed: say so, keep polling
                self._deliveries.polled(f"SQS {self.mapping.queue_name}", error)
                self._stopping.wait(1.0)
            else:
                self._deliveries.polled(f"SQS {self.mapping.queue_name}")

    def queue_url(self) -> str:
        if self._queue_url is None:
            account = self.mapping.queue_arn.split(":")[4]
            self._queue_url = self._sqs.get_queue_url(
                QueueName=self.mapping.queue_name, QueueOwnerAWSAccountId=account
            )["QueueUrl"]
        return self._queue_url

    def poll_once(self) -> int:
        """One batch gathered and delivered; the number of its messages (0: none came)."""
        messages = self._gather()
        if messages:
            self._deliver(messages)
        return len(messages)

    def _gather(self) -> list[dict[str, Any]]:
        """Up to BatchSize messages: what one long poll brings, then more within the batching window."""
        mapping = self.mapping
        messages = self._receive(min(_RECEIVE_MAX, mapping.batch_size), _LONG_POLL_SECONDS)
        if not messages:
            return []
        window_ends = time.monotonic() + mapping.batching_window_seconds
        while len(messages) < mapping.batch_size and not self._stopping.is_set():
            left = window_ends - time.monotonic()
            if left <= 0:
                break
            wanted = min(_RECEIVE_MAX, mapping.batch_size - len(messages))
            messages += self._receive(wanted, min(_LONG_POLL_SECONDS, math.ceil(left)))
        return messages

    def _receive(self, count: int, wait_seconds: int) -> list[dict[str, Any]]:
        answer = self._sqs.receive_message(
            QueueUrl=self.queue_url(),
            MaxNumberOfMessages=count,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["All"],
            MessageAttributeNames=["All"],
        )
        return list(answer.get("Messages", []))

    def _deliver(self, messages: list[dict[str, Any]]) -> None:
        mapping = self.mapping
        event = {"Records": [sqs_record(m, mapping.queue_arn) for m in messages]}
        noun = "message" if len(messages) == 1 else "messages"
        invocation = self._deliveries.invoke(
            mapping.function, event, f"SQS {mapping.queue_name} ({len(messages)} {noun})"
        )
        if not isinstance(invocation.outcome, Result):
            return  # the batch comes back after the visibility timeout
        done = messages
        if mapping.report_batch_item_failures:
            failed = failed_items(invocation.outcome.payload, {m["MessageId"] for m in messages})
            if failed is None:
                self._deliveries.say(
                    f"SQS {mapping.queue_name}: the function's batchItemFailures cannot be read: "
                    "the whole batch failed"
                )
                return
            done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), _RECEIVE_MAX):
            chunk = done[start : start + _RECEIVE_MAX]
            self._sqs.delete_message_batch(
                QueueUrl=self.queue_url(),
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )


def failed_items(payload: Any, batch: set[str]) -> set[str] | None:
    """The ids a partial batch response names as failed; None when the whole batch failed.

    Lambda reads an empty or null answer, or an empty or null list, as complete success; an
    itemIdentifier that is missing, empty, not a string or not in the batch as complete failure.
    """
    if payload is None or payload == {} or payload == "":
        return set()
    if not isinstance(payload, dict):
        return None
    items = payload.get("batchItemFailures")
    if items is None:
        return set()
    if not isinstance(items, list):
        return None
    failed = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in batch:
            return None
        failed.add(identifier)
    return failed


def sqs_record(message: dict[str, Any], queue_arn: str) -> dict[str, Any]:
    """A message as Lambda puts it in the event (docs/aws-behaviour.md §14.2)."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _message_attribute(value) for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": queue_arn.split(":")[3],
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _message_attribute(value: dict[str, Any]) -> dict[str, Any]:
    attribute: dict[str, Any] = {}
    if "StringValue" in value:
        attribute["stringValue"] = value["StringValue"]
    if "BinaryValue" in value:
        attribute["binaryValue"] = base64.b64encode(value["BinaryValue"]).decode()
    attribute["stringListValues"] = value.get("StringListValues", [])
    attribute["binaryListValues"] = value.get("BinaryListValues", [])
    attribute["dataType"] = value["DataType"]
    return attribute
