"""The HTTP edge every handler shares: the Powertools resolvers, the caller check, and errors as HTTP.

Each function serves both APIs: the REST API sends payload format 1.0, the HTTP API 2.0. A
`ProductApp` holds one Powertools resolver per format, configured alike and given the same routes,
and answers each event with the resolver of its format. Domain errors are mapped to status codes
here, once. Every error body is JSON with a `message` that says what is wrong.
"""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools.event_handler import (
    APIGatewayHttpResolver,
    APIGatewayRestResolver,
    CORSConfig,
    Response,
    content_types,
)
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent, APIGatewayProxyEventV2

from product_api import cors as cors_headers
from product_api.caller import Caller
from product_api.cold_start import resume_garbage_collection
from product_api.errors import (
    IdempotencyKeyInProgress,
    IdempotencyKeyReused,
    InvalidRequest,
    MissingScope,
    ProductAlreadyExists,
    ProductNotFound,
    UnsupportedMediaType,
    VersionConflict,
    WrongTokenUse,
)
from product_api.models import ID_FORMAT, UUID_PATTERN
from product_api.observability import logger, metrics, tracer
from product_api.settings import Settings
from product_api.store import ProductStore


def json_response(status: int, body: dict[str, Any] | None = None, **headers: str) -> Response:
    text = json.dumps(body) if body is not None else None
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON if text is not None else None,
        body=text,
        headers=headers or None,
    )


Resolver = APIGatewayRestResolver | APIGatewayHttpResolver
Handler = TypeVar("Handler", bound=Callable[..., Any])


def is_http_api_event(event: dict[str, Any]) -> bool:
    """Payload format 2.0, which HTTP APIs send (REST APIs send 1.0, which has no `version`)."""
    return event.get("version") == "2.0"


