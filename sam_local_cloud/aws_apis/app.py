"""The AWS APIs the local cloud emulates (moto), as one WSGI application.

moto's own dispatcher works out each request's service anew: it lists moto's package and tries the
URL patterns of every service it knows, under one lock, which took about 40% of the local cloud's
time under load. Here the service of each host is looked up once and remembered; so are the method
names of moto's response classes, which moto otherwise lists with `inspect` on every call; and a
response's request id is drawn in one call instead of one call per character (`_request_id`). A
DynamoDB answer that is already its own wire JSON, as items are, is written as it is
(sam_local_cloud/aws_apis/dynamodb_results.py), not walked attribute by attribute by moto's serializer. moto's
Flask apps run out of debug mode: in it, Flask makes a new class for every request's form data.
DynamoDB calls in boto3's shape skip the Flask app altogether (sam_local_cloud/aws_apis/dynamodb_json.py).

A service's first call can be preceded by work that only it needs (`before_first_call`, by the service
its requests are signed for): the local stack is registered in moto's CloudFormation backend on the
first CloudFormation call, since moto's CloudFormation package imports some twenty services (1.7 s).

Calls that may change the user pool's app clients are announced to `on_cognito_change` listeners once moto has
made the change, so that what the local cloud keeps of the clients (sam_local_cloud/cognito/tokens.py,
ClientDirectory) is dropped before the caller has its answer. Likewise, API Gateway calls that may change
something (API keys, usage plans and their keys) are announced to `on_apigateway_change`, so that the keys the
REST API accepts (sam_local_cloud/apigateway/gateway.py, ApiKeys) are read again.

Calls that may change anything are counted (`writes`), and the AWS APIs can be paused (`pause`): new
calls wait, the calls under way finish. A snapshot of moto's state (sam_local_cloud/state.py) is taken paused,
so it holds each call whole, and after the last one nothing is acknowledged that it lacks.
"""

from __future__ import annotations

import functools
import string
import threading
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote

import moto.core.responses
from moto.moto_api._internal import mock_random
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

from sam_local_cloud.aws_apis import dynamodb_json

_COGNITO = "AWSCognitoIdentityProviderService"
_READS = ("Describe", "List", "Get", "AdminGet", "AdminList")
_DYNAMODB = "DynamoDB_20120810"
_DYNAMODB_READS = ("Describe", "List", "GetItem", "BatchGetItem", "Query", "Scan")
_REMEMBERED_HOSTS = 1000  # a host names a service and a region: any client can make up more
_REQUEST_ID_CHARACTERS = string.ascii_letters + string.digits
_REQUEST_ID_LENGTH = 52


class _RememberingDispatcher(DomainDispatcherApplication):
    """moto's dispatcher, which calls this under its own lock, with the backend of each host kept."""

    def __init__(self) -> None:
        super().__init__(_backend_app)
        self._backends: dict[str, Any] = {}

    def get_backend_for_host(self, host: str | None) -> Any:
        if host is None or host in self._backends:
            return self._backends.get(host) if host else None
        backend = super().get_backend_for_host(host)
        if backend is not None and len(self._backends) < _REMEMBERED_HOSTS:
            self._backends[host] = backend
        return backend


def _backend_app(service: Any) -> Any:
    """moto's Flask app for a service, out of the debug mode moto puts it in.

    Debug mode's one effect on moto's requests is a cost: Flask's debug helper makes a new class for
    every request's form data (a tenth of a DynamoDB GetItem's CPU). An exception inside moto still
    reaches the server, as in debug mode, which answers it with a 500 and says so on the console.
    """
    app = create_backend_app(service)
    app.debug = False
    app.config["PROPAGATE_EXCEPTIONS"] = True
    return app


