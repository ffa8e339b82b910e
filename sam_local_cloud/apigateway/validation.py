"""API Gateway's basic request validation for a REST API method (docs/aws-behaviour.md, "Request
validators"): the required headers and query strings present and not blank, then the body valid
against the model of its content type (JSON Schema draft 4, as API Gateway's models are). A failure
is API Gateway's 400, never a call of the function.
"""

from __future__ import annotations

import json
from typing import Any

from jsonschema import Draft4Validator
from werkzeug.wrappers import Request

from sam_local_cloud.apigateway.errors import BadRequestBody, BadRequestParameters
from sam_local_cloud.cloudformation.validators import (
    ANY_CONTENT_TYPE,
    DEFAULT_CONTENT_TYPE,
    RequestValidation,
)


def validate(validation: RequestValidation, request: Request, body: bytes) -> None:
    """Raises BadRequestParameters or BadRequestBody where API Gateway would stop the request."""
    missing = [name for name in validation.required_headers if not request.headers.get(name, "").strip()]
    missing += [name for name in validation.required_query if not request.args.get(name, "").strip()]
    if missing:
        raise BadRequestParameters(f"Missing required request parameters: [{', '.join(missing)}]")
    if not validation.body_schemas or not body:
        return  # no model for it, or nothing sent (docs/aws-behaviour.md: unsettled for an empty body)
    content_type = (request.mimetype or DEFAULT_CONTENT_TYPE).lower()
    schema = validation.body_schemas.get(content_type, validation.body_schemas.get(ANY_CONTENT_TYPE))
    if schema is None:
        return  # API Gateway validates only a content type with a model (or `$default`)
    try:
        document = json.loads(body)
    except json.JSONDecodeError as error:
        raise BadRequestBody(f"[Invalid JSON: {error.msg}]") from None
    except UnicodeDecodeError:
        raise BadRequestBody("[Invalid JSON: not UTF-8]") from None
    errors = sorted(_validator(schema).iter_errors(document), key=str)
    if errors:
        raise BadRequestBody(f"[{', '.join(_described(error) for error in errors)}]")


_VALIDATORS: dict[int, tuple[dict[str, Any], Any]] = {}


def _validator(schema: dict[str, Any]) -> Any:
    """One validator per schema of the spec (which lives as long as the cloud), made on first use."""
    known = _VALIDATORS.get(id(schema))
    if known is None or known[0] is not schema:
        known = _VALIDATORS[id(schema)] = (schema, Draft4Validator(schema))
    return known[1]


def _described(error: Any) -> str:
    where = "/".join(str(part) for part in error.absolute_path)
    return f"{error.message}{f' (at /{where})' if where else ''}"