class ProductApp:
    """The same routes on a resolver for each payload format; an event is answered by its format's."""

    def __init__(self, configure: Callable[[Resolver], None], cors: CORSConfig) -> None:
        self.rest = APIGatewayRestResolver(cors=cors)
        self.http = APIGatewayHttpResolver(cors=cors)
        for resolver in (self.rest, self.http):
            configure(resolver)
        self._active: Resolver = self.rest

    def _route(self, method: str, rule: str) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.rest.route(rule, method)(handler)
            self.http.route(rule, method)(handler)
            return handler

        return register

    def get(self, rule: str) -> Callable[[Handler], Handler]:
        return self._route("GET", rule)

    def post(self, rule: str) -> Callable[[Handler], Handler]:
        return self._route("POST", rule)

    def put(self, rule: str) -> Callable[[Handler], Handler]:
        return self._route("PUT", rule)

    def delete(self, rule: str) -> Callable[[Handler], Handler]:
        return self._route("DELETE", rule)

    def resolve(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        self._active = self.http if is_http_api_event(event) else self.rest
        return self._active.resolve(event, context)

    @property
    def current_event(self) -> APIGatewayProxyEvent | APIGatewayProxyEventV2:
        return self._active.current_event

    @property
    def lambda_context(self) -> Any:
        return self._active.lambda_context

    @property
    def context(self) -> dict[str, Any]:
        return self._active.context


def create_app(settings: Settings) -> ProductApp:
    cors = CORSConfig(
        allow_origin=settings.cors_allow_origin,
        allow_headers=list(cors_headers.ALLOW_HEADERS),
        expose_headers=list(cors_headers.EXPOSE_HEADERS),
        max_age=600,
    )
    return ProductApp(lambda resolver: _configure(resolver, settings), cors)


def _configure(app: Resolver, settings: Settings) -> None:
    """The middlewares and error handlers, the same on both resolvers."""

    def require_scope(app: Resolver, next_middleware: NextMiddleware) -> Response:
        # Defence in depth: the gateway checks the token first, but a template that drifts must not
        # open a route. AWS's rule for the Cognito authorizer, on both APIs: a scoped route takes an
        # access token holding one of its scopes; a route without scopes takes an ID token (the
        # HTTP API's JWT authorizer would let an access token through there).
        caller = Caller.from_event(app.current_event.raw_event)
        expected = "id" if settings.takes_id_token else "access"
        if caller.token_use != expected:
            logger.warning(
                "refused: wrong kind of token for the route",
                extra={"client_id": caller.client_id, "token_use": caller.token_use},
            )
            return json_response(403, {"message": str(WrongTokenUse(expected))})
        if not settings.takes_id_token and not caller.has_any_scope(settings.required_scopes):
            logger.warning(
                "refused: caller lacks the route's scope",
                extra={"client_id": caller.client_id, "scopes": sorted(caller.scopes)},
            )
            error = MissingScope(settings.required_scopes)
            return json_response(403, {"message": str(error)})
        logger.append_keys(client_id=caller.client_id, principal=caller.principal)
        app.append_context(caller=caller)
        return next_middleware(app)

    def check_path_parameters(app: Resolver, next_middleware: NextMiddleware) -> Response:
        # The one check of a product id. Made on the parameters as the gateway passed them: Powertools
        # matches the path again with a pattern ending in `$`, which lets "<id>\n" through as "<id>",
        # and a path its narrower pattern does not match ("€") goes to its not-found route, which
        # runs these middlewares too. So no code behind this one sees an id that is not a product id.
        bad = first_bad_path_parameter(app)
        if bad:
            return invalid_request(InvalidRequest(ID_FORMAT, field=bad))
        return next_middleware(app)

    app.use(middlewares=[require_scope, check_path_parameters])

    @app.exception_handler(InvalidRequest)
    def invalid_request(error: InvalidRequest) -> Response:
        return json_response(400, problem_body("invalid request", error))

    @app.exception_handler(UnsupportedMediaType)
    def unsupported_media_type(error: UnsupportedMediaType) -> Response:
        return json_response(415, problem_body("unsupported media type", error))

    @app.not_found
    def unmatched_path(error: NotFoundError) -> Response:
        return json_response(404, {"message": "no route for this path"})

    @app.exception_handler(ProductNotFound)
    def not_found(error: ProductNotFound) -> Response:
        logger.info("product not found", extra={"product_id": error.product_id})
        return json_response(404, {"message": str(error)})

    @app.exception_handler(VersionConflict)
    def version_conflict(error: VersionConflict) -> Response:
        return json_response(409, {"message": str(error), "current_version": error.current})

    @app.exception_handler(IdempotencyKeyReused)
    def idempotency_key_reused(error: IdempotencyKeyReused) -> Response:
        return json_response(422, problem_body("idempotency key reused", error))

    @app.exception_handler(IdempotencyKeyInProgress)
    def idempotency_key_in_progress(error: IdempotencyKeyInProgress) -> Response:
        return json_response(409, {"message": str(error)})

    @app.exception_handler(ProductAlreadyExists)
    def already_exists(error: ProductAlreadyExists) -> Response:
        return json_response(409, {"message": str(error)})

    @app.exception_handler(Exception)
    def unexpected(error: Exception) -> Response:
        request_id = app.lambda_context.aws_request_id if app.lambda_context else None
        logger.exception("unexpected error")
        return json_response(500, {"message": "internal server error", "request_id": request_id})


def bootstrap(settings: Settings | None = None) -> tuple[ProductApp, ProductStore]:
    """What a handler module needs, made once per cold start."""
    settings = settings or Settings.from_env(os.environ)
    return create_app(settings), ProductStore(settings.table_name)


def current_caller(app: ProductApp) -> Caller:
    return app.context["caller"]


def request_path(app: ProductApp) -> str:
    """The path the caller used, stage (or base path) included: REST's `requestContext.path`, the HTTP
    API's `rawPath` (no stage on its $default stage)."""
    event = app.current_event
    if isinstance(event, APIGatewayProxyEventV2):
        return event.raw_path
    return event.request_context.path


def first_bad_path_parameter(app: Resolver | ProductApp) -> str | None:
    """The first path parameter, as the gateway passed it, that is not a product id (the API's only kind)."""
    parameters = app.current_event.path_parameters or {}
    return next(
        (name for name, value in sorted(parameters.items()) if not UUID_PATTERN.fullmatch(value)), None
    )


def problem_body(summary: str, error: InvalidRequest) -> dict[str, Any]:
    return {"message": summary, "errors": [{"field": error.field, "message": error.message}]}


def body_of(app: ProductApp) -> str:
    """The request body as text: present, declared as JSON, and UTF-8 (JSON's only encoding)."""
    event = app.current_event
    if not event.body:
        raise InvalidRequest("is required: a JSON object", field="body")
    # Parameters such as charset=utf-8 say nothing more: JSON is UTF-8 (RFC 8259).
    media_type = event.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media_type != content_types.APPLICATION_JSON:
        raise UnsupportedMediaType
    try:
        return event.decoded_body or ""
    except ValueError:  # base64 that is not UTF-8 once decoded (binascii.Error and UnicodeDecodeError)
        raise InvalidRequest("is not UTF-8 text", field="body") from None


# What Powertools' Metrics warns at the end of every invocation that added no metric of its own. Read
# routes add none (the cold-start metric is published apart from them), so it is expected there.
NO_APPLICATION_METRICS = "No application metrics to publish"


def lambda_handler_for(app: ProductApp):
    """The Lambda entry point: correlation id, cold-start metric and tracing around the resolver.

    Called last in a handler module, once the handler is built: garbage collection, paused by the
    module's first statement, resumes here (product_api/cold_start.py).
    """

    @metrics.log_metrics(capture_cold_start_metric=True)
    def resolve(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return app.resolve(event, context)

    # requestContext.requestId in both payload formats (API_GATEWAY_HTTP is the same path).
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        # The filter Powertools documents for this warning, scoped to the invocation so that it
        # neither leaks into other code nor depends on import order.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=NO_APPLICATION_METRICS, category=UserWarning)
            return resolve(event, context)

    resume_garbage_collection()
    return lambda_handler
