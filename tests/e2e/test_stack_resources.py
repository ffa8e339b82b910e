"""The template grows as a user grows it, and the local cloud keeps up (docs/aws-behaviour.md §13).

A copy of template.yaml gets a queue with a dead-letter queue, a bucket with notifications, a topic with
a subscription, a parameter, a secret, an event bus with a rule, a stream, a key, a state machine, a
table with a stream and a function (tests/fixtures/resources_probe/app.py) that uses each with plain
boto3, as against AWS. Through the running local cloud: each call of the function succeeds, its effects
are there, what the template cannot have locally is named at start-up, and CloudFormation's API
describes the stack under samconfig.toml's name with the outputs the outputs file has.
"""

from __future__ import annotations

import json
import shutil
import time
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import requests
from botocore.exceptions import ClientError

from sam_local_cloud.cloudformation.spec import active
from sam_local_cloud.cloudformation.template import translate
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import ROOT, LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="grows a copy of the template")

# What a user appends under Resources: (plain CloudFormation and SAM, names left to CloudFormation).
ADDED_RESOURCES = """
  OrdersDeadLetterQueue:
    Type: AWS::SQS::Queue

  OrdersQueue:
    Type: AWS::SQS::Queue
    Properties:
      VisibilityTimeout: 1
      RedrivePolicy:
        deadLetterTargetArn: !GetAtt OrdersDeadLetterQueue.Arn
        maxReceiveCount: 1

  UploadsQueue:
    Type: AWS::SQS::Queue

  UploadsBucket:
    Type: AWS::S3::Bucket
    Properties:
      NotificationConfiguration:
        QueueConfigurations:
          - Event: s3:ObjectCreated:*
            Queue: !GetAtt UploadsQueue.Arn
            Filter:
              S3Key:
                Rules:
                  - Name: prefix
                    Value: incoming/

  NewsTopic:
    Type: AWS::SNS::Topic

  NewsQueue:
    Type: AWS::SQS::Queue

  NewsQueueSubscription:
    Type: AWS::SNS::Subscription
    Properties:
      TopicArn: !Ref NewsTopic
      Protocol: sqs
      Endpoint: !GetAtt NewsQueue.Arn
      RawMessageDelivery: true

  GreetingParameter:
    Type: AWS::SSM::Parameter
    Properties:
      Type: String
      Value: hello from SSM

  ApiSecret:
    Type: AWS::SecretsManager::Secret
    Properties:
      GenerateSecretString:
        SecretStringTemplate: '{"username": "app"}'
        GenerateStringKey: password
        ExcludePunctuation: true

  OrdersBus:
    Type: AWS::Events::EventBus
    Properties:
      Name: !Sub ${AWS::StackName}-orders

  PlacedOrdersQueue:
    Type: AWS::SQS::Queue

  OrderPlacedRule:
    Type: AWS::Events::Rule
    Properties:
      EventBusName: !Ref OrdersBus
      EventPattern:
        source: [shop.orders]
        detail-type: [OrderPlaced]
      Targets:
        - Id: placed-orders
          Arn: !GetAtt PlacedOrdersQueue.Arn

  ClicksStream:
    Type: AWS::Kinesis::Stream
    Properties:
      ShardCount: 1

  ProbeKey:
    Type: AWS::KMS::Key
    Properties:
      KeyPolicy:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              AWS: !Sub arn:${AWS::Partition}:iam::${AWS::AccountId}:root
            Action: kms:*
            Resource: "*"

  WorkflowRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Version: "2012-10-17"
        Statement:
          - Effect: Allow
            Principal:
              Service: states.amazonaws.com
            Action: sts:AssumeRole

  Workflow:
    Type: AWS::StepFunctions::StateMachine
    Properties:
      RoleArn: !GetAtt WorkflowRole.Arn
      DefinitionString: '{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}'

  ChangesTable:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions:
        - AttributeName: id
          AttributeType: S
      KeySchema:
        - AttributeName: id
          KeyType: HASH
      StreamSpecification:
        StreamViewType: NEW_AND_OLD_IMAGES

  ErrorsAlarm:
    Type: AWS::CloudWatch::Alarm
    Properties:
      Namespace: AWS/Lambda
      MetricName: Errors
      Statistic: Sum
      Period: 60
      EvaluationPeriods: 1
      Threshold: 1
      ComparisonOperator: GreaterThanOrEqualToThreshold

  ProbeFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: probe/
      Handler: app.handler
      Timeout: 30
      Policies:
        - SQSSendMessagePolicy: {QueueName: !GetAtt OrdersQueue.QueueName}
        - S3CrudPolicy: {BucketName: !Ref UploadsBucket}
        - SNSPublishMessagePolicy: {TopicName: !GetAtt NewsTopic.TopicName}
        - SSMParameterReadPolicy: {ParameterName: !Ref GreetingParameter}
        - AWSSecretsManagerGetSecretValuePolicy: {SecretArn: !Ref ApiSecret}
        - EventBridgePutEventsPolicy: {EventBusName: !Ref OrdersBus}
        - KinesisCrudPolicy: {StreamName: !Ref ClicksStream}
        - KMSEncryptPolicy: {KeyId: !Ref ProbeKey}
        - KMSDecryptPolicy: {KeyId: !Ref ProbeKey}
        - StepFunctionsExecutionPolicy: {StateMachineName: !GetAtt Workflow.Name}
      Environment:
        Variables:
          ORDERS_QUEUE_URL: !Ref OrdersQueue
          UPLOADS_BUCKET: !Ref UploadsBucket
          NEWS_TOPIC_ARN: !Ref NewsTopic
          GREETING_PARAMETER: !Ref GreetingParameter
          API_SECRET_ARN: !Ref ApiSecret
          ORDERS_BUS: !Ref OrdersBus
          CLICKS_STREAM: !Ref ClicksStream
          DATA_KEY_ID: !Ref ProbeKey
          WORKFLOW_ARN: !Ref Workflow
          CHANGES_STREAM_ARN: !GetAtt ChangesTable.StreamArn
      Events:
        Probe:
          Type: HttpApi
          Properties:
            ApiId: !Ref ProductsHttpApi
            Path: /probe
            Method: POST
            Auth:
              Authorizer: NONE
"""

