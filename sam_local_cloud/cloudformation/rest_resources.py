"""A REST API built from resources (AWS::ApiGateway::Resource, Method, Authorizer, RequestValidator,
Model) instead of an OpenAPI body, written as the OpenAPI body API Gateway would export for it.

The rest of the local cloud reads one shape, the body SAM writes (sam_local_cloud/cloudformation/spec.py); a
template that builds its API method by method gets the same reading: each Method becomes an operation
with its integration, `security` (authorizer and scopes, API key), request validator, required request
parameters and request models; each Authorizer a security scheme; each Model a definition.
"""

from __future__ import annotations

import json
import re
from typing import Any

ANY_METHOD = "x-amazon-apigateway-any-method"
API_KEY_SCHEME = "api_key"  # the name SAM gives it too
IAM_SCHEME = "sigv4"
_MODEL_URL = re.compile(r"^https://apigateway\.amazonaws\.com/restapis/[^/]+/models/([^/]+)$")
# method.request.<where>.<name> -> OpenAPI's `in`
_PARAMETER_PLACES = {"header": "header", "querystring": "query", "path": "path"}
_DEFAULT_TTL_SECONDS = 300  # an authorizer's result cache


def openapi_from_resources(resources: dict[str, Any], api_id: str) -> dict[str, Any]:
    """The OpenAPI (2.0) body of the RestApi `api_id`, from the resources that build it."""

    def of(kind: str) -> dict[str, dict[str, Any]]:
        return {
            name: r.get("Properties", {})
            for name, r in resources.items()
            if r["Type"] == kind and r.get("Properties", {}).get("RestApiId") == {"Ref": api_id}
        }

    paths: dict[str, dict[str, Any]] = {}
    schemes: dict[str, Any] = {}
    authorizers = of("AWS::ApiGateway::Authorizer")
    for name, props in authorizers.items():
        schemes[name] = _scheme(props)
    validators = of("AWS::ApiGateway::RequestValidator")
    models = of("AWS::ApiGateway::Model")
    model_names = {name: str(props.get("Name", name)) for name, props in models.items()}
    for props in of("AWS::ApiGateway::Method").values():
        path = _path_of(resources, api_id, props.get("ResourceId"))
        if path is None:
            continue  # on a resource of another API, or one we cannot place: not this API's method
        method = str(props.get("HttpMethod", "ANY")).lower()
        operation = _operation(props, schemes, validators, model_names)
        paths.setdefault(path, {})[ANY_METHOD if method == "any" else method] = operation
    body: dict[str, Any] = {
        "swagger": "2.0",
        "paths": paths,
        "securityDefinitions": schemes,
        "definitions": {model_names[name]: _schema(props) for name, props in models.items()},
        "x-amazon-apigateway-request-validators": {
            name: {
                "validateRequestBody": bool(props.get("ValidateRequestBody", False)),
                "validateRequestParameters": bool(props.get("ValidateRequestParameters", False)),
            }
            for name, props in validators.items()
        },
    }
    return body


def _path_of(resources: dict[str, Any], api_id: str, reference: Any) -> str | None:
    """The path of a ResourceId: the API's root (`Fn::GetAtt [Api, RootResourceId]`) or a Resource."""
    if reference == {"Fn::GetAtt": [api_id, "RootResourceId"]} or reference == {
        "Fn::GetAtt": f"{api_id}.RootResourceId"
    }:
        return "/"
    if not isinstance(reference, dict) or "Ref" not in reference:
        return None
    resource = resources.get(reference["Ref"])
    if resource is None or resource["Type"] != "AWS::ApiGateway::Resource":
        return None
    props = resource.get("Properties", {})
    parent = _path_of(resources, api_id, props.get("ParentId"))
    if parent is None:
        return None
    return f"{parent.rstrip('/')}/{props.get('PathPart', '')}"


def _scheme(props: dict[str, Any]) -> dict[str, Any]:
    kind = str(props.get("Type", "")).upper()
    source = str(props.get("IdentitySource", "method.request.header.Authorization"))
    header = source.removeprefix("method.request.header.") if "," not in source else "Authorization"
    scheme: dict[str, Any] = {"type": "apiKey", "name": header, "in": "header"}
    if kind == "COGNITO_USER_POOLS":
        authorizer = {"type": "cognito_user_pools", "providerARNs": props.get("ProviderARNs", [])}
        return {
            **scheme,
            "x-amazon-apigateway-authtype": "cognito_user_pools",
            "x-amazon-apigateway-authorizer": authorizer,
        }
    authorizer = {
        "type": kind.lower(),  # token or request
        "authorizerUri": props.get("AuthorizerUri"),
        "identitySource": source,
        "authorizerResultTtlInSeconds": props.get("AuthorizerResultTtlInSeconds", _DEFAULT_TTL_SECONDS),
    }
    if "IdentityValidationExpression" in props:
        authorizer["identityValidationExpression"] = props["IdentityValidationExpression"]
    if "AuthorizerCredentials" in props:
        authorizer["authorizerCredentials"] = props["AuthorizerCredentials"]
    return {**scheme, "x-amazon-apigateway-authtype": "custom", "x-amazon-apigateway-authorizer": authorizer}


