"""DynamoDB's JSON protocol answered by moto's DynamoDB handler directly, without its Flask app.

A function's GetItem cost the cloud's process about 0.7 ms, a tenth of it the item itself: the rest
was moto's Flask app (a request context, URL routing, CORS, a Response object) and moto's request
set-up for every protocol (form data, uploaded files, query strings), none of which a DynamoDB call
uses (docs/performance.md). A request that moto's dispatcher would hand to DynamoDB's handler, in the
shape boto3 sends it, is handed to that handler here: set up with what moto's set-up gives such a
request, answered by moto's own `call_action` (its checks, the operation, its error bodies, the
request id and CRC32 headers), and written as moto's Flask app writes it, CORS header included.
Anything else (gzip, an `Origin`, the request recorder, another path, method or signature) goes to
moto's app as before. tests/unit/cloud/test_dynamodb_json.py sends the same requests both ways.

A plain GetItem (a table name, a key of strings or numbers, ConsistentRead: what a function reading
one item sends) is answered with less still: moto's request set-up (the body parsed as a query string
and again against the service model, the account, the region) and its generic dispatch were two
thirds of its cost, 0.1 ms of the cloud's CPU per call (docs/performance.md). Only the parts of them
such a request uses are done, with moto's own functions (the account, the visit IAM records, the
authorizer's count, moto's backend `get_item`, its item conversion, request id and CRC32); anything
else about it, including every error moto would answer, goes to moto's handler as above.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from typing import Any

import moto.core.responses
from botocore.exceptions import ClientError
from moto import settings
from moto.core.authorization import ActionAuthenticatorMixin
from moto.core.utils import get_service_model
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.utilities import dynamo_to_dict
from moto.dynamodb.responses import DynamoHandler
from moto.iam.models import get_account_id_from, mark_account_as_visited
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest
from moto.utilities.aws_headers import gen_amz_crc32
from werkzeug.http import HTTP_STATUS_CODES
from werkzeug.wsgi import get_input_stream

from sam_local_cloud.aws_apis.dynamodb_results import _as_is

_TARGET = "DynamoDB_20120810."  # DynamoDB's current API; moto routes older ones elsewhere
_CONTENT_TYPE = "application/x-amz-json-1.0"
_GET_ITEM = _TARGET + "GetItem"
_PLAIN_GET_ITEM = frozenset(("TableName", "Key", "ConsistentRead"))  # what the plain path reads
_PLAIN_KEY_TYPES = ("S", "N")
_CORS = ("Access-Control-Allow-Origin", "*")  # what moto's Flask app adds when no Origin is sent
_REMEMBERED_ROOTS = 1000  # URL roots by scheme, Host and script root: any client can make up more Hosts
_url_roots: dict[tuple[str, str, str], str] = {}


def serves(environ: dict[str, Any]) -> bool:
    """Whether moto would route this request to DynamoDB's handler and set it up as below."""
    return (
        environ.get("HTTP_X_AMZ_TARGET", "").startswith(_TARGET)
        and environ["REQUEST_METHOD"] == "POST"
        and environ.get("PATH_INFO") == "/"
        and not environ.get("QUERY_STRING")
        and environ.get("CONTENT_TYPE") == _CONTENT_TYPE
        and "HTTP_CONTENT_ENCODING" not in environ
        and "HTTP_ORIGIN" not in environ
        and "HTTP_HOST" in environ
        and not recorder._user_enabled
        and _signed_for_dynamodb(environ.get("HTTP_AUTHORIZATION", ""))
    )


def _signed_for_dynamodb(authorization: str) -> bool:
    """Whether the SigV4 credential scope names DynamoDB, which is how moto's dispatcher routes it."""
    try:
        _, _, _, service, _ = authorization.split(",")[0].split()[1].split("/")
    except (IndexError, ValueError):
        return False
    return service.lower() == "dynamodb"


