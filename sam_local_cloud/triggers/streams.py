"""DynamoDB stream and Kinesis event source mappings: a poller per mapping, reading each shard in order.

Through the streams' own APIs (GetShardIterator, GetRecords), as Lambda's pollers read them. Lambda's
rules (docs/aws-behaviour.md §14.4):
- reading starts at StartingPosition: TRIM_HORIZON (the oldest record kept) or LATEST (what comes
  after the mapping starts);
- a batch is up to BatchSize records of one shard, in order; the records carry the stream's view type
  (KEYS_ONLY, NEW_IMAGE, OLD_IMAGE, NEW_AND_OLD_IMAGES);
- a failed batch (error, timeout, throttle) is retried, the shard waiting behind it, until it succeeds
  or MaximumRetryAttempts (-1 by default: until the records expire) is spent; with
  ReportBatchItemFailures the retry starts at the first failed record.
"""

from __future__ import annotations

import base64
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sam_local_cloud.lambda_.outcome import Result
from sam_local_cloud.triggers.delivery import Deliveries

_POLL_SECONDS = 0.25  # Lambda reads each shard about four times a second
_RETRY_BACKOFF_SECONDS = (1.0, 30.0)


@dataclass(frozen=True)
class StreamMapping:
    """An AWS::Lambda::EventSourceMapping on a DynamoDB or Kinesis stream, resolved."""

    logical_id: str
    function: str
    stream_arn: str
    starting_position: str = "LATEST"
    batch_size: int = 100
    maximum_retry_attempts: int = -1
    report_batch_item_failures: bool = False
    enabled: bool = True

    @property
    def kind(self) -> str:
        """ "dynamodb" or "kinesis"."""
        return self.stream_arn.split(":")[2]

    @property
    def label(self) -> str:
        if self.kind == "kinesis":
            return f"Kinesis {self.stream_arn.split('/', 1)[-1]}"
        return f"DynamoDB stream of {self.stream_arn.split(':table/')[-1].split('/')[0]}"


@dataclass
class _Shard:
    shard_id: str
    iterator: str
    failures: int = 0


