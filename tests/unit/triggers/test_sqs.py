"""sam_local_cloud/triggers/sqs.py: an SQS event source mapping runs the recorder function on batches of a
moto queue's messages, with Lambda's rules (docs/aws-behaviour.md §14.2)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sam_local_cloud.triggers.delivery import Deliveries
from sam_local_cloud.triggers.sqs import SqsMapping, SqsPoller, failed_items
from tests.offline_aws import offline_aws
from tests.unit.triggers.support import FUNCTION, REGION, Console, recorded, recorder_runner, wait_for


@pytest.fixture
def sqs() -> Iterator[Any]:
    with offline_aws(REGION):
        yield boto3.client("sqs", region_name=REGION)


def make_queue(sqs: Any, name: str = "orders", **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def poller(sqs: Any, deliveries: Deliveries, arn: str, **settings: Any) -> SqsPoller:
    return SqsPoller(SqsMapping("Mapping", FUNCTION, arn, **settings), sqs, deliveries)


def counts(sqs: Any, url: str) -> tuple[int, int]:
    """(visible, in flight) messages of the queue."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return int(found[names[0]]), int(found[names[1]])


def test_a_batch_arrives_in_lambdas_sqs_event_and_is_deleted_on_success(
    sqs: Any, deliveries: Deliveries, record_to: Path
) -> None:
    url, arn = make_queue(sqs)
    sent = sqs.send_message(
        QueueUrl=url,
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "order"}},
    )
    sqs.send_message(QueueUrl=url, MessageBody="world")

    assert poller(sqs, deliveries, arn).poll_once() == 2

    [call] = recorded(record_to)
    first, second = call["event"]["Records"]
    assert first["messageId"] == sent["MessageId"]
    assert first["body"] == "hello"
    assert second["body"] == "world"
    assert first["md5OfBody"] == sent["MD5OfMessageBody"]
    assert first["eventSource"] == "aws:sqs"
    assert first["eventSourceARN"] == arn
    assert first["awsRegion"] == REGION
    assert first["receiptHandle"]
    assert first["attributes"]["ApproximateReceiveCount"] == "1"
    assert {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"} <= set(first["attributes"])
    assert first["messageAttributes"] == {
        "kind": {"stringValue": "order", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert second["messageAttributes"] == {}
    assert counts(sqs, url) == (0, 0)  # deleted


def test_a_batch_holds_at_most_batch_size_messages(sqs: Any, deliveries: Deliveries, record_to: Path) -> None:
    url, arn = make_queue(sqs)
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    source = poller(sqs, deliveries, arn, batch_size=2)

    assert [source.poll_once() for _ in range(3)] == [2, 2, 1]
    assert sorted(r["body"] for c in recorded(record_to) for r in c["event"]["Records"]) == list("01234")


def test_the_batching_window_gathers_messages_sent_within_it(
    sqs: Any, deliveries: Deliveries, record_to: Path
) -> None:
    url, arn = make_queue(sqs)
    sqs.send_message(QueueUrl=url, MessageBody="first")
    later = threading.Timer(0.5, lambda: sqs.send_message(QueueUrl=url, MessageBody="second"))
    later.start()

    delivered = poller(sqs, deliveries, arn, batch_size=5, batching_window_seconds=2).poll_once()

    later.join()
    assert delivered == 2
    assert [r["body"] for r in recorded(record_to)[0]["event"]["Records"]] == ["first", "second"]


def test_a_failed_batch_is_kept_and_comes_back_after_the_visibility_timeout(
    sqs: Any, deliveries: Deliveries, record_to: Path
) -> None:
    url, arn = make_queue(sqs, VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="fail")
    source = poller(sqs, deliveries, arn)

    assert source.poll_once() == 1
    assert counts(sqs, url) == (0, 1)  # in flight, not deleted
    assert source.poll_once() == 0  # still invisible
    time.sleep(1.1)
    assert source.poll_once() == 1
    receive_counts = [
        c["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] for c in recorded(record_to)
    ]
    assert receive_counts == ["1", "2"]


def test_with_report_batch_item_failures_only_the_failed_messages_stay(
    sqs: Any, deliveries: Deliveries, record_to: Path
) -> None:
    url, arn = make_queue(sqs, VisibilityTimeout="1")
    for body in ("ok-1", "fail-item-a", "ok-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    source = poller(sqs, deliveries, arn, report_batch_item_failures=True)

    assert source.poll_once() == 3
    assert counts(sqs, url) == (0, 1)
    time.sleep(1.1)
    assert source.poll_once() == 1
    assert [r["body"] for r in recorded(record_to)[1]["event"]["Records"]] == ["fail-item-a"]


def test_without_report_batch_item_failures_a_partial_answer_is_a_success(
    sqs: Any, deliveries: Deliveries, record_to: Path
) -> None:
    url, arn = make_queue(sqs)
    for body in ("ok", "fail-item-a"):
        sqs.send_message(QueueUrl=url, MessageBody=body)

    assert poller(sqs, deliveries, arn).poll_once() == 2
    assert counts(sqs, url) == (0, 0)


def test_a_message_failing_max_receive_count_times_moves_to_the_dead_letter_queue(
    sqs: Any, deliveries: Deliveries, record_to: Path
) -> None:
    dlq_url, dlq_arn = make_queue(sqs, "orders-dlq")
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2})
    url, arn = make_queue(sqs, VisibilityTimeout="1", RedrivePolicy=redrive)
    sqs.send_message(QueueUrl=url, MessageBody="fail")
    source = poller(sqs, deliveries, arn)

    deadline = time.monotonic() + 8
    while counts(sqs, dlq_url)[0] == 0 and time.monotonic() < deadline:
        source.poll_once()

    assert counts(sqs, dlq_url) == (1, 0)
    assert counts(sqs, url) == (0, 0)
    assert len(recorded(record_to)) == 2  # maxReceiveCount deliveries, then the dead-letter queue


def test_the_poller_runs_on_its_own_and_stops(sqs: Any, deliveries: Deliveries, record_to: Path) -> None:
    url, arn = make_queue(sqs)
    source = poller(sqs, deliveries, arn)
    source.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="on its own")
        deadline = time.monotonic() + 5
        while not recorded(record_to) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        source.stop()
        source.join(3)
    assert recorded(record_to)[0]["event"]["Records"][0]["body"] == "on its own"
    assert not source._thread.is_alive()


BATCH = {"a", "b"}


@pytest.mark.parametrize(
    ("payload", "failed"),
    [
        (None, set()),
        ({}, set()),
        ("", set()),
        ({"batchItemFailures": None}, set()),
        ({"batchItemFailures": []}, set()),
        ({"batchItemFailures": [{"itemIdentifier": "a"}]}, {"a"}),
        ({"batchItemFailures": [{"itemIdentifier": "a"}, {"itemIdentifier": "b"}]}, {"a", "b"}),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, None),
        ({"batchItemFailures": [{"messageId": "a"}]}, None),
        ({"batchItemFailures": [{"itemIdentifier": "z"}]}, None),
        ({"batchItemFailures": "a"}, None),
        ("not an object", None),
    ],
)
def test_a_partial_batch_response_is_read_as_lambda_reads_it(payload: Any, failed: set[str] | None) -> None:
    assert failed_items(payload, BATCH) == failed


def test_a_queue_that_goes_away_is_said_once_and_its_return_too(sqs: Any, record_to: Path) -> None:
    console = Console()
    runner = recorder_runner(record_to)
    deliveries = Deliveries(runner, say=console)
    url, arn = make_queue(sqs)
    source = poller(sqs, deliveries, arn)
    source.start()
    try:
        sqs.delete_queue(QueueUrl=url)
        wait_for(lambda: any("poll failed" in line for line in console.lines), what="the failure")
        time.sleep(2.5)  # the poller tries again each second
        make_queue(sqs)
        wait_for(lambda: "SQS orders: polling again" in console.lines, what="the recovery")
    finally:
        source.stop()
        source.join(3)
        deliveries.stop()
        runner.stop()
    assert sum("poll failed" in line for line in console.lines) == 1
