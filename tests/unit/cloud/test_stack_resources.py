"""The template's resources made in the local AWS APIs: Ref and Fn::GetAtt in CloudFormation's shapes,
physical names as CloudFormation makes them, the order they are made in, and what is not reproduced
(sam_local_cloud/cloudformation/provision.py, inventory.py,
sam_local_cloud/aws_apis/cloudformation_models.py). The shapes are CloudFormation's documented return values:
docs/aws-behaviour.md §13."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from samtranslator.yaml_helper import yaml_parse

from sam_local_cloud.cloudformation.inventory import (
    CREATED,
    NO_EMULATION,
    NOT_REPRODUCED,
    StackResource,
    dependency_order,
    physical_name,
    references,
    report,
)
from sam_local_cloud.cloudformation.provision import Provisioned, Provisioner, bucket_notifications
from sam_local_cloud.cloudformation.resolve import Unresolvable
from sam_local_cloud.cloudformation.spec import read_spec
from sam_local_cloud.cloudformation.template import Template
from tests.offline_aws import offline_aws

REGION = "us-east-1"
ACCOUNT = "123456789012"
STACK = "shop"
SUFFIX = "[A-Z2-7]{13}"  # CloudFormation's: 12-13 upper-case letters and digits

RESOURCES = """
Orders:
  Type: AWS::SQS::Queue
  Properties:
    VisibilityTimeout: 45
    RedrivePolicy:
      deadLetterTargetArn: !GetAtt OrdersDeadLetters.Arn
      maxReceiveCount: 3
OrdersDeadLetters:
  Type: AWS::SQS::Queue
Sequenced:
  Type: AWS::SQS::Queue
  Properties:
    FifoQueue: true
Uploads:
  Type: AWS::S3::Bucket
  Properties:
    NotificationConfiguration:
      QueueConfigurations:
        - Event: s3:ObjectCreated:*
          Queue: !GetAtt Orders.Arn
          Filter:
            S3Key:
              Rules:
                - Name: prefix
                  Value: incoming/
News:
  Type: AWS::SNS::Topic
NewsToOrders:
  Type: AWS::SNS::Subscription
  Properties:
    TopicArn: !Ref News
    Protocol: sqs
    Endpoint: !GetAtt Orders.Arn
    RawMessageDelivery: true
    FilterPolicy:
      kind: [order]
Greeting:
  Type: AWS::SSM::Parameter
  Properties:
    Type: String
    Value: hello
ApiSecret:
  Type: AWS::SecretsManager::Secret
  Properties:
    GenerateSecretString:
      SecretStringTemplate: '{"username": "app"}'
      GenerateStringKey: password
      PasswordLength: 24
      ExcludePunctuation: true
Bus:
  Type: AWS::Events::EventBus
  Properties:
    Name: shop-orders
EveryMinute:
  Type: AWS::Events::Rule
  Properties:
    ScheduleExpression: rate(1 minute)
Clicks:
  Type: AWS::Kinesis::Stream
  Properties:
    ShardCount: 1
DataKey:
  Type: AWS::KMS::Key
  Properties:
    KeyPolicy:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {AWS: !Sub "arn:aws:iam::${AWS::AccountId}:root"}
          Action: kms:*
          Resource: "*"
    Tags:
      - {Key: team, Value: shop}
WorkflowRole:
  Type: AWS::IAM::Role
  Properties:
    AssumeRolePolicyDocument:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Principal: {Service: states.amazonaws.com}
          Action: sts:AssumeRole
Workflow:
  Type: AWS::StepFunctions::StateMachine
  Properties:
    RoleArn: !GetAtt WorkflowRole.Arn
    DefinitionString: '{"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}}'
Logs:
  Type: AWS::Logs::LogGroup
Changes:
  Type: AWS::DynamoDB::Table
  Properties:
    BillingMode: PAY_PER_REQUEST
    AttributeDefinitions: [{AttributeName: id, AttributeType: S}]
    KeySchema: [{AttributeName: id, KeyType: HASH}]
    StreamSpecification:
      StreamViewType: NEW_AND_OLD_IMAGES
TooBusy:
  Type: AWS::CloudWatch::Alarm
  Properties:
    MetricName: Errors
    Namespace: AWS/Lambda
    Statistic: Sum
    Period: 60
    EvaluationPeriods: 1
    Threshold: 1
    ComparisonOperator: GreaterThanOrEqualToThreshold
