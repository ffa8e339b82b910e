"""sam_local_cloud/aws_apis/lambda_deliveries.py: what moto would hand its own Lambda (SNS, S3, EventBridge),
after moto's own matching, reaches the local cloud's functions in AWS's event shapes
(docs/aws-behaviour.md §14.3, §14.5, §14.6); moto's other deliveries are untouched."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from sam_local_cloud.aws_apis import lambda_deliveries
from tests.offline_aws import offline_aws
from tests.unit.triggers.support import FUNCTION_ARN, REGION


class Delivered(list[tuple[str, Any, str]]):
    def events(self) -> list[Any]:
        return [event for _, event, _ in self]


@pytest.fixture
def delivered() -> Iterator[Delivered]:
    got = Delivered()
    with offline_aws(REGION):
        lambda_deliveries.deliver_to(lambda arn, event, source: got.append((arn, event, source)))
        try:
            yield got
        finally:
            lambda_deliveries.deliver_to(None)


# ---------------------------------------------------------------- SNS


def subscribed_topic(**attributes: str) -> tuple[Any, str, str]:
    sns = boto3.client("sns", region_name=REGION)
    topic = sns.create_topic(Name="orders")["TopicArn"]
    subscription = sns.subscribe(
        TopicArn=topic, Protocol="lambda", Endpoint=FUNCTION_ARN, Attributes=attributes
    )["SubscriptionArn"]
    return sns, topic, subscription


def test_sns_gives_the_function_its_event(delivered: Delivered) -> None:
    sns, topic, subscription = subscribed_topic()
    published = sns.publish(
        TopicArn=topic,
        Message="hello",
        Subject="greeting",
        MessageAttributes={
            "color": {"DataType": "String", "StringValue": "red"},
            "size": {"DataType": "Number", "StringValue": "3"},
        },
    )

    [(arn, event, source)] = delivered
    assert arn == FUNCTION_ARN
    assert source == "SNS orders"
    [record] = event["Records"]
    assert record["EventSource"] == "aws:sns"
    assert record["EventVersion"] == "1.0"
    assert record["EventSubscriptionArn"] == subscription
    message = record["Sns"]
    assert message["Type"] == "Notification"
    assert message["MessageId"] == published["MessageId"]
    assert message["TopicArn"] == topic
    assert message["Subject"] == "greeting"
    assert message["Message"] == "hello"
    assert message["MessageAttributes"] == {
        "color": {"Type": "String", "Value": "red"},
        "size": {"Type": "Number", "Value": "3"},
    }
    assert message["Timestamp"].endswith("Z")
    assert {"SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl"} <= set(message)


def test_sns_without_a_subject_gives_null(delivered: Delivered) -> None:
    sns, topic, _ = subscribed_topic()
    sns.publish(TopicArn=topic, Message="hello")
    assert delivered.events()[0]["Records"][0]["Sns"]["Subject"] is None


def test_an_attribute_filter_policy_lets_through_only_what_matches(delivered: Delivered) -> None:
    sns, topic, _ = subscribed_topic(FilterPolicy=json.dumps({"color": ["red"]}))
    for color in ("red", "blue"):
        attributes = {"color": {"DataType": "String", "StringValue": color}}
        sns.publish(TopicArn=topic, Message=color, MessageAttributes=attributes)
    sns.publish(TopicArn=topic, Message="no attributes")

    assert [e["Records"][0]["Sns"]["Message"] for e in delivered.events()] == ["red"]


def test_a_payload_filter_policy_reads_the_message_body(delivered: Delivered) -> None:
    sns, topic, _ = subscribed_topic(
        FilterPolicy=json.dumps({"order": {"total": [{"numeric": [">", 100]}]}}),
        FilterPolicyScope="MessageBody",
    )
    for total in (50, 150):
        sns.publish(TopicArn=topic, Message=json.dumps({"order": {"total": total}}))

    assert [json.loads(e["Records"][0]["Sns"]["Message"]) for e in delivered.events()] == [
        {"order": {"total": 150}}
    ]


def test_a_json_message_structure_gives_the_function_its_lambda_message(delivered: Delivered) -> None:
    sns, topic, _ = subscribed_topic()
    message = json.dumps({"default": "for everyone", "lambda": "for functions"})
    sns.publish(TopicArn=topic, Message=message, MessageStructure="json")
    assert delivered.events()[0]["Records"][0]["Sns"]["Message"] == "for functions"


def test_sns_still_delivers_to_queues_itself(delivered: Delivered) -> None:
    sns, topic, _ = subscribed_topic()
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn)

    sns.publish(TopicArn=topic, Message="both")

    assert len(delivered) == 1
    body = json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])
    assert body["Message"] == "both"


# ---------------------------------------------------------------- S3


def notified_bucket(*configurations: dict[str, Any]) -> Any:
    s3 = boto3.client("s3", region_name=REGION)
    s3.create_bucket(Bucket="uploads")
    s3.put_bucket_notification_configuration(
        Bucket="uploads",
        NotificationConfiguration={
            "LambdaFunctionConfigurations": [{"LambdaFunctionArn": FUNCTION_ARN, **c} for c in configurations]
        },
    )
    return s3


def key_filter(**rules: str) -> dict[str, Any]:
    return {"Key": {"FilterRules": [{"Name": name, "Value": value} for name, value in rules.items()]}}


def test_s3_gives_the_function_its_event(delivered: Delivered) -> None:
    s3 = notified_bucket({"Id": "on-upload", "Events": ["s3:ObjectCreated:*"]})
    put = s3.put_object(Bucket="uploads", Key="in/a file.txt", Body=b"12345")

    [(arn, event, source)] = delivered
    assert arn == FUNCTION_ARN
    assert source == "S3 uploads"
    [record] = event["Records"]
    assert record["eventVersion"] == "2.1"
    assert record["eventSource"] == "aws:s3"
    assert record["awsRegion"] == REGION
    assert record["eventName"] == "ObjectCreated:Put"
    assert record["eventTime"].endswith("Z")
    assert {"userIdentity", "requestParameters", "responseElements"} <= set(record)
    s3_part = record["s3"]
    assert s3_part["s3SchemaVersion"] == "1.0"
    assert s3_part["configurationId"] == "on-upload"
    assert s3_part["bucket"]["name"] == "uploads"
    assert s3_part["bucket"]["arn"] == "arn:aws:s3:::uploads"
    assert s3_part["object"]["key"] == "in/a+file.txt"  # URL-encoded, as S3 sends it
    assert s3_part["object"]["size"] == 5
    assert s3_part["object"]["eTag"] == put["ETag"].strip('"')
    assert s3_part["object"]["sequencer"]


@pytest.mark.parametrize(
    ("key", "delivered_to_function"),
    [("in/report.csv", True), ("in/report.txt", False), ("out/report.csv", False), ("in/", False)],
)
def test_prefix_and_suffix_rules_both_apply(
    delivered: Delivered, key: str, delivered_to_function: bool
) -> None:
    s3 = notified_bucket(
        {"Events": ["s3:ObjectCreated:*"], "Filter": key_filter(prefix="in/", suffix=".csv")}
    )
    s3.put_object(Bucket="uploads", Key=key, Body=b"x")
    assert bool(delivered) is delivered_to_function


def test_event_names_match_exactly_or_by_their_wildcard(delivered: Delivered) -> None:
    s3 = notified_bucket({"Events": ["s3:ObjectRemoved:*"]}, {"Events": ["s3:ObjectCreated:Copy"]})
    s3.put_object(Bucket="uploads", Key="a", Body=b"x")  # ObjectCreated:Put: neither
    s3.copy_object(Bucket="uploads", Key="b", CopySource={"Bucket": "uploads", "Key": "a"})
    s3.delete_object(Bucket="uploads", Key="a")

    assert [e["Records"][0]["eventName"] for e in delivered.events()] == [
        "ObjectCreated:Copy",
        "ObjectRemoved:Delete",
    ]


# ---------------------------------------------------------------- EventBridge


def rule_with_target(pattern: dict[str, Any] | None = None, **target: Any) -> Any:
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="orders", EventPattern=json.dumps(pattern or {"source": ["shop"]}))
    events.put_targets(Rule="orders", Targets=[{"Id": "function", "Arn": FUNCTION_ARN, **target}])
    return events


def put(events: Any, detail: dict[str, Any], source: str = "shop", **entry: Any) -> None:
    answer = events.put_events(
        Entries=[{"Source": source, "DetailType": "Order Placed", "Detail": json.dumps(detail), **entry}]
    )
    assert answer["FailedEntryCount"] == 0


def test_a_matching_event_reaches_the_function_as_eventbridge_sends_it(delivered: Delivered) -> None:
    events = rule_with_target()
    put(events, {"id": "o-1"}, Resources=["arn:aws:s3:::uploads"])

    [(arn, event, source)] = delivered
    assert arn == FUNCTION_ARN
    assert source == "EventBridge rule orders"
    assert event["version"] == "0"
    assert event["source"] == "shop"
    assert event["detail-type"] == "Order Placed"
    assert event["detail"] == {"id": "o-1"}
    assert event["resources"] == ["arn:aws:s3:::uploads"]
    assert event["region"] == REGION
    assert event["account"] == "123456789012"
    assert event["time"].endswith("Z")
    assert "T" in event["time"]
    assert "ingestion-time" not in event


def test_the_pattern_decides_what_is_delivered(delivered: Delivered) -> None:
    events = rule_with_target({"source": ["shop"], "detail": {"total": [{"numeric": [">=", 100]}]}})
    put(events, {"total": 150})
    put(events, {"total": 50})
    put(events, {"total": 500}, source="elsewhere")

    assert [e["detail"]["total"] for e in delivered.events()] == [150]


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ({"Input": json.dumps({"fixed": True})}, {"fixed": True}),
        ({"InputPath": "$.detail"}, {"id": "o-1", "total": 7}),
        (
            {
                "InputTransformer": {
                    "InputPathsMap": {"order": "$.detail.id"},
                    "InputTemplate": '{"order": "<order>", "kind": "placed"}',
                }
            },
            {"order": "o-1", "kind": "placed"},
        ),
    ],
)
def test_a_targets_input_shapes_what_the_function_gets(
    delivered: Delivered, target: dict[str, Any], expected: Any
) -> None:
    events = rule_with_target(**target)
    put(events, {"id": "o-1", "total": 7})
    assert delivered.events() == [expected]


def test_a_disabled_rule_delivers_nothing(delivered: Delivered) -> None:
    events = rule_with_target()
    events.disable_rule(Name="orders")
    put(events, {"id": "o-1"})
    assert delivered == []


def test_a_schedule_rule_receives_no_put_events(delivered: Delivered) -> None:
    events = boto3.client("events", region_name=REGION)
    events.put_rule(Name="nightly", ScheduleExpression="cron(0 3 * * ? *)")
    events.put_targets(Rule="nightly", Targets=[{"Id": "function", "Arn": FUNCTION_ARN}])
    put(events, {"id": "o-1"})
    assert delivered == []


def test_a_rule_still_delivers_to_its_other_targets_itself(delivered: Delivered) -> None:
    events = rule_with_target()
    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.create_queue(QueueName="copy")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    events.put_targets(Rule="orders", Targets=[{"Id": "queue", "Arn": queue_arn}])

    put(events, {"id": "o-1"})

    assert len(delivered) == 1
    assert json.loads(sqs.receive_message(QueueUrl=url)["Messages"][0]["Body"])["detail"] == {"id": "o-1"}


def test_without_a_listener_moto_gets_its_own_deliveries_back() -> None:
    with offline_aws(REGION):
        lambda_deliveries.deliver_to(lambda *_: None)
        lambda_deliveries.deliver_to(None)
        import moto.sns.models

        assert moto.sns.models.Subscription.publish is lambda_deliveries._MOTOS["sns_publish"]
