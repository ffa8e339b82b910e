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
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api import recorder
from moto.moto_server.werkzeug_app import BackendRequest
from werkzeug.http import HTTP_STATUS_CODES

_TARGET = "DynamoDB_20120810."  # DynamoDB's current API; moto routes older ones elsewhere
_CONTENT_TYPE = "application/x-amz-json-1.0"
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
    request = _request(environ)
    handler = DynamoHandler()
    try:
        handler.setup_class(request)
        status, headers, body = handler.call_action()
    except ClientError as error:  # as moto's Flask view answers it
        status, headers, body = 400, {}, error.response["Error"]["Message"]
    return _respond(int(status), headers, body, start_response)


def _request(environ: dict[str, Any]) -> BackendRequest:
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
    # leaves it: the body read whole, no form fields, no files.
    data = request.stream.read()
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