ADDED_OUTPUTS = """
  OrdersQueueUrl:
    Description: Where orders are sent.
    Value: !Ref OrdersQueue
    Export:
      Name: !Sub ${AWS::StackName}-OrdersQueueUrl
  UploadsBucketName:
    Value: !Ref UploadsBucket
"""


def grown_template(folder: Path) -> Path:
    """template.yaml with the additions, beside its samconfig.toml, the product functions and the probe."""
    source = (ROOT / "template.yaml").read_text()
    head, outputs = source.split("\nOutputs:\n", 1)
    (folder / "template.yaml").write_text(f"{head}\n{ADDED_RESOURCES}\nOutputs:\n{outputs}{ADDED_OUTPUTS}")
    shutil.copy(ROOT / "samconfig.toml", folder / "samconfig.toml")
    (folder / "functions").symlink_to(ROOT / "functions")
    shutil.copytree(FIXTURES / "resources_probe", folder / "probe")
    return folder / "template.yaml"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return grown_template(tmp_path_factory.mktemp("grown"))


@pytest.fixture(scope="module")
def grown(template: Path) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(template.parent, "--template", str(template))
    yield cloud
    cloud.stop()


@pytest.fixture(scope="module")
def probed(grown: LocalCloud) -> dict[str, Any]:
    """The probe function's answer: it has made each of its calls once."""
    response = requests.post(f"{grown.outputs['HttpApiUrl']}probe", timeout=60)
    assert response.status_code == 200, (response.text, grown.console[-3000:])
    return response.json()


def _stack_resources(cloud: LocalCloud) -> dict[str, dict[str, Any]]:
    stack = _stack_name()
    summaries = cloud.aws("cloudformation").list_stack_resources(StackName=stack)["StackResourceSummaries"]
    return {s["LogicalResourceId"]: s for s in summaries}


def _stack_name() -> str:
    """The stack name `sam deploy` uses: samconfig.toml's."""
    config = tomllib.loads((ROOT / "samconfig.toml").read_text())
    return str(config["default"]["global"]["parameters"]["stack_name"])