"""


def _template(resources: str = RESOURCES) -> Template:
    return Template(resources=yaml_parse(resources), outputs={}, conditions={}, parameters={})


def _provision(template: Template) -> Provisioned:
    def client(service: str) -> Any:
        make: Any = boto3.client
        return make(service, region_name=REGION)

    return Provisioner(client, region=REGION, stack_name=STACK).provision(template, read_spec(template))


@pytest.fixture(scope="module")
def made() -> Iterator[Provisioned]:
    with offline_aws(REGION):
        yield _provision(_template())


def _ref(made: Provisioned, name: str) -> str:
    return str(made.resolver.resolve({"Ref": name}))


def _att(made: Provisioned, name: str, attribute: str) -> str:
    return str(made.resolver.resolve({"Fn::GetAtt": [name, attribute]}))


# ---------------------------------------------------------------- Ref and Fn::GetAtt, type by type


def test_a_queue_refs_its_url_and_has_its_arn_and_name(made: Provisioned) -> None:
    url = _ref(made, "Orders")
    assert re.fullmatch(rf"https://sqs\.{REGION}\.amazonaws\.com/{ACCOUNT}/{STACK}-Orders-{SUFFIX}", url)
    name = url.rsplit("/", 1)[1]
    assert _att(made, "Orders", "Arn") == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    assert _att(made, "Orders", "QueueName") == name
    assert _att(made, "Orders", "QueueUrl") == url


def test_a_queue_has_its_redrive_policy_and_visibility_timeout(made: Provisioned) -> None:
    from moto.sqs.models import sqs_backends

    queue = sqs_backends[ACCOUNT][REGION].get_queue(_att(made, "Orders", "QueueName"))
    assert queue.visibility_timeout == 45
    assert queue.redrive_policy["deadLetterTargetArn"] == _att(made, "OrdersDeadLetters", "Arn")
    assert int(queue.redrive_policy["maxReceiveCount"]) == 3


def test_a_fifo_queue_without_a_name_gets_one_ending_in_fifo(made: Provisioned) -> None:
    assert re.fullmatch(rf"{STACK}-Sequenced-{SUFFIX}\.fifo", _att(made, "Sequenced", "QueueName"))


def test_a_bucket_refs_its_lower_case_name_and_has_its_arn_and_domain_names(made: Provisioned) -> None:
    name = _ref(made, "Uploads")
    assert re.fullmatch(rf"{STACK}-uploads-{SUFFIX.lower()}", name)
    assert _att(made, "Uploads", "Arn") == f"arn:aws:s3:::{name}"
    assert _att(made, "Uploads", "DomainName") == f"{name}.s3.amazonaws.com"
    assert _att(made, "Uploads", "RegionalDomainName") == f"{name}.s3.{REGION}.amazonaws.com"


def test_a_topic_refs_its_arn_and_a_subscription_its_own(made: Provisioned) -> None:
    arn = _ref(made, "News")
    assert re.fullmatch(rf"arn:aws:sns:{REGION}:{ACCOUNT}:{STACK}-News-{SUFFIX}", arn)
    assert _att(made, "News", "TopicArn") == arn
    assert _att(made, "News", "TopicName") == arn.rsplit(":", 1)[1]
    assert re.fullmatch(rf"{re.escape(arn)}:[0-9a-f-]{{36}}", _ref(made, "NewsToOrders"))


def test_a_parameter_refs_its_name(made: Provisioned) -> None:
    assert re.fullmatch(rf"CFN-Greeting-{SUFFIX}", _ref(made, "Greeting"))
    assert _att(made, "Greeting", "Value") == "hello"
    assert _att(made, "Greeting", "Type") == "String"


def test_a_secret_refs_its_arn_and_holds_the_generated_string(made: Provisioned) -> None:
    arn = _ref(made, "ApiSecret")
    assert re.fullmatch(rf"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:ApiSecret-{SUFFIX}-\w{{6}}", arn)
    assert _att(made, "ApiSecret", "Id") == arn


def test_a_bus_refs_its_name_a_rule_its_name_both_with_arns(made: Provisioned) -> None:
    assert _ref(made, "Bus") == "shop-orders"
    assert _att(made, "Bus", "Arn") == f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/shop-orders"
    rule = _ref(made, "EveryMinute")
    assert re.fullmatch(rf"{STACK}-EveryMinute-{SUFFIX}", rule)
    assert _att(made, "EveryMinute", "Arn") == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{rule}"


def test_a_stream_a_key_a_role_a_state_machine_and_a_log_group(made: Provisioned) -> None:
    stream = _ref(made, "Clicks")
    assert _att(made, "Clicks", "Arn") == f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/{stream}"
    key = _ref(made, "DataKey")
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", key)
    assert _att(made, "DataKey", "Arn") == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{key}"
    assert _att(made, "DataKey", "KeyId") == key
    role = _ref(made, "WorkflowRole")
    assert re.fullmatch(rf"{STACK}-WorkflowRole-{SUFFIX}", role)
    assert _att(made, "WorkflowRole", "Arn") == f"arn:aws:iam::{ACCOUNT}:role/{role}"
    assert re.fullmatch(r"AROA[A-Z0-9]{17}", _att(made, "WorkflowRole", "RoleId"))
    machine = _ref(made, "Workflow")
    assert re.fullmatch(rf"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{STACK}-Workflow-{SUFFIX}", machine)
    assert _att(made, "Workflow", "Name") == machine.rsplit(":", 1)[1]
    group = _ref(made, "Logs")
    assert _att(made, "Logs", "Arn") == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*"


def test_a_key_keeps_its_tags_as_cloudformation_writes_them(made: Provisioned) -> None:
    kms: Any = boto3.client("kms", region_name=REGION)
    tags = kms.list_resource_tags(KeyId=_ref(made, "DataKey"))["Tags"]
    assert tags == [{"TagKey": "team", "TagValue": "shop"}]


def test_a_table_with_a_stream_has_its_stream_arn(made: Provisioned) -> None:
    table = _ref(made, "Changes")
    assert re.fullmatch(
        rf"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{table}/stream/\d{{4}}-\d\d-\d\dT[\d:.]+",
        _att(made, "Changes", "StreamArn"),
    )


def test_an_attribute_the_type_does_not_have_is_unresolvable(made: Provisioned) -> None:
    with pytest.raises(Unresolvable, match=r"Orders\.Nonsense"):
        _att(made, "Orders", "Nonsense")


def test_generated_names_are_the_same_at_every_start_and_differ_per_resource_and_stack() -> None:
    names = {
        physical_name("AWS::SQS::Queue", stack, logical_id) for stack in ("a", "b") for logical_id in "XY"
    }
    assert len(names) == 4
    assert physical_name("AWS::SQS::Queue", "a", "X") == physical_name("AWS::SQS::Queue", "a", "X")


# ---------------------------------------------------------------- what is not reproduced


def test_a_type_without_local_emulation_is_recorded_as_not_reproduced(made: Provisioned) -> None:
    alarm = made.resources["TooBusy"]
    assert (alarm.status, alarm.reason) == (NOT_REPRODUCED, NO_EMULATION)
    assert all(r.status == CREATED for name, r in made.resources.items() if name != "TooBusy")


def test_the_report_names_every_resource_not_reproduced_and_counts_the_rest(made: Provisioned) -> None:
    lines = report(made.resources.values())
    assert lines[0] == f"Resources: {len(made.resources) - 1} created, 0 served, 1 not reproduced"
    assert f"  - TooBusy (AWS::CloudWatch::Alarm): {NO_EMULATION}" in lines
    assert any(line.strip().startswith("created") and "SQS::Queue 3" in line for line in lines)


def test_the_report_names_each_of_several_of_a_type() -> None:
    resources = [
        StackResource(f"Permission{i}", "AWS::Lambda::Permission", NOT_REPRODUCED, f"Permission{i}", "why")
        for i in range(5)
    ]
    (line,) = [line for line in report(resources) if line.startswith("  - ")]
    assert all(f"Permission{i}" in line for i in range(5))


def test_what_moto_refuses_is_named_with_moto_s_reason() -> None:
    with offline_aws(REGION):
        made = _provision(_template("Broken:\n  Type: AWS::SSM::Parameter\n  Properties:\n    Value: x\n"))
    broken = made.resources["Broken"]
    assert broken.status == NOT_REPRODUCED
    assert broken.reason.startswith("moto refused it: ")


def test_a_reference_to_what_is_not_there_is_named_not_raised() -> None:
    template = (
        "Orders:\n  Type: AWS::SQS::Queue\n  Properties:\n    QueueName: !ImportValue other-stack-queue\n"
    )
    with offline_aws(REGION):
        made = _provision(_template(template))
    assert made.resources["Orders"].status == NOT_REPRODUCED
    assert "Fn::ImportValue" in made.resources["Orders"].reason


# ---------------------------------------------------------------- the bucket's notifications


def test_the_bucket_keeps_its_notification_configuration(made: Provisioned) -> None:
    from moto.s3.models import s3_backends

    bucket = s3_backends[ACCOUNT]["aws"].get_bucket(_ref(made, "Uploads"))
    (queue,) = bucket.notification_configuration.queue
    assert queue.arn == _att(made, "Orders", "Arn")
    assert queue.events == ["s3:ObjectCreated:*"]
    assert queue.filters == {"S3Key": {"FilterRule": [{"Name": "prefix", "Value": "incoming/"}]}}


def test_bucket_notifications_in_the_api_s_shape() -> None:
    config = {
        "LambdaConfigurations": [
            {
                "Event": "s3:ObjectRemoved:*",
                "Function": "arn:aws:lambda:us-east-1:1:function:f",
                "Filter": {"S3Key": {"Rules": [{"Name": "suffix", "Value": ".jpg"}]}},
            }
        ],
        "EventBridgeConfiguration": {"EventBridgeEnabled": True},
    }
    assert bucket_notifications(config) == {
        "LambdaFunctionConfigurations": [
            {
                "Events": ["s3:ObjectRemoved:*"],
                "LambdaFunctionArn": "arn:aws:lambda:us-east-1:1:function:f",
                "Filter": {"Key": {"FilterRules": [{"Name": "suffix", "Value": ".jpg"}]}},
            }
        ],
        "EventBridgeConfiguration": {},
    }


# ---------------------------------------------------------------- order and names


def test_a_resource_is_made_after_what_it_refers_to() -> None:
    resources = yaml_parse(RESOURCES)
    order = dependency_order(resources, rank=lambda name: 0)
    assert order.index("OrdersDeadLetters") < order.index("Orders") < order.index("Uploads")
    assert order.index("WorkflowRole") < order.index("Workflow")
    assert sorted(order) == sorted(resources)


def test_among_resources_ready_at_once_the_lower_rank_comes_first() -> None:
    resources = {"A": {"Type": "x"}, "B": {"Type": "y"}, "C": {"Type": "x", "DependsOn": "B"}}
    assert dependency_order(resources, rank=lambda n: {"A": 1, "B": 0, "C": 0}[n]) == ["B", "C", "A"]


def test_a_cycle_is_broken_not_looped_on() -> None:
    resources = {"A": {"Type": "x", "DependsOn": "B"}, "B": {"Type": "x", "DependsOn": "A"}}
    assert dependency_order(resources, rank=lambda n: 0) == ["A", "B"]


def test_references_are_read_from_ref_getatt_and_sub() -> None:
    value = {
        "a": [{"Ref": "One"}, {"Fn::GetAtt": "Two.Arn"}],
        "b": {"Fn::Sub": ["${Three.Arn}/${x}", {"x": {"Ref": "Four"}}]},
    }
    assert references(value) == {"One", "Two", "Three", "Four"}


def test_references_follow_the_branch_each_fn_if_takes_when_conditions_are_known() -> None:
    value = {"Fn::If": ["HasQueue", {"Ref": "Queue"}, {"Fn::GetAtt": "Topic.Arn"}]}
    assert references(value) == {"Queue", "Topic"}  # unknown conditions: both branches
    assert references(value, condition=lambda name: name == "HasQueue") == {"Queue"}
    assert references(value, condition=lambda name: False) == {"Topic"}


@pytest.mark.parametrize(
    ("resource_type", "pattern"),
    [
        ("AWS::SQS::Queue", rf"a-very-long-stack-name-[\w-]+-{SUFFIX}"),
        ("AWS::S3::Bucket", rf"a-very-long-stack-name-[a-z0-9-]+-{SUFFIX.lower()}"),
        ("AWS::IAM::Role", rf"a-very-long-stack-name-[\w-]+-{SUFFIX}"),
    ],
)
def test_a_generated_name_fits_the_type_s_limit(resource_type: str, pattern: str) -> None:
    name = physical_name(
        resource_type, "a-very-long-stack-name", "ALogicalIdThatIsLongerThanMostPeopleWouldWrite" * 2
    )
    limits = {"AWS::SQS::Queue": 80, "AWS::S3::Bucket": 63, "AWS::IAM::Role": 64}
    assert len(name) <= limits[resource_type]
    assert re.fullmatch(pattern, name)


def test_a_secret_s_generated_string_follows_its_rules(made: Provisioned) -> None:
    secrets = boto3.client("secretsmanager", region_name=REGION)
    value = json.loads(secrets.get_secret_value(SecretId=_ref(made, "ApiSecret"))["SecretString"])
    assert value["username"] == "app"
    assert re.fullmatch(r"[A-Za-z0-9]{24}", value["password"])
