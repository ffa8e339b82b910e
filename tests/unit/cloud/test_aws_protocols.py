"""Every wire protocol boto3 speaks reaches the local AWS APIs through the local cloud's HTTP server.

boto3's services use four protocols: JSON (DynamoDB, Cognito), query (STS, SNS, IAM, CloudFormation: a form
body), REST-JSON (Lambda, API Gateway) and REST-XML (S3). Each call here goes over a real socket to the server
(sam_local_cloud/http_server.py) in front of moto (sam_local_cloud/aws_apis/), with a short read timeout, so a
server that waits for more of a body that has ended fails the test instead of hanging it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from sam_local_cloud.aws_apis.app import AwsApis
from sam_local_cloud.http_server import Server

CALLS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "json": ("dynamodb", lambda c: c.list_tables()["TableNames"]),
    "query: STS": ("sts", lambda c: c.get_caller_identity()["Account"]),
    "query: SNS": ("sns", lambda c: c.create_topic(Name="orders")["TopicArn"]),
    "query: IAM": ("iam", lambda c: c.list_roles()["Roles"]),
    "query: CloudFormation": ("cloudformation", lambda c: c.list_stacks()["StackSummaries"]),
    "rest-json": ("lambda", lambda c: c.list_functions()["Functions"]),
    "rest-xml": ("s3", lambda c: c.create_bucket(Bucket="uploads") and c.list_buckets()["Buckets"]),
}


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    # No mock_aws here: it would answer boto3 in this process, and no call would reach the socket.
    server = Server("127.0.0.1", 0, AwsApis())
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("protocol", sorted(CALLS))
def test_every_aws_protocol_is_answered_through_the_server(endpoint: str, protocol: str) -> None:
    service, call = CALLS[protocol]
    client: Any = boto3.client(
        service,  # type: ignore[call-overload]
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(read_timeout=5, connect_timeout=5, retries={"max_attempts": 1}),
    )
    assert call(client) is not None
    # The same keep-alive connection serves the next call too.
    assert call(client) is not None
