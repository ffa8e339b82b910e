"""sam_local_cloud/triggers/__init__.py: the event sources of a SAM template (each `Events:` type), read from
the transformed template as the SAM translator writes them, and named at start-up: served, or not reproduced
with the reason."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from sam_local_cloud import fire
from sam_local_cloud.cloudformation.resolve import Resolver, pseudo_parameters
from sam_local_cloud.cloudformation.template import Template, load_source, translate
from sam_local_cloud.lambda_.functions import function_configs
from sam_local_cloud.lambda_.runner import Runner
from sam_local_cloud.triggers import EventSources
from sam_local_cloud.triggers.sqs import SqsMapping
from sam_local_cloud.triggers.streams import StreamMapping
from tests.e2e.support import FIXTURES

REGION, ACCOUNT = "us-east-1", "123456789012"
SAM = f"""
Transform: AWS::Serverless-2016-10-31
Resources:
  Queue: {{Type: AWS::SQS::Queue}}
  Topic: {{Type: AWS::SNS::Topic}}
  Bucket: {{Type: AWS::S3::Bucket}}
  Stream: {{Type: AWS::Kinesis::Stream, Properties: {{ShardCount: 1}}}}
  Table:
    Type: AWS::DynamoDB::Table
    Properties:
      BillingMode: PAY_PER_REQUEST
      AttributeDefinitions: [{{AttributeName: id, AttributeType: S}}]
      KeySchema: [{{AttributeName: id, KeyType: HASH}}]
      StreamSpecification: {{StreamViewType: NEW_AND_OLD_IMAGES}}
  Consumer:
    Type: AWS::Serverless::Function
    Properties:
      Runtime: python3.13
      Handler: recorder.handler
      CodeUri: {FIXTURES / "functions"}
      EventInvokeConfig: {{MaximumRetryAttempts: 1}}
      Events:
        Orders:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            BatchSize: 5
            MaximumBatchingWindowInSeconds: 2
            FunctionResponseTypes: [ReportBatchItemFailures]
        Filtered:
          Type: SQS
          Properties:
            Queue: !GetAtt Queue.Arn
            FilterCriteria: {{Filters: [{{Pattern: '{{"body": ["x"]}}'}}]}}
        Stopped:
          Type: SQS
          Properties: {{Queue: !GetAtt Queue.Arn, Enabled: false}}
        Notes: {{Type: SNS, Properties: {{Topic: !Ref Topic, FilterPolicy: {{color: [red]}}}}}}
        Uploads:
          Type: S3
          Properties:
            Bucket: !Ref Bucket
            Events: s3:ObjectCreated:*
            Filter: {{S3Key: {{Rules: [{{Name: prefix, Value: in/}}]}}}}
        Changes:
          Type: DynamoDB
          Properties: {{Stream: !GetAtt Table.StreamArn, StartingPosition: TRIM_HORIZON, BatchSize: 10}}
        Clicks:
          Type: Kinesis
          Properties: {{Stream: !GetAtt Stream.Arn, StartingPosition: LATEST}}
        Placed: {{Type: EventBridgeRule, Properties: {{Pattern: {{source: [shop]}}}}}}
        Nightly: {{Type: Schedule, Properties: {{Schedule: 'cron(0 3 * * ? *)'}}}}
        Paused: {{Type: Schedule, Properties: {{Schedule: rate(1 hour), Enabled: false}}}}
        Reminder:
          Type: ScheduleV2
          Properties: {{ScheduleExpression: rate(5 minutes), Input: '{{"a": 1}}'}}
  Logs:
    Type: AWS::Logs::SubscriptionFilter
    Properties:
      LogGroupName: somewhere
      FilterPattern: ""
      DestinationArn: !GetAtt Consumer.Arn
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Template:
    path = tmp_path_factory.mktemp("sam") / "template.yaml"
    path.write_text(SAM)
    return translate(source=load_source(path), path=path, region=REGION)


def resolver(template: Template) -> Resolver:
    made = Resolver(parameters=pseudo_parameters(REGION, ACCOUNT, "stack"))
    made.refs.update({name: name for name in template.resources})
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:stack-Consumer"
    made.refs.update({"Consumer": "stack-Consumer", "Topic": f"arn:aws:sns:{REGION}:{ACCOUNT}:stack-Topic"})
    made.refs["ConsumerNightly"] = "stack-ConsumerNightly-X1"
    made.attributes.update(
        {
            ("Consumer", "Arn"): arn,
            ("Queue", "Arn"): f"arn:aws:sqs:{REGION}:{ACCOUNT}:stack-Queue",
            ("Table", "StreamArn"): f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stack-Table/stream/2026",
            ("Stream", "Arn"): f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/stack-Stream",
            ("ConsumerRole", "Arn"): f"arn:aws:iam::{ACCOUNT}:role/r",
            ("ConsumerReminderRole", "Arn"): f"arn:aws:iam::{ACCOUNT}:role/r2",
        }
    )
    return made


@pytest.fixture(scope="module")
def sources(template: Template) -> Iterator[EventSources]:
    made = resolver(template)
    runner = Runner(function_configs(template, made), region=REGION, endpoint_url=None)
    built = EventSources.build(
        template, made, runner, lambda service: object(), region=REGION, account=ACCOUNT
    )
    yield built
    built.deliveries.stop()
    runner.stop()


