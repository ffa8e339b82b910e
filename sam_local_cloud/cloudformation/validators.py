"""A REST API method's request validator, as the template declares it (docs/aws-behaviour.md,
"Request validators").

From the OpenAPI body (SAM's `RequestModel`/`RequestParameters` write it there, as does an imported
document): `x-amazon-apigateway-request-validators` names the validators, `x-amazon-apigateway-request-
validator` picks one for the whole API or for a method (the method's wins); the method's required
`parameters` (header, query) are what `validateRequestParameters` checks, and its body model (an
OpenAPI 2.0 `in: body` parameter, or 3.0 `requestBody.content`) what `validateRequestBody` checks. An
API built from resources reaches here as the same document (sam_local_cloud/cloudformation/rest_resources.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

DEFAULT_CONTENT_TYPE = "application/json"  # API Gateway's when a request names none
ANY_CONTENT_TYPE = "$default"  # a model for every content type without one of its own
_VALIDATOR = "x-amazon-apigateway-request-validator"


@dataclass(frozen=True)
class RequestValidation:
    validator: str
    required_headers: tuple[str, ...] = ()
    required_query: tuple[str, ...] = ()
    # Content type (lower case) or `$default` -> JSON schema (draft 4), the document's definitions beside it.
    body_schemas: dict[str, Any] = field(default_factory=dict)


def request_validation(
    body: dict[str, Any], path_item: dict[str, Any], operation: dict[str, Any]
) -> RequestValidation | None:
    """What the method's validator checks; None when no validator applies or it checks nothing."""
    name = operation.get(_VALIDATOR, body.get(_VALIDATOR))
    rules = (body.get("x-amazon-apigateway-request-validators") or {}).get(name) if name else None
    if not rules:
        return None
    headers: list[str] = []
    query: list[str] = []
    schemas: dict[str, Any] = {}
    if rules.get("validateRequestParameters"):
        for parameter in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
            parameter = _dereferenced(body, parameter)
            if parameter.get("required") and parameter.get("in") == "header":
                headers.append(str(parameter["name"]))
            elif parameter.get("required") and parameter.get("in") == "query":
                query.append(str(parameter["name"]))
    if rules.get("validateRequestBody"):
        schemas = _body_schemas(body, path_item, operation)
    if not (headers or query or schemas):
        return None
    return RequestValidation(str(name), tuple(headers), tuple(query), schemas)


def _body_schemas(
    body: dict[str, Any], path_item: dict[str, Any], operation: dict[str, Any]
) -> dict[str, Any]:
    found: dict[str, Any] = {}
    # OpenAPI 2.0: one body parameter, for each content type the method consumes.
    for parameter in [*path_item.get("parameters", []), *operation.get("parameters", [])]:
        parameter = _dereferenced(body, parameter)
        if parameter.get("in") == "body" and isinstance(parameter.get("schema"), dict):
            for content_type in operation.get("consumes") or body.get("consumes") or [DEFAULT_CONTENT_TYPE]:
                found[str(content_type).lower()] = parameter["schema"]
    # OpenAPI 3.0: a schema per content type.
    request_body = _dereferenced(body, operation.get("requestBody") or {})
    for content_type, media in (request_body.get("content") or {}).items():
        if isinstance(media, dict) and isinstance(media.get("schema"), dict):
            found[str(content_type).lower()] = media["schema"]
    # Local references (#/definitions/X, #/components/schemas/X) resolve against the schema's root.
    context = {k: body[k] for k in ("definitions", "components") if k in body}
    return {content_type: {**schema, **context} for content_type, schema in found.items()}


def _dereferenced(body: dict[str, Any], node: Any) -> dict[str, Any]:
    """A `$ref: '#/...'` to a parameter or request body of the document, followed; anything else as is."""
    ref = node.get("$ref") if isinstance(node, dict) else None
    if not isinstance(ref, str) or not ref.startswith("#/"):
        return node if isinstance(node, dict) else {}
    target: Any = body
    for part in ref[2:].split("/"):
        key = part.replace("~1", "/").replace("~0", "~")
        target = target.get(key, {}) if isinstance(target, dict) else {}
    return target if isinstance(target, dict) else {}