def _physical(cloud: LocalCloud, logical_id: str) -> str:
    return str(_stack_resources(cloud)[logical_id]["PhysicalResourceId"])


def _receive(cloud: LocalCloud, queue_url: str, wait: float = 10, delete: bool = True) -> list[str]:
    """The bodies of the first messages to arrive, deleted as a consumer deletes what it handled
    (unless `delete` is False: then they come back once their visibility timeout ends)."""
    sqs = cloud.aws("sqs")
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        if messages.get("Messages"):
            for message in messages["Messages"] if delete else []:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            return [m["Body"] for m in messages["Messages"]]
    return []


# ---------------------------------------------------------------- the function's calls reach them


def test_the_function_reads_the_parameter_and_the_secret(probed: dict[str, Any]) -> None:
    assert probed["greeting"] == "hello from SSM"
    assert probed["secret_user"] == "app"


def test_the_queue_holds_what_the_function_sent(grown: LocalCloud, probed: dict[str, Any]) -> None:
    assert _receive(grown, _physical(grown, "OrdersQueue")) == ["order-1"]


def test_the_queue_redrives_to_its_dead_letter_queue(grown: LocalCloud, probed: dict[str, Any]) -> None:
    sqs = grown.aws("sqs")
    orders, dead_letters = _physical(grown, "OrdersQueue"), _physical(grown, "OrdersDeadLetterQueue")
    policy = json.loads(
        sqs.get_queue_attributes(QueueUrl=orders, AttributeNames=["All"])["Attributes"]["RedrivePolicy"]
    )
    arn = sqs.get_queue_attributes(QueueUrl=dead_letters, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    assert policy == {"deadLetterTargetArn": arn, "maxReceiveCount": 1}
    sqs.send_message(QueueUrl=orders, MessageBody="poison")
    assert _receive(grown, orders, delete=False) == ["poison"]  # received once (maxReceiveCount)...
    time.sleep(1.2)  # ...its visibility timeout ends, and the next receive moves it
    assert _receive(grown, orders, wait=2) == []
    assert _receive(grown, dead_letters) == ["poison"]


def test_the_bucket_holds_the_object_and_notifies_its_queue(
    grown: LocalCloud, probed: dict[str, Any]
) -> None:
    bucket = _physical(grown, "UploadsBucket")
    assert grown.aws("s3").get_object(Bucket=bucket, Key="incoming/hello.txt")["Body"].read() == b"hello"
    events = [json.loads(body) for body in _receive(grown, _physical(grown, "UploadsQueue"))]
    records = [r for e in events for r in e.get("Records", [])]
    # S3 writes the key URL-encoded in its events (moto also encodes the "/": decoded here).
    assert [(r["eventName"], unquote_plus(r["s3"]["object"]["key"])) for r in records] == [
        ("ObjectCreated:Put", "incoming/hello.txt")
    ]


def test_the_topic_delivers_to_its_subscribed_queue(grown: LocalCloud, probed: dict[str, Any]) -> None:
    assert _receive(grown, _physical(grown, "NewsQueue")) == ["news-1"]


def test_the_bus_rule_routes_the_event_to_its_target(grown: LocalCloud, probed: dict[str, Any]) -> None:
    assert probed["events_failed"] == 0
    (event,) = [json.loads(body) for body in _receive(grown, _physical(grown, "PlacedOrdersQueue"))]
    assert (event["source"], event["detail-type"], event["detail"]) == (
        "shop.orders",
        "OrderPlaced",
        {"id": "order-1"},
    )


def test_the_stream_holds_the_record(grown: LocalCloud, probed: dict[str, Any]) -> None:
    kinesis = grown.aws("kinesis")
    stream = _physical(grown, "ClicksStream")
    shard = kinesis.list_shards(StreamName=stream)["Shards"][0]["ShardId"]
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = kinesis.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["Data"] for r in records] == [b"click-1"]


def test_the_key_and_the_state_machine_answer(grown: LocalCloud, probed: dict[str, Any]) -> None:
    assert probed["unsealed"] == "sealed"
    workflow = _physical(grown, "Workflow")
    executions = grown.aws("stepfunctions").list_executions(stateMachineArn=workflow)["executions"]
    assert [e["executionArn"] for e in executions] == [probed["execution"]]