def answer(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    data = get_input_stream(environ).read()  # as moto's request reads it, with no app
    plain = _plain_get_item(environ, data) if environ["HTTP_X_AMZ_TARGET"] == _GET_ITEM else None
    if plain is not None:
        return _respond(200, plain[0], plain[1], start_response)
    request = _request(environ, data)
    handler = DynamoHandler()
    try:
        handler.setup_class(request)
        status, headers, body = handler.call_action()
    except ClientError as error:  # as moto's Flask view answers it
        status, headers, body = 400, {}, error.response["Error"]["Message"]
    return _respond(int(status), headers, body, start_response)


def _plain_get_item(environ: dict[str, Any], data: bytes) -> tuple[dict[str, Any], str] | None:
    """The headers and body moto's handler answers a plain GetItem with (no error), or None: moto's
    handler answers it. Nothing is changed until the item has been read without error."""
    # moto's set-up reads the body as a query string too: without `&` and `=` that is one empty field
    # named by the whole body; with them, fields that may name the action or the access key it takes.
    if b"&" in data or b"=" in data:
        return None
    # A region in the URL (moto reads it from there first), an authorizer counting down to checks.
    url = environ["HTTP_HOST"] + environ.get("SCRIPT_NAME", "") + environ.get("RAW_URI", "")
    no_auth = ActionAuthenticatorMixin.request_count < settings.INITIAL_NO_AUTH_ACTION_COUNT
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if "amazonaws.com" in url or not no_auth or "AWS4" not in authorization:
        return None
    try:
        params = json.loads(data)
    except ValueError:
        return None
    if not isinstance(params, dict) or not _PLAIN_GET_ITEM.issuperset(params):
        return None
    name, key = params.get("TableName"), params.get("Key")
    if not (isinstance(name, str) and isinstance(key, dict) and key):
        return None
    if not isinstance(params.get("ConsistentRead", False), bool):
        return None
    for value in key.values():  # each a type and a value moto's parser keeps as sent; none empty
        if not isinstance(value, dict) or len(value) != 1:
            return None
        ((kind, scalar),) = value.items()
        if kind not in _PLAIN_KEY_TYPES or not isinstance(scalar, str) or not scalar:
            return None
    # The region and account as moto's set-up works them out for such a request.
    agent = DynamoHandler.region_from_useragent_regex.search(environ.get("HTTP_USER_AGENT", ""))
    region = agent.group(1) if agent else authorization.split(",")[0].split("/")[2]
    found = DynamoHandler.access_key_regex.search(authorization)
    access_key = found.group(1) if found else "AKIAEXAMPLE"
    account = os.environ.get("MOTO_ACCOUNT_ID", environ.get("HTTP_X_MOTO_ACCOUNT_ID"))
    account = account if account is not None else get_account_id_from(access_key)
    try:  # moto's GetItem, as its handler calls it for a key without a projection
        backend = dynamodb_backends[account][region]
        table = backend.get_table(name)
        if not all(k in table.attribute_keys for k in key):
            return None
        item = backend.get_item(name, key, None)
    except Exception:
        return None
    result = dynamo_to_dict({"Item": item.describe_attrs(attributes=None)["Item"]} if item else {})
    if not _as_is(result, _get_item_output()):  # binary values: moto's serializer encodes them
        return None
    # What moto's set-up and dispatch record of a call, then its answer's headers, in its order.
    ActionAuthenticatorMixin.request_count += 1
    mark_account_as_visited(account_id=account, access_key=access_key, service="dynamodb", region=region)
    body = json.dumps(result, indent=4 if settings.PRETTIFY_RESPONSES else None)
    headers = {"Content-Type": _CONTENT_TYPE, "server": "amazon.com"}
    moto.core.responses.gen_amzn_requestid_long(headers)
    gen_amz_crc32(body, headers)
    return headers, body


_output_shape: list[Any] = []


def _get_item_output() -> Any:
    if not _output_shape:
        _output_shape.append(get_service_model("dynamodb").operation_model("GetItem").output_shape)
    return _output_shape[0]


def _request(environ: dict[str, Any], data: bytes) -> BackendRequest:
    """moto's request, with what werkzeug would work out for moto's set-up already in it, as werkzeug
    works it out: 0.02 ms of the cloud's CPU per GetItem less (docs/performance.md)."""
    request = BackendRequest(environ)
    cached = request.__dict__  # where werkzeug's cached properties keep their values
    # The URL root depends on nothing else (no trusted hosts, no proxy headers): worked out once.
    key = (environ["wsgi.url_scheme"], environ["HTTP_HOST"], environ.get("SCRIPT_NAME", ""))
    root = _url_roots.get(key)
    if root is None:
        root = request.url_root
        if len(_url_roots) < _REMEMBERED_ROOTS:
            _url_roots[key] = root
    cached["url_root"] = root
    # A body that is not a form (`serves` takes DynamoDB's JSON only), as werkzeug's form loading
    # leaves it: the body read whole (by `answer`), no form fields, no files.
    cached.update(form=request.parameter_storage_class(), files=request.parameter_storage_class(), data=data)
    request._cached_data = data
    return request


def _respond(
    status: int, headers: dict[str, Any], body: str | bytes, start_response: Callable[..., Any]
) -> Iterable[bytes]:
    """The answer as moto's Flask app writes it: Flask's Response, then CORS's header."""
    data = body.encode() if isinstance(body, str) else body
    wire = [(str(name), str(value)) for name, value in headers.items()]
    names = {name.lower() for name, _ in wire}
    if "content-type" not in names:
        wire.append(("Content-Type", "text/html; charset=utf-8"))
    length = ("Content-Length", str(len(data)))
    if "content-length" in names:
        at = next(i for i, (name, _) in enumerate(wire) if name.lower() == "content-length")
        wire = [*wire[:at], length, *(h for h in wire[at + 1 :] if h[0].lower() != "content-length")]
    else:
        wire.append(length)
    if "access-control-allow-origin" not in names:
        wire.append(_CORS)
    start_response(f"{status} {HTTP_STATUS_CODES.get(status, 'unknown').upper()}", wire)
    return [data]
