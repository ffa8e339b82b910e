"""sam_local_cloud/aws_apis/: moto's AWS APIs with the per-request work done once, and DynamoDB answers that
need no conversion written as they are: the same answers as moto's own serializer gives."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto.dynamodb.responses import DynamoHandler, DynamoResult
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.test import EnvironBuilder

from sam_local_cloud.aws_apis import app, dynamodb_results
from tests.harness import ROOT
from tests.offline_aws import offline_aws
from tests.unit.cloud.support import REGION

ITEM = {
    "pk": {"S": "a"},
    "text": {"S": "café"},
    "number": {"N": "12.50"},
    "flag": {"BOOL": True},
    "nothing": {"NULL": True},
    "list": {"L": [{"S": "x"}, {"N": "1"}, {"M": {"deep": {"SS": ["p", "q"]}}}]},
    "map": {"M": {"n": {"NS": ["1", "2"]}}},
}
MOTOS_OWN = dynamodb_results._moto_dynamodb_result  # moto's serializer, as the module found it
BINARY = {"pk": {"S": "b"}, "blob": {"B": b"\x00\xff"}, "blobs": {"BS": [b"\x01", b"\x02"]}}


@pytest.fixture
def dynamodb() -> Iterator[Any]:
    with offline_aws(REGION):
        client = boto3.client("dynamodb", region_name=REGION)
        for table in ("plain", "moto"):
            client.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
            for item in (ITEM, BINARY):
                client.put_item(TableName=table, Item=item)
        yield client


@pytest.fixture
def moto_serialized(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The plain path in place; the operations that moto's serializer wrote anyway."""
    serialized: list[str] = []

    def by_moto(self: Any, context: Any) -> Any:
        serialized.append(context.operation_model.name)
        return MOTOS_OWN(self, context)

    monkeypatch.setattr(dynamodb_results, "_moto_dynamodb_result", by_moto)
    monkeypatch.setattr(DynamoResult, "execute_result", dynamodb_results._dynamodb_result)
    return serialized


def normalized(answer: dict[str, Any]) -> Any:
    """An answer without what differs between the two tables: their names, ids and creation times."""
    answer.pop("ResponseMetadata")
    for name in ("TableId", "CreationDateTime"):
        answer.get("Table", {}).pop(name, None)
    return json.loads(json.dumps(answer, default=str).replace('"plain"', '"moto"').replace("/plain", "/moto"))


CALLS = {
    "GetItem": lambda c, t: c.get_item(TableName=t, Key={"pk": {"S": "a"}}),
    "GetItem binary": lambda c, t: c.get_item(TableName=t, Key={"pk": {"S": "b"}}),
    "Scan": lambda c, t: c.scan(TableName=t, Limit=1),
    "Scan all": lambda c, t: c.scan(TableName=t),
    "Query": lambda c, t: c.query(
        TableName=t, KeyConditionExpression="pk = :a", ExpressionAttributeValues={":a": {"S": "a"}}
    ),
    "PutItem": lambda c, t: c.put_item(TableName=t, Item={**ITEM, "pk": {"S": "c"}}),
    "UpdateItem": lambda c, t: c.update_item(
        TableName=t,
        Key={"pk": {"S": "a"}},
        UpdateExpression="SET #n = #n + :one",
        ExpressionAttributeNames={"#n": "number"},
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="ALL_NEW",
    ),
    "BatchGetItem": lambda c, t: c.batch_get_item(RequestItems={t: {"Keys": [{"pk": {"S": "a"}}]}}),
    "DescribeTable": lambda c, t: c.describe_table(TableName=t),
}


@pytest.mark.parametrize("call", CALLS)
def test_every_answer_is_the_one_motos_serializer_gives(
    dynamodb: Any, moto_serialized: list[str], monkeypatch: pytest.MonkeyPatch, call: str
) -> None:
    plain = CALLS[call](dynamodb, "plain")
    monkeypatch.setattr(DynamoResult, "execute_result", MOTOS_OWN)
    theirs = CALLS[call](dynamodb, "moto")
    plain, theirs = normalized(plain), normalized(theirs)
    assert plain == theirs


def test_items_are_written_as_they_are_and_the_rest_by_moto(
    dynamodb: Any, moto_serialized: list[str]
) -> None:
    for call in ("GetItem", "Scan", "Query", "PutItem", "UpdateItem"):
        CALLS[call](dynamodb, "plain")
    assert moto_serialized == []
    CALLS["GetItem binary"](dynamodb, "plain")  # blobs: moto encodes them
    CALLS["DescribeTable"](dynamodb, "plain")  # timestamps
    assert moto_serialized == ["GetItem", "DescribeTable"]


def test_a_hosts_service_is_looked_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    looked_up: list[str] = []
    find = DomainDispatcherApplication.get_backend_for_host

    def counted(self: Any, host: str | None) -> Any:
        looked_up.append(str(host))
        return find(self, host)

    monkeypatch.setattr(DomainDispatcherApplication, "get_backend_for_host", counted)
    dispatcher = app._RememberingDispatcher()
    backends = {dispatcher.get_backend_for_host("dynamodb.us-east-1.amazonaws.com") for _ in range(3)}
    assert backends == {"dynamodb"}
    assert looked_up == ["dynamodb.us-east-1.amazonaws.com"]
    assert dispatcher.get_backend_for_host("nothing.example") is None


