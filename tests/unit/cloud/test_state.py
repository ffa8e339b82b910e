"""sam_local_cloud/state.py and sam_local_cloud/aws_apis/snapshot.py: moto's state pickled and put back, and a
state folder that is locked, emptied on --fresh, and refused with a message when its file cannot be read."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sam_local_cloud.aws_apis import MOTO_VERSION, snapshot
from sam_local_cloud.aws_apis.ordered_scan import use_ordered_scans
from sam_local_cloud.project import FRESH_COMMAND
from sam_local_cloud.state import (
    FORMAT,
    KEY_FILE,
    STATE_FILE,
    Record,
    SavedResource,
    StateStore,
    default_directory,
)
from tests.offline_aws import offline_aws
from tests.unit.cloud.support import REGION

PASSWORD = "Unit-test-Passw0rd!"


@pytest.fixture
def aws() -> Iterator[tuple[Any, Any]]:
    use_ordered_scans()  # tables then carry an index with a lock, which a snapshot must not choke on
    with offline_aws(REGION):
        dynamodb, cognito = boto3.client("dynamodb"), boto3.client("cognito-idp")
        dynamodb.create_table(
            TableName="things",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        yield dynamodb, cognito


def test_a_snapshot_puts_back_items_pools_and_passwords(aws: tuple[Any, Any]) -> None:
    dynamodb, cognito = aws
    for number in range(30):
        dynamodb.put_item(TableName="things", Item={"id": {"S": f"thing-{number:02}"}})
    dynamodb.scan(TableName="things", Limit=5)  # the ordered index exists now
    pool = cognito.create_user_pool(PoolName="people")["UserPool"]["Id"]
    client = cognito.create_user_pool_client(UserPoolId=pool, ClientName="app", GenerateSecret=True)
    client = client["UserPoolClient"]
    cognito.admin_create_user(UserPoolId=pool, Username="ann", MessageAction="SUPPRESS")
    cognito.admin_set_user_password(UserPoolId=pool, Username="ann", Password=PASSWORD, Permanent=True)

    data, left_out = snapshot.dump({"mine": 1})
    assert left_out == {}
    dynamodb.delete_table(TableName="things")
    cognito.delete_user_pool(UserPoolId=pool)

    assert snapshot.load(data) == {"mine": 1}
    pages, start = [], None
    while True:
        page = dynamodb.scan(TableName="things", Limit=7, **({"ExclusiveStartKey": start} if start else {}))
        pages += [item["id"]["S"] for item in page["Items"]]
        if "LastEvaluatedKey" not in page:
            break
        start = page["LastEvaluatedKey"]
    assert pages == [f"thing-{number:02}" for number in range(30)]  # in order: the index was rebuilt
    described = cognito.describe_user_pool_client(UserPoolId=pool, ClientId=client["ClientId"])
    assert described["UserPoolClient"]["ClientSecret"] == client["ClientSecret"]
    user = cognito.admin_get_user(UserPoolId=pool, Username="ann")
    assert user["UserStatus"] == "CONFIRMED"
    dynamodb.put_item(TableName="things", Item={"id": {"S": "after"}})  # its locks work again


def test_a_second_store_on_the_same_folder_is_refused(tmp_path: Path) -> None:
    first = StateStore(tmp_path, FRESH_COMMAND)
    first.open(fresh=False)
    try:
        with pytest.raises(SystemExit, match="another local cloud"):
            StateStore(tmp_path, FRESH_COMMAND).open(fresh=False)
    finally:
        first.close()
    second = StateStore(tmp_path, FRESH_COMMAND)  # free again once the first let go
    second.open(fresh=False)
    second.close()


def test_fresh_deletes_the_state_and_the_key(tmp_path: Path) -> None:
    (tmp_path / STATE_FILE).write_bytes(b"old")
    (tmp_path / KEY_FILE).write_bytes(b"old key")
    store = StateStore(tmp_path, FRESH_COMMAND)
    store.open(fresh=True)
    try:
        assert store.load("stack") is None
        assert not (tmp_path / KEY_FILE).exists()
    finally:
        store.close()


def _header(format_: int = FORMAT, moto: str = MOTO_VERSION) -> bytes:
    return f'{{"format": {format_}, "moto": "{moto}", "saved_at": "then"}}\n'.encode()


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"", "not a local cloud's state file"),
        (b"something else\n{}\n", "not a local cloud's state file"),
        (b"product-api local cloud state\nnot json\n", "cannot be read"),
        (b"product-api local cloud state\n" + _header(moto="4.0.0") + b"...", "moto 4.0.0"),
        (b"product-api local cloud state\n" + _header(format_=FORMAT + 1) + b"...", f"format {FORMAT + 1}"),
        (b"product-api local cloud state\n" + _header() + b"not a pickle", "damaged"),
    ],
)
def test_a_file_it_cannot_read_is_refused_with_what_to_do(tmp_path: Path, content: bytes, says: str) -> None:
    (tmp_path / STATE_FILE).write_bytes(content)
    store = StateStore(tmp_path, FRESH_COMMAND)
    store.open(fresh=False)
    try:
        with pytest.raises(SystemExit) as refused:
            store.load("stack")
    finally:
        store.close()
    message = str(refused.value.code)
    assert says in message
    assert str(tmp_path / STATE_FILE) in message
    assert f"start clean with `{FRESH_COMMAND}`" in message


def test_the_services_a_template_may_grow_into_are_kept_too(aws: tuple[Any, Any]) -> None:
    """Queues with their messages, buckets with their objects, topics, parameters, secrets, rules,
    streams, keys, roles, state machines, log groups: none is left out of a snapshot (moto 5.2.5)."""

    def client(service: str) -> Any:
        return boto3.client(service)  # type: ignore[call-overload]

    queue = client("sqs").create_queue(QueueName="orders")["QueueUrl"]
    client("sqs").send_message(QueueUrl=queue, MessageBody="order 1")
    client("s3").create_bucket(Bucket="uploads-bucket")
    client("s3").put_object(Bucket="uploads-bucket", Key="a.txt", Body=b"contents")
    topic = client("sns").create_topic(Name="events")["TopicArn"]
    client("ssm").put_parameter(Name="/app/flag", Value="on", Type="String")
    client("secretsmanager").create_secret(Name="app/secret", SecretString="s3cret")
    client("events").put_rule(Name="every-minute", ScheduleExpression="rate(1 minute)")
    client("kinesis").create_stream(StreamName="clicks", ShardCount=1)
    key = client("kms").create_key()["KeyMetadata"]["KeyId"]
    ciphertext = client("kms").encrypt(KeyId=key, Plaintext=b"plain")["CiphertextBlob"]
    client("iam").create_role(RoleName="machine", AssumeRolePolicyDocument="{}")
    definition = '{"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}'
    client("stepfunctions").create_state_machine(
        name="flow", definition=definition, roleArn="arn:aws:iam::123456789012:role/machine"
    )
    client("logs").create_log_group(logGroupName="/app")
    client("lambda").list_functions()

    data, left_out = snapshot.dump(None)
    assert left_out == {}
    client("sqs").delete_queue(QueueUrl=queue)
    client("ssm").delete_parameter(Name="/app/flag")
    snapshot.load(data)

    assert client("sqs").receive_message(QueueUrl=queue)["Messages"][0]["Body"] == "order 1"
    assert client("s3").get_object(Bucket="uploads-bucket", Key="a.txt")["Body"].read() == b"contents"
    assert client("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["TopicArn"] == topic
    assert client("ssm").get_parameter(Name="/app/flag")["Parameter"]["Value"] == "on"
    assert client("secretsmanager").get_secret_value(SecretId="app/secret")["SecretString"] == "s3cret"
    assert client("kms").decrypt(CiphertextBlob=ciphertext)["Plaintext"] == b"plain"  # the same key


def test_several_stacks_have_one_folder_per_set_of_stacks(tmp_path: Path) -> None:
    template = tmp_path / "template.yaml"
    alone = default_directory(template, "api", REGION, 3000)
    together = default_directory(template, "api", REGION, 3000, ("auth",))
    assert alone.name == f"template-api-{REGION}-3000"  # one stack: the folder it always had
    assert together.name == f"template-auth+api-{REGION}-3000"
    assert len({alone, together, default_directory(template, "api", REGION, 3000, ("other",))}) == 3


def _record(pool_id: str) -> Record:
    return Record(resources={"Pool": SavedResource("AWS::Cognito::UserPool", "digest", pool_id, {})})


def _kept(directory: Path, main_stack: str) -> dict[str, Any]:
    """What a new store on `directory` loads for a cloud whose main stack is `main_stack`."""
    store = StateStore(directory, FRESH_COMMAND)
    store.open(fresh=False)
    try:
        kept = store.load(main_stack)
    finally:
        store.close()
    assert kept is not None
    return kept


def test_each_stacks_record_is_kept_by_its_name(aws: tuple[Any, Any], tmp_path: Path) -> None:
    from sam_local_cloud.aws_apis.app import AwsApis

    records = {"auth": _record("us-east-1_auth"), "api": Record()}
    store = StateStore(tmp_path, FRESH_COMMAND)
    store.open(fresh=False)
    store.attach(AwsApis(), None, records)
    store.save()
    store.close()
    kept = _kept(tmp_path, "api")
    assert {name: k.record for name, k in kept.items()} == records


def test_a_format_1_file_is_its_main_stacks_record(aws: tuple[Any, Any], tmp_path: Path) -> None:
    data, _ = snapshot.dump({"record": _record("us-east-1_old"), "sessions": ({}, set())})
    (tmp_path / STATE_FILE).write_bytes(b"product-api local cloud state\n" + _header(format_=1) + data)
    kept = _kept(tmp_path, "product-api")
    assert list(kept) == ["product-api"]
    assert kept["product-api"].record == _record("us-east-1_old")
