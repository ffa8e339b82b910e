"""sam_local_cloud/triggers/streams.py: DynamoDB stream and Kinesis mappings run the recorder function on a
moto stream's records, in order, with Lambda's rules (docs/aws-behaviour.md §14.4)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sam_local_cloud.triggers.delivery import Deliveries
from sam_local_cloud.triggers.streams import StreamMapping, StreamPoller, _failed_sequence
from tests.offline_aws import offline_aws
from tests.unit.triggers.support import FUNCTION, REGION, Console, recorded, recorder_runner


@pytest.fixture
def aws() -> Iterator[None]:
    with offline_aws(REGION):
        yield


def make_table(view_type: str = "NEW_AND_OLD_IMAGES") -> tuple[Any, str]:
    dynamodb = boto3.client("dynamodb", region_name=REGION)
    table = dynamodb.create_table(
        TableName="products",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": view_type},
    )["TableDescription"]
    return dynamodb, table["LatestStreamArn"]


def dynamodb_poller(deliveries: Deliveries, stream_arn: str, **settings: Any) -> StreamPoller:
    client = boto3.client("dynamodbstreams", region_name=REGION)
    source = StreamPoller(StreamMapping("Mapping", FUNCTION, stream_arn, **settings), client, deliveries)
    source.open_shards()
    return source


def records(record_to: Path) -> list[dict[str, Any]]:
    return [r for call in recorded(record_to) for r in call["event"]["Records"]]


def test_inserts_changes_and_removals_arrive_in_order_with_both_images(
    aws: None, deliveries: Deliveries, record_to: Path
) -> None:
    dynamodb, stream_arn = make_table()
    source = dynamodb_poller(deliveries, stream_arn, starting_position="TRIM_HORIZON")
    dynamodb.put_item(TableName="products", Item={"id": {"S": "1"}, "name": {"S": "cup"}})
    dynamodb.put_item(TableName="products", Item={"id": {"S": "1"}, "name": {"S": "mug"}})
    dynamodb.delete_item(TableName="products", Key={"id": {"S": "1"}})

    assert source.poll_once() == 3

    insert, modify, remove = records(record_to)
    assert [insert["eventName"], modify["eventName"], remove["eventName"]] == ["INSERT", "MODIFY", "REMOVE"]
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["eventSourceARN"] == stream_arn
    assert insert["awsRegion"] == REGION
    assert insert["eventID"]
    change = insert["dynamodb"]
    assert change["Keys"] == {"id": {"S": "1"}}
    assert change["NewImage"] == {"id": {"S": "1"}, "name": {"S": "cup"}}
    assert "OldImage" not in change
    assert change["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert isinstance(change["ApproximateCreationDateTime"], int)
    assert isinstance(change["SizeBytes"], int)
    assert change["SizeBytes"] > 0
    assert modify["dynamodb"]["OldImage"]["name"] == {"S": "cup"}
    assert modify["dynamodb"]["NewImage"]["name"] == {"S": "mug"}
    assert remove["dynamodb"]["OldImage"]["name"] == {"S": "mug"}
    assert "NewImage" not in remove["dynamodb"]
    sequences = [int(r["dynamodb"]["SequenceNumber"]) for r in (insert, modify, remove)]
    assert sequences == sorted(sequences)


def test_keys_only_streams_carry_no_images(aws: None, deliveries: Deliveries, record_to: Path) -> None:
    dynamodb, stream_arn = make_table("KEYS_ONLY")
    source = dynamodb_poller(deliveries, stream_arn, starting_position="TRIM_HORIZON")
    dynamodb.put_item(TableName="products", Item={"id": {"S": "1"}, "name": {"S": "cup"}})

    source.poll_once()

    [record] = records(record_to)
    assert record["dynamodb"]["StreamViewType"] == "KEYS_ONLY"
    assert set(record["dynamodb"]) == {
        "ApproximateCreationDateTime", "Keys", "SequenceNumber", "SizeBytes", "StreamViewType"
    }  # fmt: skip


def test_latest_starts_after_what_the_stream_held_and_trim_horizon_at_its_start(
    aws: None, deliveries: Deliveries, record_to: Path
) -> None:
    dynamodb, stream_arn = make_table()
    dynamodb.put_item(TableName="products", Item={"id": {"S": "before"}})
    latest = dynamodb_poller(deliveries, stream_arn, starting_position="LATEST")
    dynamodb.put_item(TableName="products", Item={"id": {"S": "after"}})

    latest.poll_once()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records(record_to)] == ["after"]

    dynamodb_poller(deliveries, stream_arn, starting_position="TRIM_HORIZON").poll_once()
    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records(record_to)[1:]] == ["before", "after"]


def test_a_batch_holds_at_most_batch_size_records(aws: None, deliveries: Deliveries, record_to: Path) -> None:
    dynamodb, stream_arn = make_table()
    source = dynamodb_poller(deliveries, stream_arn, starting_position="TRIM_HORIZON", batch_size=2)
    for n in range(3):
        dynamodb.put_item(TableName="products", Item={"id": {"S": str(n)}})

    assert [source.poll_once(), source.poll_once(), source.poll_once()] == [2, 1, 0]
    assert [len(call["event"]["Records"]) for call in recorded(record_to)] == [2, 1]


def test_a_failed_batch_is_retried_before_anything_after_it(
    aws: None, deliveries: Deliveries, record_to: Path
) -> None:
    dynamodb, stream_arn = make_table()
    source = dynamodb_poller(deliveries, stream_arn, starting_position="TRIM_HORIZON", batch_size=1)
    dynamodb.put_item(TableName="products", Item={"id": {"S": "1"}, "note": {"S": "fail-once"}})
    dynamodb.put_item(TableName="products", Item={"id": {"S": "2"}})

    for _ in range(3):
        source.poll_once()

    assert [r["dynamodb"]["Keys"]["id"]["S"] for r in records(record_to)] == ["1", "1", "2"]


def test_maximum_retry_attempts_discards_the_batch_after_its_retries(aws: None, record_to: Path) -> None:
    runner = recorder_runner(record_to, FAIL="always")
    console = Console()
    deliveries = Deliveries(runner, say=console)
    try:
        dynamodb, stream_arn = make_table()
        source = dynamodb_poller(
            deliveries, stream_arn, starting_position="TRIM_HORIZON", maximum_retry_attempts=1
        )
        dynamodb.put_item(TableName="products", Item={"id": {"S": "1"}})
        for _ in range(3):
            source.poll_once()
    finally:
        deliveries.stop()
        runner.stop()
    assert len(recorded(record_to)) == 2  # the attempt and one retry, then the next records
    assert "discarded after 1 retries" in console.text()


def test_kinesis_records_arrive_base64_with_their_shard_and_sequence(
    aws: None, deliveries: Deliveries, record_to: Path
) -> None:
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    arn = kinesis.describe_stream(StreamName="clicks")["StreamDescription"]["StreamARN"]
    put = kinesis.put_record(StreamName="clicks", Data=b'{"page": "/"}', PartitionKey="user-1")
    source = StreamPoller(
        StreamMapping("Mapping", FUNCTION, arn, starting_position="TRIM_HORIZON"), kinesis, deliveries
    )
    source.open_shards()

    assert source.poll_once() == 1

    [record] = records(record_to)
    assert base64.b64decode(record["kinesis"]["data"]) == b'{"page": "/"}'
    assert record["kinesis"]["partitionKey"] == "user-1"
    assert record["kinesis"]["sequenceNumber"] == put["SequenceNumber"]
    assert record["eventID"] == f"{put['ShardId']}:{put['SequenceNumber']}"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventSourceARN"] == arn


SEQUENCES = ["100", "101", "102"]


@pytest.mark.parametrize(
    ("payload", "retry_from"),
    [
        (None, None),
        ({}, None),
        ({"batchItemFailures": []}, None),
        ({"batchItemFailures": [{"itemIdentifier": "101"}]}, "101"),
        ({"batchItemFailures": [{"itemIdentifier": "102"}, {"itemIdentifier": "101"}]}, "101"),
        ({"batchItemFailures": [{"itemIdentifier": "999"}]}, "100"),  # not in the batch: all of it
        ({"batchItemFailures": [{"itemIdentifier": None}]}, "100"),
        ({"batchItemFailures": "101"}, "100"),
        ("not an object", "100"),
    ],
)
def test_a_partial_batch_response_retries_from_the_first_failed_record(
    payload: Any, retry_from: str | None
) -> None:
    assert _failed_sequence(payload, SEQUENCES) == retry_from