def _operation(
    props: dict[str, Any],
    schemes: dict[str, Any],
    validators: dict[str, Any],
    model_names: dict[str, str],
) -> dict[str, Any]:
    operation: dict[str, Any] = {"responses": {}}
    security: list[dict[str, list[str]]] = []
    authorization = str(props.get("AuthorizationType", "NONE")).upper()
    authorizer = props.get("AuthorizerId")
    by_authorizer = authorization in ("COGNITO_USER_POOLS", "CUSTOM")
    if by_authorizer and isinstance(authorizer, dict) and "Ref" in authorizer:
        security.append({authorizer["Ref"]: list(props.get("AuthorizationScopes") or [])})
    elif authorization == "AWS_IAM":
        sigv4 = {"type": "apiKey", "name": "Authorization", "in": "header"}
        schemes.setdefault(IAM_SCHEME, {**sigv4, "x-amazon-apigateway-authtype": "awsSigv4"})
        security.append({IAM_SCHEME: []})
    elif authorization != "NONE":
        # An authorizer this reading cannot place: named as one the local cloud cannot enforce.
        schemes.setdefault(authorization, {"x-amazon-apigateway-authtype": authorization.lower()})
        security.append({authorization: []})
    if props.get("ApiKeyRequired"):
        schemes.setdefault(API_KEY_SCHEME, {"type": "apiKey", "name": "x-api-key", "in": "header"})
        security.append({API_KEY_SCHEME: []})
    if security:
        operation["security"] = security
    operation["x-amazon-apigateway-integration"] = _integration(props.get("Integration") or {})
    validator = props.get("RequestValidatorId")
    if isinstance(validator, dict) and validator.get("Ref") in validators:
        operation["x-amazon-apigateway-request-validator"] = validator["Ref"]
    parameters = []
    for key, required in (props.get("RequestParameters") or {}).items():
        _, _, where_name = str(key).partition("method.request.")
        where, _, name = where_name.partition(".")
        if where in _PARAMETER_PLACES and name:
            parameters.append({"name": name, "in": _PARAMETER_PLACES[where], "required": bool(required)})
    if parameters:
        operation["parameters"] = parameters
    request_models = props.get("RequestModels") or {}
    if request_models:
        operation["requestBody"] = {
            "content": {
                str(content_type): {"schema": {"$ref": f"#/definitions/{_model_name(model, model_names)}"}}
                for content_type, model in request_models.items()
            }
        }
    return operation


def _model_name(model: Any, model_names: dict[str, str]) -> str:
    if isinstance(model, dict) and "Ref" in model:
        return model_names.get(model["Ref"], str(model["Ref"]))
    return str(model)


def _integration(integration: dict[str, Any]) -> dict[str, Any]:
    kind = str(integration.get("Type", "")).lower()
    written: dict[str, Any] = {"type": kind}
    if "Uri" in integration:
        written["uri"] = integration["Uri"]
    if "IntegrationHttpMethod" in integration:
        written["httpMethod"] = integration["IntegrationHttpMethod"]
    if "TimeoutInMillis" in integration:
        written["timeoutInMillis"] = integration["TimeoutInMillis"]
    if kind == "mock":
        responses = integration.get("IntegrationResponses") or [{}]
        default = responses[0]
        written["responses"] = {
            "default": {
                "statusCode": str(default.get("StatusCode", 200)),
                "responseParameters": default.get("ResponseParameters", {}),
                "responseTemplates": default.get("ResponseTemplates", {}),
            }
        }
    return written


def _schema(props: dict[str, Any]) -> Any:
    """A model's JSON schema (draft 4), its references to other models of the API made local."""
    schema = props.get("Schema", {})
    if isinstance(schema, str):
        try:
            schema = json.loads(schema)
        except ValueError:
            return {}
    return _local_refs(schema)


def _local_refs(node: Any) -> Any:
    if isinstance(node, list):
        return [_local_refs(item) for item in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and (match := _MODEL_URL.match(ref)):
        return {**node, "$ref": f"#/definitions/{match.group(1)}"}
    return {k: _local_refs(v) for k, v in node.items()}