class AwsApis:
    def __init__(self) -> None:
        if not hasattr(moto.core.responses.method_names_from_class, "cache_info"):
            # A class's methods do not change while the cloud runs.
            names = functools.cache(moto.core.responses.method_names_from_class)
            moto.core.responses.method_names_from_class = names
        moto.core.responses.gen_amzn_requestid_long = _request_id
        self._moto = _RememberingDispatcher()
        self.on_cognito_change: list[Callable[[], None]] = []
        self.on_apigateway_change: list[Callable[[], None]] = []
        self.before_first_call: dict[str, Callable[[], None]] = {}  # signing name -> work to do once
        self._first_calls = threading.Lock()
        self.writes = 0  # calls so far that may have changed something (reads are not counted)
        self._gate = threading.Condition()
        self._inside = 0  # calls under way
        self._paused = False

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._gate:
            while self._paused:
                self._gate.wait()
            self._inside += 1
            if _may_write(environ):
                self.writes += 1
        try:
            if dynamodb_json.serves(environ):
                return dynamodb_json.answer(environ, start_response)
            if self.before_first_call:
                self._prepare(signing_name(environ))
            response = self._moto(environ, start_response)
            if _may_change_cognito(environ.get("HTTP_X_AMZ_TARGET", "")):
                for listener in self.on_cognito_change:
                    listener()
            elif self.on_apigateway_change and _may_change_apigateway(environ):
                for listener in self.on_apigateway_change:
                    listener()
            return response
        finally:
            with self._gate:
                self._inside -= 1
                if self._paused and not self._inside:
                    self._gate.notify_all()

    def pause(self) -> None:
        """Returns once the calls under way have finished; new ones wait until `resume`."""
        with self._gate:
            self._paused = True
            while self._inside:
                self._gate.wait()

    def resume(self) -> None:
        with self._gate:
            self._paused = False
            self._gate.notify_all()

    def _prepare(self, service: str | None) -> None:
        with self._first_calls:
            work = self.before_first_call.pop(service, None) if service else None
            if work is not None:
                work()


def signing_name(environ: dict[str, Any]) -> str | None:
    """The service a SigV4-signed request is signed for (its credential scope's, in the Authorization
    header or, for a presigned URL, in `X-Amz-Credential`), else None."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    if authorization.startswith("AWS4-"):
        credential = authorization.partition("Credential=")[2].split(",", 1)[0]
    else:
        query = environ.get("QUERY_STRING", "")
        if "X-Amz-Credential=" not in query:
            return None
        credential = unquote(query.partition("X-Amz-Credential=")[2].split("&", 1)[0])
    parts = credential.split("/")
    return parts[3] if len(parts) == 5 else None


def _request_id(headerdict: dict[str, Any] | None = None) -> str:
    """moto's long request id, as moto makes it (52 letters and digits from its seedable random, in the
    `x-amzn-requestid` header), drawn in one call: moto's 52 calls were a tenth of a GetItem's CPU."""
    request_id = "".join(mock_random.choices(_REQUEST_ID_CHARACTERS, k=_REQUEST_ID_LENGTH))
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": request_id})
    return request_id


def _may_write(environ: dict[str, Any]) -> bool:
    """Whether a call may change the state: all but the reads of DynamoDB and Cognito and GETs."""
    service, _, operation = environ.get("HTTP_X_AMZ_TARGET", "").partition(".")
    if service == _DYNAMODB:
        return not operation.startswith(_DYNAMODB_READS)
    if service == _COGNITO:
        return not operation.startswith(_READS)
    return service != "" or environ["REQUEST_METHOD"] not in ("GET", "HEAD")


def _may_change_apigateway(environ: dict[str, Any]) -> bool:
    """API Gateway's API is REST: anything but GET and HEAD may change something."""
    return environ["REQUEST_METHOD"] not in ("GET", "HEAD") and signing_name(environ) == "apigateway"


def _may_change_cognito(target: str) -> bool:
    service, _, operation = target.partition(".")
    return service == _COGNITO and not operation.startswith(_READS)