def test_the_table_s_stream_arn_is_the_table_s(grown: LocalCloud, probed: dict[str, Any]) -> None:
    table = grown.aws("dynamodb").describe_table(TableName=_physical(grown, "ChangesTable"))["Table"]
    assert probed["changes_stream"] == table["LatestStreamArn"]


# ---------------------------------------------------------------- nothing silent


def test_start_up_names_what_is_not_reproduced_and_counts_what_is(grown: LocalCloud) -> None:
    console = grown.console
    assert "  - ErrorsAlarm (AWS::CloudWatch::Alarm): no local emulation of this type" in console
    created = next(line for line in console.splitlines() if line.startswith("  created "))
    for kind in ("SQS::Queue 5", "S3::Bucket 1", "SNS::Topic 1", "SSM::Parameter 1", "Events::EventBus 1",
                 "Events::Rule 1", "Kinesis::Stream 1", "KMS::Key 1", "StepFunctions::StateMachine 1",
                 "SNS::Subscription 1", "SecretsManager::Secret 1", "DynamoDB::Table 3"):  # fmt: skip
        assert kind in created


# ---------------------------------------------------------------- the stack, with CloudFormation's API


def test_describe_stacks_gives_the_outputs_the_outputs_file_has(grown: LocalCloud) -> None:
    (stack,) = grown.aws("cloudformation").describe_stacks(StackName=_stack_name())["Stacks"]
    assert stack["StackStatus"] == "CREATE_COMPLETE"
    outputs = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    assert outputs["ApiUrl"] == grown.outputs["ApiUrl"].rstrip("/")
    assert outputs["HttpApiUrl"] == grown.outputs["HttpApiUrl"]
    assert outputs["OrdersQueueUrl"] == _physical(grown, "OrdersQueue")
    assert {k: v for k, v in outputs.items() if k in grown.outputs} == {
        k: grown.outputs[k] for k in outputs if k in grown.outputs
    }
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert parameters["StageName"] == grown.outputs["ApiUrl"].rstrip("/").rsplit("/", 1)[1]


def test_list_stack_resources_gives_every_resource_with_its_physical_id(
    grown: LocalCloud, template: Path
) -> None:
    resources = _stack_resources(grown)
    transformed = active(
        translate({"AllowUserPasswordAuth": "true"}, path=template, stack_name=_stack_name())
    )
    assert set(resources) == set(transformed.resources)
    assert resources["UserPool"]["PhysicalResourceId"] == grown.outputs["UserPoolId"]
    assert resources["OrdersQueue"]["ResourceType"] == "AWS::SQS::Queue"
    assert resources["OrdersQueue"]["PhysicalResourceId"].startswith("https://sqs.")
    assert {r["ResourceStatus"] for r in resources.values()} == {"CREATE_COMPLETE"}


def test_describe_stack_resource_and_resources(grown: LocalCloud) -> None:
    cloudformation = grown.aws("cloudformation")
    detail = cloudformation.describe_stack_resource(
        StackName=_stack_name(), LogicalResourceId="UploadsBucket"
    )
    assert detail["StackResourceDetail"]["PhysicalResourceId"] == grown.outputs["UploadsBucketName"]
    every = cloudformation.describe_stack_resources(StackName=_stack_name())["StackResources"]
    assert {r["LogicalResourceId"] for r in every} == set(_stack_resources(grown))
    with pytest.raises(ClientError, match="ValidationError"):
        cloudformation.describe_stack_resource(StackName=_stack_name(), LogicalResourceId="NoSuchThing")


def test_list_exports_gives_the_exported_outputs(grown: LocalCloud) -> None:
    exports = grown.aws("cloudformation").list_exports()["Exports"]
    assert [(e["Name"], e["Value"]) for e in exports] == [
        (f"{_stack_name()}-OrdersQueueUrl", _physical(grown, "OrdersQueue"))
    ]


def test_another_stack_name_is_a_validation_error(grown: LocalCloud) -> None:
    with pytest.raises(ClientError, match="does not exist"):
        grown.aws("cloudformation").describe_stacks(StackName="no-such-stack")