def test_each_sam_event_type_is_served_and_named(sources: EventSources) -> None:
    assert sorted(sources.served) == sorted(
        [
            "SQS stack-Queue -> Consumer (batch 5)",
            "SQS stack-Queue -> Consumer (batch 10)",
            "DynamoDB stream of stack-Table -> Consumer (TRIM_HORIZON, batch 10)",
            "Kinesis stack-Stream -> Consumer (LATEST, batch 100)",
            "SNS stack-Topic -> Consumer (filter policy)",
            "S3 Bucket s3:ObjectCreated:* prefix='in/' -> Consumer",
            "EventBridge rule ConsumerPlaced on default -> Consumer (PutEvents)",
            "EventBridge rule stack-ConsumerNightly-X1 cron(0 3 * * ? *)",
            "EventBridge rule ConsumerPaused rate(1 hour) (DISABLED)",
            "EventBridge schedule ConsumerReminder rate(5 minutes)",
        ]
    )


def test_what_is_not_reproduced_is_named_with_the_reason(sources: EventSources) -> None:
    assert sorted(sources.not_reproduced) == [
        "ConsumerFiltered: FilterCriteria is not applied locally: every record reaches Consumer",
        "ConsumerStopped: disabled in the template (Enabled: false)",
        "Logs: CloudWatch Logs subscription: the local cloud keeps no log groups",
    ]
    assert "  NOT REPRODUCED: Logs: CloudWatch Logs subscription" in "\n".join(sources.report())


def test_mappings_carry_the_templates_settings(sources: EventSources) -> None:
    mappings = {poller.mapping.logical_id: poller.mapping for poller in sources.pollers}
    orders = mappings["ConsumerOrders"]
    assert orders == SqsMapping(
        logical_id="ConsumerOrders",
        function="Consumer",
        queue_arn=f"arn:aws:sqs:{REGION}:{ACCOUNT}:stack-Queue",
        batch_size=5,
        batching_window_seconds=2.0,
        report_batch_item_failures=True,
    )
    changes = mappings["ConsumerChanges"]
    assert isinstance(changes, StreamMapping)
    assert (changes.kind, changes.starting_position, changes.batch_size) == ("dynamodb", "TRIM_HORIZON", 10)


def test_the_functions_event_invoke_config_is_read(sources: EventSources) -> None:
    assert sources.deliveries._async_configs["Consumer"].maximum_retry_attempts == 1


def test_a_rules_arn_is_in_its_scheduled_event(sources: EventSources) -> None:
    assert sources.scheduler is not None
    nightly = sources.scheduler.find("ConsumerNightly")
    assert nightly is not None
    assert nightly.arn == f"arn:aws:events:{REGION}:{ACCOUNT}:rule/stack-ConsumerNightly-X1"


def call(sources: EventSources, method: str, body: Any = None) -> tuple[int, Any]:
    data = body if isinstance(body, str | None) else json.dumps(body)
    request = EnvironBuilder(method=method, path="/_local/schedules", data=data).get_request()
    response = sources.schedules_endpoint(request)
    return response.status_code, json.loads(response.get_data())


def test_the_schedules_endpoint_lists_them_with_their_next_time(sources: EventSources) -> None:
    status, body = call(sources, "GET")
    assert status == 200
    listed = {s["schedule"]: s for s in body["schedules"]}
    assert set(listed) == {"ConsumerNightly", "ConsumerPaused", "ConsumerReminder"}
    assert listed["ConsumerNightly"]["next"].endswith("T03:00:00Z")
    assert listed["ConsumerPaused"]["enabled"] is False


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"schedule": "Nope"}, 404, "no schedule named 'Nope'"),
        ({"name": "ConsumerNightly"}, 400, 'expected a JSON body {"schedule": NAME}'),
        ("not json", 400, 'expected a JSON body {"schedule": NAME}'),
        ({"schedule": 3}, 400, 'expected a JSON body {"schedule": NAME}'),
    ],
)
def test_the_schedules_endpoint_refuses_bad_requests_clearly(
    sources: EventSources, body: Any, status: int, message: str
) -> None:
    answer_status, answer = call(sources, "POST", body)
    assert answer_status == status
    assert answer["message"].startswith(message)


def test_the_schedules_endpoint_allows_only_get_and_post(sources: EventSources) -> None:
    assert call(sources, "DELETE")[0] == 405


@pytest.fixture
def served_outputs(sources: EventSources, tmp_path: Path) -> Iterator[Path]:
    """An outputs file naming a server that answers `/_local/schedules` as the cloud does."""
    from werkzeug.serving import make_server
    from werkzeug.wrappers import Request

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        return sources.schedules_endpoint(Request(environ))(environ, start_response)

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    outputs = tmp_path / "outputs.json"
    outputs.write_text(json.dumps({"AwsEndpointUrl": f"http://127.0.0.1:{server.server_port}"}))
    yield outputs
    server.shutdown()


def test_the_fire_command_lists_and_fires_through_the_endpoint(
    served_outputs: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert fire.main(["--list", "--outputs", str(served_outputs)]) == 0
    listed = capsys.readouterr().out
    assert "ConsumerNightly  stack-ConsumerNightly-X1  cron(0 3 * * ? *)  next: " in listed
    assert "ConsumerPaused  ConsumerPaused  rate(1 hour) (DISABLED)" in listed

    assert fire.main(["ConsumerReminder", "--outputs", str(served_outputs)]) == 0
    assert "ConsumerReminder (ConsumerReminder): fired now, 1 target(s) invoked" in capsys.readouterr().out

    assert fire.main(["Nope", "--outputs", str(served_outputs)]) == 1
    assert "no schedule named 'Nope'" in capsys.readouterr().err


def test_the_fire_command_says_when_no_cloud_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert fire.main(["Any", "--outputs", str(tmp_path / "missing.json")]) == 1
    assert "no running local cloud" in capsys.readouterr().err
    stale = tmp_path / "outputs.json"
    stale.write_text(json.dumps({"AwsEndpointUrl": "http://127.0.0.1:9"}))  # nothing listens there
    assert fire.main(["Any", "--outputs", str(stale)]) == 1
    assert "does not answer" in capsys.readouterr().err
