"""sam_local_cloud/aws_apis/dynamodb_json.py: DynamoDB calls answered without moto's Flask app give, byte for
byte, the answers moto's app gives (the request id aside, which is random in both)."""

from __future__ import annotations

import contextlib
import io
import json
import re
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.config import Config
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder, run_wsgi_app

from sam_local_cloud.aws_apis import dynamodb_json, use_local_aws
from sam_local_cloud.aws_apis.app import AwsApis
from tests.offline_aws import offline_aws
from tests.unit.cloud.support import REGION

ENDPOINT = "http://127.0.0.1:4566"
SIGNED = (
    f"AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/dynamodb/aws4_request, "
    "SignedHeaders=host, Signature=0"
)
REQUEST_ID = re.compile(r"[A-Za-z0-9]{52}")
Answer = tuple[str, list[tuple[str, str]], bytes]


class _RawBody(io.BytesIO):
    def stream(self, **_: Any) -> Any:
        yield self.read()


def _calls(client: Any) -> None:
    """Every kind of DynamoDB answer the functions see, successes and failures."""
    item = {"pk": {"S": "a"}, "sk": {"N": "1"}, "name": {"S": "café"}, "version": {"N": "1"}}
    key = {"pk": {"S": "a"}, "sk": {"N": "1"}}

    def attempt(call: Callable[[], Any]) -> None:
        with contextlib.suppress(ClientError):  # the answer is what is compared
            call()

    attempt(lambda: client.put_item(TableName="t", Item=item))
    attempt(lambda: client.get_item(TableName="t", Key=key))
    attempt(lambda: client.get_item(TableName="t", Key={"pk": {"S": "nobody"}, "sk": {"N": "1"}}))
    attempt(lambda: client.get_item(TableName="t", Key=key, ReturnConsumedCapacity="TOTAL"))
    attempt(lambda: client.get_item(TableName="missing", Key=key))
    attempt(lambda: client.get_item(TableName="t", Key={"pk": {"S": "a"}}))  # half a key
    _get_items(client, key, attempt)
    attempt(
        lambda: client.put_item(
            TableName="t",
            Item=item,
            ConditionExpression="attribute_not_exists(pk)",
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
    )
    attempt(
        lambda: client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET version = version + :one",
            ConditionExpression="version = :at",
            ExpressionAttributeValues={":one": {"N": "1"}, ":at": {"N": "1"}},
            ReturnValues="ALL_NEW",
        )
    )
    attempt(
        lambda: client.update_item(
            TableName="t",
            Key=key,
            UpdateExpression="SET version = version + :one",
            ConditionExpression="version = :at",
            ExpressionAttributeValues={":one": {"N": "1"}, ":at": {"N": "1"}},
        )
    )
    for number in range(2, 6):
        attempt(lambda n=number: client.put_item(TableName="t", Item={**item, "sk": {"N": str(n)}}))
    attempt(
        lambda: client.query(
            TableName="t",
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "a"}},
            Limit=2,
            ExclusiveStartKey=key,
        )
    )
    attempt(lambda: client.query(TableName="t", KeyConditionExpression="nonsense ==="))
    page: dict[str, Any] = {}
    while True:
        answer = client.scan(TableName="t", Limit=2, **page)
        if "LastEvaluatedKey" not in answer:
            break
        page = {"ExclusiveStartKey": answer["LastEvaluatedKey"]}
    attempt(lambda: client.batch_get_item(RequestItems={"t": {"Keys": [key]}}))
    attempt(
        lambda: client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": "t",
                        "Key": key,
                        "ConditionExpression": "version = :v",
                        "ExpressionAttributeValues": {":v": {"N": "99"}},
                    }
                }
            ]
        )
    )
    attempt(lambda: client.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD"))
    attempt(lambda: client.delete_item(TableName="t", Key=key, ConditionExpression="attribute_exists(pk)"))
    attempt(lambda: client.describe_table(TableName="missing"))


def _get_items(client: Any, key: dict[str, Any], attempt: Callable[[Callable[[], Any]], None]) -> None:
    """GetItems of every shape a plain one is told apart from (sam_local_cloud/aws_apis/dynamodb_json.py)."""
    typed = {
        "id": {"S": "typed"},
        "nested": {"M": {"list": {"L": [{"N": "1"}, {"S": "x"}, {"BOOL": False}, {"NULL": True}]}}},
        "sets": {"SS": ["a", "b"]},
        "numbers": {"NS": ["1", "2.5"]},
        "flag": {"BOOL": True},
    }
    client.put_item(TableName="h", Item=typed)
    client.put_item(TableName="h", Item={"id": {"S": "a=b&c=d"}, "n": {"N": "1"}})
    for read in (
        {"TableName": "t", "Key": key, "ConsistentRead": True},
        {"TableName": "t", "Key": key, "ConsistentRead": False},
        {"TableName": "t", "Key": {"pk": {"S": "nobody"}, "sk": {"N": "1"}}, "ConsistentRead": True},
        {"TableName": "t", "Key": {"pk": {"N": "1"}, "sk": {"N": "1"}}},  # not the hash key's type
        {"TableName": "t", "Key": {"pk": {"S": ""}, "sk": {"N": "1"}}},  # empty
        {"TableName": "t", "Key": {**key, "other": {"S": "x"}}},  # not a key attribute
        {"TableName": "t", "Key": {"pk": {"S": "a"}, "other": {"N": "1"}}},
        {"TableName": "t", "Key": key, "ProjectionExpression": "pk"},
        {"TableName": "t", "Key": key, "ReturnConsumedCapacity": "INDEXES"},
        {"TableName": "h", "Key": {"id": {"S": "typed"}}},
        {"TableName": "h", "Key": {"id": {"S": "a=b&c=d"}}},  # moto reads the body as a query string too
        {"TableName": "h", "Key": {"id": {"S": "x&Action=GetItem"}}},  # moto takes its action from it
        {"TableName": "h", "Key": {"id": {"S": "typed"}, "sk": {"N": "1"}}},
        {"TableName": "t", "Key": key, "ConsistentRead": True, "ExpressionAttributeNames": {"#p": "pk"}},
    ):
        attempt(lambda read=read: client.get_item(**read))


RAW = {
    "a malformed body": ("DynamoDB_20120810.GetItem", b'{"TableName": "t", "Key": '),
    "a body that is not an object": ("DynamoDB_20120810.GetItem", b"[]"),
    "an unknown operation": ("DynamoDB_20120810.Nothing", b"{}"),
    "no table name": ("DynamoDB_20120810.GetItem", b'{"Key": {"pk": {"S": "a"}}}'),
    "a key of numbers": (
        "DynamoDB_20120810.GetItem",
        b'{"TableName": "t", "Key": {"pk": {"S": 1}, "sk": {"N": 1}}}',
    ),
    "a key of nothing": ("DynamoDB_20120810.GetItem", b'{"TableName": "t", "Key": {}}'),
    "a key of two types": (
        "DynamoDB_20120810.GetItem",
        b'{"TableName": "t", "Key": {"pk": {"S": "a", "N": "1"}, "sk": {"N": "1"}}}',
    ),
    "ConsistentRead as text": (
        "DynamoDB_20120810.GetItem",
        b'{"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"N": "1"}}, "ConsistentRead": "yes"}',
    ),
    "a table name that is not text": (
        "DynamoDB_20120810.GetItem",
        b'{"TableName": 1, "Key": {"pk": {"S": "a"}}}',
    ),
}


def _environ(target: str, body: bytes, **headers: str) -> dict[str, Any]:
    return EnvironBuilder(
        method="POST",
        path="/",
        headers={"X-Amz-Target": target, "Authorization": SIGNED, **headers},
        data=body,
        content_type="application/x-amz-json-1.0",
        base_url=ENDPOINT,
    ).get_environ()


PLAIN_GET_ITEMS = 7  # of `_calls`' GetItems, those the plain path answers (its docstring says which)


def _answers(fast: bool, monkeypatch: pytest.MonkeyPatch) -> tuple[list[Answer], int]:
    """The wire answers to `_calls` and `RAW`, each request served by the fast path or by moto's app."""
    answered: list[Answer] = []
    by_fast_path = 0
    answer = dynamodb_json.answer
    plain_get_item = dynamodb_json._plain_get_item
    plain: list[dict[str, Any]] = []

    def counted_plain(environ: dict[str, Any], data: bytes) -> Any:
        answer = plain_get_item(environ, data)
        if answer is not None:
            plain.append(json.loads(data))
        return answer

    def counted(environ: dict[str, Any], start_response: Any) -> Any:
        nonlocal by_fast_path
        by_fast_path += 1
        return answer(environ, start_response)

    with monkeypatch.context() as patch, offline_aws(REGION):
        patch.setattr(dynamodb_json, "answer", counted)
        patch.setattr(dynamodb_json, "_plain_get_item", counted_plain)
        if not fast:
            patch.setattr(dynamodb_json, "serves", lambda environ: False)
        use_local_aws()
        apis = AwsApis()

        def serve(environ: dict[str, Any]) -> Answer:
            try:
                chunks, status, headers = run_wsgi_app(apis, environ, buffered=True)
            except Exception as error:  # moto's own errors reach the server, which answers 500
                return f"raised {type(error).__name__}", [], b""
            return status, list(headers.to_wsgi_list()), b"".join(chunks)

        def send(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
            headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
            body = request.body if isinstance(request.body, bytes) else (request.body or "").encode()
            environ = EnvironBuilder(
                method=request.method, path="/", headers=headers, data=body, base_url=ENDPOINT
            ).get_environ()
            status, reply_headers, content = served = serve(environ)
            answered.append(served)
            code = 500 if status.startswith("raised") else int(status.split()[0])  # as the server answers
            return AWSResponse(request.url, code, dict(reply_headers), _RawBody(content))

        # One attempt: an answer moto fails on is compared once, not retried.
        once = Config(retries={"total_max_attempts": 1})
        client = boto3.client("dynamodb", region_name=REGION, endpoint_url=ENDPOINT, config=once)
        client.meta.events.register("before-send", send)
        client.create_table(
            TableName="t",
            KeySchema=[
                {"AttributeName": "pk", "KeyType": "HASH"},
                {"AttributeName": "sk", "KeyType": "RANGE"},
            ],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "N"},
            ],
            BillingMode="PAY_PER_REQUEST",
        )
        client.create_table(
            TableName="h",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        answered.clear()  # the table's description carries its creation time
        by_fast_path = 0
        _calls(client)
        answered.extend(serve(_environ(target, body)) for target, body in RAW.values())
    if fast:  # the plain GetItems, and only them, skipped moto's set-up
        assert len(plain) == PLAIN_GET_ITEMS, plain
        assert all(read.keys() <= {"TableName", "Key", "ConsistentRead"} for read in plain), plain
    else:
        assert plain == []
    return answered, by_fast_path


def _without_request_id(answer: Answer) -> Answer:
    status, headers, body = answer
    if status.startswith("raised"):
        return answer
    ids = [value for name, value in headers if name == "x-amzn-requestid"]
    assert len(ids) == 1, headers
    assert REQUEST_ID.fullmatch(ids[0]), headers
    return status, [(n, "id" if n == "x-amzn-requestid" else v) for n, v in headers], body


def test_the_fast_path_answers_as_motos_app_does(monkeypatch: pytest.MonkeyPatch) -> None:
    fast, served_fast = _answers(True, monkeypatch)
    motos, served_by_moto = _answers(False, monkeypatch)
    assert served_fast == len(fast)
    assert served_by_moto == 0
    assert {status for status, _, _ in motos} >= {"200 OK", "400 BAD REQUEST"}
    assert len(fast) == len(motos) > 25
    for ours, theirs in zip(fast, motos, strict=True):
        assert _without_request_id(ours) == _without_request_id(theirs)


def test_an_error_inside_moto_still_reaches_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.dynamodb.responses import DynamoHandler

    def broken(self: Any) -> Any:
        raise RuntimeError("a bug in moto")

    monkeypatch.setattr(DynamoHandler, "get_item", broken)
    environ = _environ("DynamoDB_20120810.GetItem", json.dumps({"TableName": "t"}).encode())
    assert dynamodb_json.serves(environ)
    with offline_aws(REGION), pytest.raises(RuntimeError, match="a bug in moto"):
        AwsApis()(environ, lambda *_: None)


@pytest.mark.parametrize(
    ("change", "served"),
    [
        ({}, True),
        ({"HTTP_CONTENT_ENCODING": "gzip"}, False),  # moto unzips it first
        ({"HTTP_ORIGIN": "http://example.com"}, False),  # CORS answers depend on it
        ({"QUERY_STRING": "a=b"}, False),
        ({"PATH_INFO": "/other"}, False),
        ({"REQUEST_METHOD": "GET"}, False),
        ({"CONTENT_TYPE": "application/x-amz-json-1.1"}, False),
        ({"HTTP_X_AMZ_TARGET": "DynamoDB_20111205.GetItem"}, False),  # moto's older DynamoDB
        ({"HTTP_X_AMZ_TARGET": "DynamoDBStreams_20120810.GetRecords"}, False),
        ({"HTTP_AUTHORIZATION": SIGNED.replace("/dynamodb/", "/s3/")}, False),  # moto routes by scope
        ({"HTTP_AUTHORIZATION": "AWS4-HMAC-SHA256"}, False),
        ({"HTTP_AUTHORIZATION": ""}, False),
    ],
)
def test_only_what_moto_routes_to_dynamodb_in_boto3s_shape_is_served(
    change: dict[str, str], served: bool
) -> None:
    environ = {**_environ("DynamoDB_20120810.GetItem", b"{}"), **change}
    assert dynamodb_json.serves(environ) is served


def test_the_request_recorder_sees_every_request(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.moto_api import recorder

    monkeypatch.setattr(recorder, "_user_enabled", True)
    assert not dynamodb_json.serves(_environ("DynamoDB_20120810.GetItem", b"{}"))


def _plain_read_setup(client: Any) -> bytes:
    client.create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    client.put_item(TableName="t", Item={"pk": {"S": "a"}})
    return json.dumps({"TableName": "t", "Key": {"pk": {"S": "a"}}}).encode()


def test_a_plain_get_item_records_what_motos_set_up_records() -> None:
    """The access key's last use (IAM) and the count moto's authorizer keeps, as moto's handler does."""
    from moto.core.authorization import ActionAuthenticatorMixin

    with offline_aws(REGION):
        use_local_aws()
        apis = AwsApis()
        body = _plain_read_setup(boto3.client("dynamodb", region_name=REGION))
        iam = boto3.client("iam", region_name=REGION)
        iam.create_user(UserName="reader")
        key_id = iam.create_access_key(UserName="reader")["AccessKey"]["AccessKeyId"]
        signed = SIGNED.replace("Credential=testing/", f"Credential={key_id}/")
        environ = _environ("DynamoDB_20120810.GetItem", body, Authorization=signed)
        assert dynamodb_json._plain_get_item(environ, body) is not None
        counted = ActionAuthenticatorMixin.request_count
        chunks = apis(_environ("DynamoDB_20120810.GetItem", body, Authorization=signed), lambda *_: None)
        assert json.loads(b"".join(chunks)) == {"Item": {"pk": {"S": "a"}}}
        assert ActionAuthenticatorMixin.request_count == counted + 1
        used = iam.get_access_key_last_used(AccessKeyId=key_id)["AccessKeyLastUsed"]
        assert (used["ServiceName"], used["Region"]) == ("dynamodb", REGION)


def test_once_moto_checks_signatures_its_handler_answers(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto import settings
    from moto.core.authorization import ActionAuthenticatorMixin

    with offline_aws(REGION):
        use_local_aws()
        body = _plain_read_setup(boto3.client("dynamodb", region_name=REGION))
        environ = _environ("DynamoDB_20120810.GetItem", body)
        assert dynamodb_json._plain_get_item(environ, body) is not None
        monkeypatch.setattr(settings, "INITIAL_NO_AUTH_ACTION_COUNT", ActionAuthenticatorMixin.request_count)
        assert dynamodb_json._plain_get_item(environ, body) is None
