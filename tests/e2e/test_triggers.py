"""Every trigger of issue 17, added to a copy of template.yaml as a user adds it in SAM (`Events:` of
type SQS, SNS, S3, DynamoDB, Kinesis, EventBridgeRule, Schedule and ScheduleV2, on one function),
served by the local cloud: the action done with plain boto3 against the cloud, and the event the
function received (tests/fixtures/functions/recorder.py notes each one in a file) checked within
seconds, a schedule within its period (docs/aws-behaviour.md §14)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sam_local_cloud.cloudformation.template import TEMPLATE_PATH, load_source
from tests.e2e.support import DEPLOYED, FIXTURES, ROOT
from tests.harness import LocalCloud, start_local_cloud
from tests.unit.triggers.support import recorded, wait_for

pytestmark = pytest.mark.skipif(DEPLOYED, reason="adds triggers to a copy of the template")

DELIVERED_WITHIN = 10  # seconds: an acknowledged send, put or publish reaches the function by then


def get_att(name: str, attribute: str) -> dict[str, Any]:
    return {"Fn::GetAtt": [name, attribute]}


def ref(name: str) -> dict[str, str]:
    return {"Ref": name}


def template_with_triggers(folder: Path, record_to: Path) -> Path:
    """template.yaml, with a queue (and its dead-letter queue), a topic, a bucket, a table with a
    stream, a Kinesis stream and a function that each of them triggers, as a user would add them."""
    source = load_source(TEMPLATE_PATH)
    # CodeUri is relative to the template: the copy's folder gets the project's functions and the
    # recorder, as a user's project has its functions beside its template.
    (folder / "functions").symlink_to(ROOT / "functions")
    (folder / "recorder").mkdir()
    shutil.copy(FIXTURES / "functions" / "recorder.py", folder / "recorder" / "recorder.py")
    resources = source["Resources"]
    resources.update(
        {
            "TriggerDlq": {"Type": "AWS::SQS::Queue"},
            "TriggerQueue": {
                "Type": "AWS::SQS::Queue",
                "Properties": {
                    "VisibilityTimeout": 2,
                    "RedrivePolicy": {
                        "deadLetterTargetArn": get_att("TriggerDlq", "Arn"),
                        "maxReceiveCount": 2,
                    },
                },
            },
            "TriggerTopic": {"Type": "AWS::SNS::Topic"},
            "UploadsBucket": {"Type": "AWS::S3::Bucket"},
            "NotesTable": {
                "Type": "AWS::DynamoDB::Table",
                "Properties": {
                    "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                    "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
                },
            },
            "ClicksStream": {"Type": "AWS::Kinesis::Stream", "Properties": {"ShardCount": 1}},
            "RecorderFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "CodeUri": "recorder/",
                    "Handler": "recorder.handler",
                    "Environment": {"Variables": {"RECORD_TO": str(record_to)}},
                    "Events": {
                        "Orders": {
                            "Type": "SQS",
                            "Properties": {
                                "Queue": get_att("TriggerQueue", "Arn"),
                                "BatchSize": 5,
                                "FunctionResponseTypes": ["ReportBatchItemFailures"],
                            },
                        },
                        "Notes": {
                            "Type": "SNS",
                            "Properties": {"Topic": ref("TriggerTopic"), "FilterPolicy": {"color": ["red"]}},
                        },
                        "Uploads": {
                            "Type": "S3",
                            "Properties": {
                                "Bucket": ref("UploadsBucket"),
                                "Events": "s3:ObjectCreated:*",
                                "Filter": {"S3Key": {"Rules": [{"Name": "prefix", "Value": "in/"}]}},
                            },
                        },
                        "Changes": {
                            "Type": "DynamoDB",
                            "Properties": {
                                "Stream": get_att("NotesTable", "StreamArn"),
                                "StartingPosition": "TRIM_HORIZON",
                                "BatchSize": 10,
                            },
                        },
                        "Clicks": {
                            "Type": "Kinesis",
                            "Properties": {
                                "Stream": get_att("ClicksStream", "Arn"),
                                "StartingPosition": "TRIM_HORIZON",
                            },
                        },
                        "Placed": {
                            "Type": "EventBridgeRule",
                            "Properties": {"Pattern": {"source": ["shop"]}},
                        },
                        "Tick": {"Type": "Schedule", "Properties": {"Schedule": "rate(1 minute)"}},
                        "Reminder": {
                            "Type": "ScheduleV2",
                            "Properties": {
                                "ScheduleExpression": "cron(0 3 * * ? *)",
                                "Input": '{"job": "reminder"}',
                            },
                        },
                    },
                },
            },
        }
    )
    source.setdefault("Outputs", {}).update(
        {
            "TriggerQueueUrl": {"Value": ref("TriggerQueue")},
            "TriggerDlqUrl": {"Value": ref("TriggerDlq")},
            "TriggerTopicArn": {"Value": ref("TriggerTopic")},
            "UploadsBucketName": {"Value": ref("UploadsBucket")},
            "NotesTableName": {"Value": ref("NotesTable")},
            "ClicksStreamName": {"Value": ref("ClicksStream")},
            "TickRuleArn": {"Value": get_att("RecorderFunctionTick", "Arn")},
        }
    )
    path = folder / "template.yaml"
    path.write_text(json.dumps(source, indent=1))  # JSON is YAML
    return path


@pytest.fixture(scope="module")
def record_to(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("recorded") / "events.jsonl"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory, record_to: Path) -> Iterator[LocalCloud]:
    folder = tmp_path_factory.mktemp("triggers")
    started = start_local_cloud(folder, "--template", str(template_with_triggers(folder, record_to)))
    yield started
    assert started.stop() == 0
    assert not started.left_running  # the pollers and the functions' workers stopped with the cloud


def events_where(record_to: Path, matches: Any) -> list[Any]:
    return [call["event"] for call in recorded(record_to) if matches(call["event"])]


def first_record(event: Any) -> dict[str, Any]:
    records = event.get("Records") if isinstance(event, dict) else None
    return records[0] if records else {}


def delivered(record_to: Path, matches: Any, what: str) -> list[Any]:
    return wait_for(lambda: events_where(record_to, matches), DELIVERED_WITHIN, what)


def test_start_up_names_each_event_source_as_served(cloud: LocalCloud) -> None:
    console = cloud.wait_for_console("Event sources")  # the banner follows the outputs file
    for line in (
        "SQS ",
        "SNS ",
        "S3 ",
        "DynamoDB stream of ",
        "Kinesis ",
        "-RecorderFunctionPlaced-",
        " on default -> RecorderFunction (PutEvents)",
        " rate(1 minute)",
        "EventBridge schedule RecorderFunctionReminder cron(0 3 * * ? *)",
    ):
        assert line in console
    assert "NOT REPRODUCED" not in console


def test_a_message_sent_to_the_queue_runs_the_function_and_is_deleted(
    cloud: LocalCloud, record_to: Path
) -> None:
    sqs, url = cloud.aws("sqs"), cloud.outputs["TriggerQueueUrl"]
    sent = sqs.send_message(QueueUrl=url, MessageBody="hello from sqs")

    [event] = delivered(
        record_to, lambda e: first_record(e).get("body") == "hello from sqs", "the SQS delivery"
    )

    record = first_record(event)
    assert record["messageId"] == sent["MessageId"]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":" + url.rsplit("/", 1)[-1])
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    attributes = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    left = wait_for(
        lambda: all(
            v == "0"
            for v in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=attributes)["Attributes"].values()
        ),
        DELIVERED_WITHIN,
        "the deletion",
    )
    assert left


def test_a_message_that_keeps_failing_ends_in_the_dead_letter_queue(
    cloud: LocalCloud, record_to: Path
) -> None:
    sqs = cloud.aws("sqs")
    sqs.send_message(QueueUrl=cloud.outputs["TriggerQueueUrl"], MessageBody="fail")

    def in_dead_letter_queue() -> list[Any]:
        answer = sqs.receive_message(QueueUrl=cloud.outputs["TriggerDlqUrl"], WaitTimeSeconds=1)
        return [m for m in answer.get("Messages", []) if m["Body"] == "fail"]

    assert wait_for(in_dead_letter_queue, 15, "the redrive")
    assert (
        len(events_where(record_to, lambda e: first_record(e).get("body") == "fail")) == 2
    )  # maxReceiveCount
    assert "FAILED RuntimeError: told to fail the batch" in cloud.console


def test_a_partial_batch_failure_brings_back_only_the_failed_message(
    cloud: LocalCloud, record_to: Path
) -> None:
    sqs, url = cloud.aws("sqs"), cloud.outputs["TriggerQueueUrl"]
    sqs.send_message_batch(
        QueueUrl=url,
        Entries=[{"Id": "1", "MessageBody": "batch-ok"}, {"Id": "2", "MessageBody": "fail-item-batch"}],
    )

    again = wait_for(
        lambda: [
            r
            for e in events_where(record_to, lambda e: True)
            for r in (e.get("Records") or [])
            if r.get("body") == "fail-item-batch" and r["attributes"]["ApproximateReceiveCount"] == "2"
        ],
        DELIVERED_WITHIN,
        "the failed message's return",
    )
    assert again
    ok = [
        r
        for e in events_where(record_to, lambda e: True)
        for r in (e.get("Records") or [])
        if r.get("body") == "batch-ok"
    ]
    assert len(ok) == 1


def test_a_publish_matching_the_filter_policy_runs_the_function(cloud: LocalCloud, record_to: Path) -> None:
    sns, topic = cloud.aws("sns"), cloud.outputs["TriggerTopicArn"]
    for color in ("blue", "red"):
        attributes = {"color": {"DataType": "String", "StringValue": color}}
        sns.publish(TopicArn=topic, Message=f"{color} note", Subject="note", MessageAttributes=attributes)

    [event] = delivered(
        record_to, lambda e: first_record(e).get("Sns", {}).get("Message") == "red note", "SNS"
    )

    record = first_record(event)
    assert record["EventSource"] == "aws:sns"
    assert record["Sns"]["TopicArn"] == topic
    assert record["Sns"]["Subject"] == "note"
    assert record["Sns"]["MessageAttributes"] == {"color": {"Type": "String", "Value": "red"}}
    time.sleep(1)
    assert not events_where(record_to, lambda e: first_record(e).get("Sns", {}).get("Message") == "blue note")


def test_an_object_put_under_the_prefix_runs_the_function(cloud: LocalCloud, record_to: Path) -> None:
    s3, bucket = cloud.aws("s3"), cloud.outputs["UploadsBucketName"]
    s3.put_object(Bucket=bucket, Key="out/ignored.txt", Body=b"x")
    s3.put_object(Bucket=bucket, Key="in/report.txt", Body=b"12345")

    def is_upload(event: Any) -> bool:
        return first_record(event).get("eventSource") == "aws:s3"

    [event] = delivered(record_to, is_upload, "the S3 notification")
    record = first_record(event)
    assert record["eventVersion"] == "2.1"
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"]["name"] == bucket
    assert record["s3"]["object"]["key"] == "in/report.txt"
    assert record["s3"]["object"]["size"] == 5
    time.sleep(1)
    assert len(events_where(record_to, is_upload)) == 1  # out/ is outside the prefix


def test_an_item_written_to_the_table_reaches_the_function_from_its_stream(
    cloud: LocalCloud, record_to: Path
) -> None:
    dynamodb, table = cloud.aws("dynamodb"), cloud.outputs["NotesTableName"]
    dynamodb.put_item(TableName=table, Item={"id": {"S": "note-1"}, "text": {"S": "hello"}})

    [event] = delivered(
        record_to, lambda e: first_record(e).get("eventSource") == "aws:dynamodb", "the stream record"
    )
    record = first_record(event)
    assert record["eventName"] == "INSERT"
    assert record["dynamodb"]["Keys"] == {"id": {"S": "note-1"}}
    assert record["dynamodb"]["NewImage"] == {"id": {"S": "note-1"}, "text": {"S": "hello"}}
    assert record["dynamodb"]["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert f":table/{table}/stream/" in record["eventSourceARN"]


def test_a_record_put_on_the_kinesis_stream_runs_the_function(cloud: LocalCloud, record_to: Path) -> None:
    kinesis = cloud.aws("kinesis")
    put = kinesis.put_record(StreamName=cloud.outputs["ClicksStreamName"], Data=b"click", PartitionKey="p")

    [event] = delivered(record_to, lambda e: first_record(e).get("eventSource") == "aws:kinesis", "Kinesis")
    assert first_record(event)["kinesis"]["sequenceNumber"] == put["SequenceNumber"]


def test_an_event_put_on_the_bus_matching_the_rule_runs_the_function(
    cloud: LocalCloud, record_to: Path
) -> None:
    events = cloud.aws("events")
    answer = events.put_events(
        Entries=[
            {"Source": "elsewhere", "DetailType": "Order Placed", "Detail": json.dumps({"order": "o-0"})},
            {"Source": "shop", "DetailType": "Order Placed", "Detail": json.dumps({"order": "o-1"})},
        ]
    )
    assert answer["FailedEntryCount"] == 0

    [event] = delivered(
        record_to, lambda e: isinstance(e, dict) and e.get("detail-type") == "Order Placed", "PutEvents"
    )
    assert event["source"] == "shop"
    assert event["detail"] == {"order": "o-1"}
    assert event["id"] == answer["Entries"][1]["EventId"]


def test_a_failed_asynchronous_invocation_shows_in_the_console_and_is_retried(
    cloud: LocalCloud, record_to: Path
) -> None:
    cloud.aws("events").put_events(
        Entries=[
            {"Source": "shop", "DetailType": "Order Failed", "Detail": json.dumps({"note": "fail-once"})}
        ]
    )
    cloud.wait_for_console(
        "FAILED RuntimeError: told to fail once; retried in 60 s", timeout=DELIVERED_WITHIN
    )


def test_a_schedule_fires_now_from_the_command_line(cloud: LocalCloud, record_to: Path) -> None:
    assert cloud.console_path is not None
    outputs = cloud.console_path.parent / "outputs.json"
    fire = [sys.executable, "-m", "sam_local_cloud.fire", "--outputs", str(outputs)]

    listed = subprocess.run([*fire, "--list"], capture_output=True, text=True, cwd=ROOT, check=True)  # noqa: S603
    assert "RecorderFunctionReminder  RecorderFunctionReminder  cron(0 3 * * ? *)" in listed.stdout
    fired = subprocess.run(  # noqa: S603
        [*fire, "RecorderFunctionReminder"], capture_output=True, text=True, cwd=ROOT, check=True
    )

    assert "fired now, 1 target(s) invoked" in fired.stdout
    assert delivered(record_to, lambda e: e == {"job": "reminder"}, "the fired schedule")
    unknown = subprocess.run([*fire, "Nope"], capture_output=True, text=True, cwd=ROOT, check=False)  # noqa: S603
    assert unknown.returncode == 1
    assert "no schedule named 'Nope'" in unknown.stderr


def test_a_rate_schedule_fires_within_its_period(cloud: LocalCloud, record_to: Path) -> None:
    rule_arn = cloud.outputs["TickRuleArn"]
    [event, *_] = wait_for(
        lambda: events_where(record_to, lambda e: isinstance(e, dict) and e.get("resources") == [rule_arn]),
        70,  # rate(1 minute): a minute after the cloud started, at the latest
        "the scheduled event",
    )
    assert event["detail-type"] == "Scheduled Event"
    assert event["source"] == "aws.events"
    assert event["detail"] == {}
