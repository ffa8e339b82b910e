"""The AWS APIs the local cloud emulates (moto), as one WSGI application.

moto's own dispatcher works out each request's service anew: it lists moto's package and tries the
URL patterns of every service it knows, under one lock, which took about 40% of the local cloud's
time under load. Here the service of each host is looked up once and remembered; so are the method
names of moto's response classes, which moto otherwise lists with `inspect` on every call. A
DynamoDB answer that is already its own wire JSON, as items are, is written as it is
(`use_plain_dynamodb_results`), not walked attribute by attribute by moto's serializer. moto's
Flask apps run out of debug mode: in it, Flask makes a new class for every request's form data.

Calls that may change the user pool's app clients are announced to `on_cognito_change` listeners
once moto has made the change, so that what the local cloud keeps of the clients (local/tokens.py,
ClientDirectory) is dropped before the caller has its answer.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable
from typing import Any

import moto.core.responses
from moto import settings
from moto.dynamodb.responses import DynamoResult
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

_COGNITO = "AWSCognitoIdentityProviderService"
_READS = ("Describe", "List", "Get", "AdminGet", "AdminList")
_REMEMBERED_HOSTS = 1000  # a host names a service and a region: any client can make up more


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
        self._moto = _RememberingDispatcher()
        self.on_cognito_change: list[Callable[[], None]] = []

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self._moto(environ, start_response)
        if _may_change_cognito(environ.get("HTTP_X_AMZ_TARGET", "")):
            for listener in self.on_cognito_change:
                listener()
        return response


def _may_change_cognito(target: str) -> bool:
    service, _, operation = target.partition(".")
    return service == _COGNITO and not operation.startswith(_READS)


def _as_is(value: Any, shape: Any) -> bool:
    """Whether moto's JSON serializer would write `value` for `shape` unchanged (JSON-equal).

    True for dicts, lists, strings, booleans and numbers that already have the shape's members and
    types; False (so moto serializes it) for anything it would convert: blobs, timestamps, Decimals,
    objects, names it would alias, members set to None.
    """
    kind = shape.type_name
    if kind == "structure":
        return isinstance(value, dict) and all(
            name in shape.members and member is not None and _as_is(member, shape.members[name])
            for name, member in value.items()
        )
    if kind == "map":
        return isinstance(value, dict) and all(
            isinstance(key, str) and _as_is(member, shape.value) for key, member in value.items()
        )
    if kind == "list":
        return isinstance(value, list) and all(_as_is(member, shape.member) for member in value)
    if kind == "string":
        return isinstance(value, str) and not shape.serialization.get("jsonvalue")
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, float)
    return False


def _dynamodb_result(self: Any, context: Any) -> Any:
    """A DynamoDB answer that is already its wire JSON (items are) is written as it is.

    moto's serializer walks every attribute value through its picker of aliases, which was most of
    what a 20-item Scan page cost (docs/performance.md). Anything else goes to moto's serializer.
    """
    shape = context.operation_model.output_shape
    if isinstance(self.result, Exception) or shape is None or not _as_is(self.result, shape):
        return _moto_dynamodb_result(self, context)
    serializer = context.serializer_class(
        operation_model=context.operation_model, pretty_print=settings.PRETTIFY_RESPONSES
    )
    response = serializer._serialized_result_to_response(
        serializer._create_default_response(), self.result, shape, self.result
    )
    return response["status_code"], response["headers"], response["body"]


_moto_dynamodb_result = DynamoResult.execute_result


def use_plain_dynamodb_results() -> None:
    """DynamoDB answers written without moto's serializer when they need no conversion (once)."""
    DynamoResult.execute_result = _dynamodb_result  # type: ignore[method-assign]