class StreamPoller:
    def __init__(self, mapping: StreamMapping, client: Any, deliveries: Deliveries):
        """`client`: boto3's dynamodbstreams client for a DynamoDB stream, kinesis for Kinesis."""
        self.mapping = mapping
        self._client = client
        self._deliveries = deliveries
        self._stopping = threading.Event()
        self._shards: list[_Shard] = []
        self._thread = threading.Thread(target=self._loop, name=f"stream-{mapping.logical_id}", daemon=True)

    def start(self) -> None:
        self.open_shards()  # now: LATEST is the stream's end when the mapping starts
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def open_shards(self) -> None:
        position = self.mapping.starting_position
        self._shards = [_Shard(shard, self._iterator(shard, position)) for shard in self._shard_ids()]

    def _loop(self) -> None:
        while not self._stopping.wait(_POLL_SECONDS):
            try:
                self.poll_once()
            except Exception as error:  # the stream went away, or moto failed: say so, keep polling
                self._deliveries.polled(self.mapping.label, error)
                self._stopping.wait(1.0)
            else:
                self._deliveries.polled(self.mapping.label)

    def poll_once(self) -> int:
        """One batch from each shard that has records; the number of records delivered."""
        delivered = 0
        for shard in self._shards:
            answer = self._client.get_records(ShardIterator=shard.iterator, Limit=self.mapping.batch_size)
            records = answer.get("Records", [])
            if not records:
                # The same position: its iterator is kept (moto keeps every iterator it hands out,
                # and an idle shard read four times a second would hand out 345,000 a day).
                continue
            delivered += len(records)
            retry_from = self._deliver(shard, records)
            if retry_from is None:
                shard.failures = 0
                shard.iterator = answer["NextShardIterator"]
            elif (
                self.mapping.maximum_retry_attempts >= 0
                and shard.failures > self.mapping.maximum_retry_attempts
            ):
                self._deliveries.say(
                    f"{self.mapping.label}: {len(records)} record(s) discarded after "
                    f"{self.mapping.maximum_retry_attempts} retries"
                )
                shard.failures = 0
                shard.iterator = answer["NextShardIterator"]
            else:
                if retry_from != _sequence(records[0], self.mapping.kind):
                    shard.iterator = self._iterator(shard.shard_id, "AT_SEQUENCE_NUMBER", retry_from)
                low, high = _RETRY_BACKOFF_SECONDS
                self._stopping.wait(min(high, low * 2 ** (shard.failures - 1)))
        return delivered

    def _deliver(self, shard: _Shard, records: list[dict[str, Any]]) -> str | None:
        """None when the batch is done; else the sequence number the retry starts from."""
        mapping = self.mapping
        make = dynamodb_record if mapping.kind == "dynamodb" else kinesis_record
        event = {"Records": [make(r, mapping.stream_arn, shard.shard_id) for r in records]}
        invocation = self._deliveries.invoke(
            mapping.function, event, f"{mapping.label} ({len(records)} records)"
        )
        first = _sequence(records[0], mapping.kind)
        if not isinstance(invocation.outcome, Result):
            shard.failures += 1
            return first
        if not mapping.report_batch_item_failures:
            return None
        sequences = [_sequence(r, mapping.kind) for r in records]
        failed = _failed_sequence(invocation.outcome.payload, sequences)
        if failed is None:
            return None
        shard.failures += 1
        return failed

    def _shard_ids(self) -> list[str]:
        if self.mapping.kind == "kinesis":
            name = self.mapping.stream_arn.split("/", 1)[-1]
            shards = self._client.describe_stream(StreamName=name)["StreamDescription"]["Shards"]
        else:
            shards = self._client.describe_stream(StreamArn=self.mapping.stream_arn)["StreamDescription"][
                "Shards"
            ]
        return [shard["ShardId"] for shard in shards]

    def _iterator(self, shard_id: str, position: str, sequence: str | None = None) -> str:
        where: dict[str, Any] = {"ShardIteratorType": position}
        if sequence is not None:
            where["StartingSequenceNumber"] = sequence
        if self.mapping.kind == "kinesis":
            name = self.mapping.stream_arn.split("/", 1)[-1]
            return str(
                self._client.get_shard_iterator(StreamName=name, ShardId=shard_id, **where)["ShardIterator"]
            )
        return str(
            self._client.get_shard_iterator(StreamArn=self.mapping.stream_arn, ShardId=shard_id, **where)[
                "ShardIterator"
            ]
        )


def _sequence(record: dict[str, Any], kind: str) -> str:
    return str(record["SequenceNumber"] if kind == "kinesis" else record["dynamodb"]["SequenceNumber"])


def _failed_sequence(payload: Any, sequences: list[str]) -> str | None:
    """The first record a partial batch response names as failed (None: none failed); an answer that
    cannot be read fails the whole batch, as Lambda reads it."""
    if payload is None or payload == "" or payload == {}:
        return None
    if not isinstance(payload, dict):
        return sequences[0]
    items = payload.get("batchItemFailures")
    if not items:  # null or empty: complete success
        return None
    if not isinstance(items, list):
        return sequences[0]
    named = []
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if identifier not in sequences:
            return sequences[0]
        named.append(identifier)
    return min(named, key=sequences.index)


def dynamodb_record(record: dict[str, Any], stream_arn: str, shard_id: str) -> dict[str, Any]:
    """A stream record as Lambda puts it in the event (docs/aws-behaviour.md §14.4)."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    for image in ("Keys", "NewImage", "OldImage"):
        if image in change:
            change[image] = _json_attributes(change[image])
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": stream_arn.split(":")[3],
        "dynamodb": change,
        "eventSourceARN": stream_arn,
    }


def kinesis_record(record: dict[str, Any], stream_arn: str, shard_id: str) -> dict[str, Any]:
    arrived = record.get("ApproximateArrivalTimestamp")
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": record["PartitionKey"],
            "sequenceNumber": record["SequenceNumber"],
            "data": base64.b64encode(record["Data"]).decode(),
            "approximateArrivalTimestamp": arrived.timestamp() if isinstance(arrived, datetime) else arrived,
        },
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": f"arn:aws:iam::{stream_arn.split(':')[4]}:role/local",
        "awsRegion": stream_arn.split(":")[3],
        "eventSourceARN": stream_arn,
    }


def _json_attributes(value: Any) -> Any:
    """DynamoDB JSON as the wire carries it: boto3 hands binary values over as bytes."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _json_attributes(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_attributes(v) for v in value]
    return value