def test_motos_apps_are_out_of_debug_mode_and_still_let_its_errors_through(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: Any) -> Any:
        raise RuntimeError("a bug in moto")

    monkeypatch.setattr(DynamoHandler, "get_item", broken)
    apis = app.AwsApis()
    environ = EnvironBuilder(
        method="POST",
        path="/",
        headers={
            "X-Amz-Target": "DynamoDB_20120810.GetItem",
            "Authorization": f"AWS4-HMAC-SHA256 Credential=testing/20250101/{REGION}/dynamodb/aws4_request, "
            "SignedHeaders=host, Signature=0",
        },
        data=json.dumps({"TableName": "t", "Key": {"pk": {"S": "a"}}}),
        content_type="application/x-amz-json-1.0",
    ).get_environ()
    with pytest.raises(RuntimeError, match="a bug in moto"):
        apis(environ, lambda *_: None)
    flask_app = apis._moto.get_application(environ)
    assert flask_app.debug is False


@pytest.mark.parametrize(
    ("target", "changes"),
    [
        ("AWSCognitoIdentityProviderService.UpdateUserPoolClient", True),
        ("AWSCognitoIdentityProviderService.DeleteUserPoolClient", True),
        ("AWSCognitoIdentityProviderService.CreateUserPoolClient", True),
        ("AWSCognitoIdentityProviderService.DescribeUserPoolClient", False),
        ("AWSCognitoIdentityProviderService.ListUserPoolClients", False),
        ("DynamoDB_20120810.UpdateItem", False),
        ("", False),
    ],
)
def test_cognito_calls_that_may_change_a_client_are_announced(target: str, changes: bool) -> None:
    assert app._may_change_cognito(target) is changes


def test_request_ids_are_motos_own_drawn_at_once() -> None:
    """What moto's responses call for a request id is replaced, and gives what moto's gives: 52 letters
    and digits in the `x-amzn-requestid` header, from moto's random, so seeding moto repeats them."""
    from moto.core import responses
    from moto.moto_api._internal import mock_random
    from moto.utilities.aws_headers import gen_amzn_requestid_long as motos_own

    app.AwsApis()
    assert responses.gen_amzn_requestid_long is app._request_id
    headers: dict[str, str] = {}
    request_id = responses.gen_amzn_requestid_long(headers)
    assert headers == {"x-amzn-requestid": request_id}
    assert len(request_id) == len(motos_own()) == 52
    assert request_id.isascii()
    assert request_id.isalnum()
    try:
        mock_random.seed(7)
        first = app._request_id()
        mock_random.seed(7)
        assert app._request_id() == first
    finally:
        mock_random.seed()  # random again for whatever runs next
    assert len({app._request_id() for _ in range(100)}) == 100


def test_moto_is_the_release_the_local_aws_apis_were_written_against() -> None:
    """An upgrade of moto fails here first: look at each module of sam_local_cloud/aws_apis/ against it, then
    move the pin (pyproject.toml and sam_local_cloud/aws_apis/__init__.py) together."""
    from importlib.metadata import version

    from sam_local_cloud.aws_apis import MOTO_VERSION

    assert version("moto") == MOTO_VERSION
    assert f'"moto[server]=={MOTO_VERSION}"' in (ROOT / "pyproject.toml").read_text()


def test_the_moto_internals_the_local_aws_apis_replace_are_still_there() -> None:
    from moto.cognitoidp import models as cognito_models
    from moto.core import responses
    from moto.dynamodb.models.table import Table

    assert callable(responses.method_names_from_class)
    assert callable(responses.gen_amzn_requestid_long)
    assert callable(DynamoResult.execute_result)
    assert {"scan", "put_item", "delete_item"} <= set(vars(Table))
    assert hasattr(cognito_models, "CognitoIdpUserPoolClient")
    assert hasattr(DomainDispatcherApplication, "get_backend_for_host")
    # sam_local_cloud/aws_apis/dynamodb_json.py: the handler's own set-up and action, the recorder's switch
    from moto.moto_api import recorder
    from moto.moto_server.werkzeug_app import BackendRequest

    assert callable(DynamoHandler.setup_class)
    assert callable(DynamoHandler.call_action)
    assert isinstance(recorder._user_enabled, bool)
    assert BackendRequest.from_wsgi_server is True


def test_the_first_call_of_a_service_does_its_preparation_once_and_before_moto_answers() -> None:
    """The local stack is registered on the first CloudFormation call (moto's package costs 1.7 s)."""
    from werkzeug.test import Client

    apis = app.AwsApis()
    prepared: list[str] = []
    apis.before_first_call["cloudformation"] = lambda: prepared.append("stack")
    client = Client(apis)
    scope = "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{}/aws4_request, Signature=0"
    client.post("/", data="Action=ListQueues", headers={"Authorization": scope.format("sqs")})
    assert prepared == []
    for _ in range(2):
        client.post(
            "/",
            data="Action=ListExports&Version=2010-05-15",
            headers={"Authorization": scope.format("cloudformation")},
        )
    assert prepared == ["stack"]
    assert apis.before_first_call == {}
