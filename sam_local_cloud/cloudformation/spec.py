"""What the transformed template declares, read once into small plain records.

Everything the local cloud serves comes from here: routes, methods and their functions from the
RestApi's OpenAPI body; the authorizer and each method's scopes from `security`; gateway responses;
CORS preflight mock integrations; the HTTP APIs (API Gateway v2) from their own OpenAPI bodies, where
the SAM translator writes routes, JWT authorizers, scopes and CORS (it emits no Route or Authorizer
resources), with their stage's name and route settings; functions; tables; the user pool, its resource
servers and clients. Nothing about routes or scopes is written anywhere else.
"""

from __future__ import annotations

import dataclasses
import platform
import re
import sys
from dataclasses import dataclass, field
from importlib.metadata import version
from typing import Any

from sam_local_cloud.cloudformation.inventory import references
from sam_local_cloud.cloudformation.resolve import Resolver
from sam_local_cloud.cloudformation.template import Template, TemplateRefused, openapi_body
from sam_local_cloud.cloudformation.validators import RequestValidation, request_validation

HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")
ANY_METHOD = "x-amazon-apigateway-any-method"
_FUNCTION_IN_URI = re.compile(r"\$\{(\w+)\.Arn\}|:function:([\w-]+)")


@dataclass(frozen=True)
class MockIntegration:
    """A `type: mock` integration (SAM's CORS preflight): status, headers and body, no function."""

    status: int
    headers: dict[str, str]
    body: str


# API Gateway's default (and, for most APIs, largest) integration timeout: docs/aws-behaviour.md §2.
DEFAULT_INTEGRATION_TIMEOUT_MS = 29_000


# An HTTP API's integration timeout when the template sets none: API Gateway's 30 s (the SAM docs' 5 s
# is unsettled; SAM writes nothing when unset): docs/aws-behaviour.md, HTTP API section.
HTTP_API_INTEGRATION_TIMEOUT_MS = 30_000
DEFAULT_ROUTE = "$default"  # an HTTP API's catch-all route key (and resource)
DEFAULT_STAGE = "$default"  # an HTTP API's stage served at the root of its URL


@dataclass(frozen=True)
class Route:
    resource: str  # the template path, e.g. /products/{id}; `$default` for an HTTP API's default route
    method: str  # GET, POST... or ANY
    function: str | None  # logical id of the proxy function
    mock: MockIntegration | None
    authorizer: str | None  # name in components.securitySchemes
    scopes: tuple[str, ...]
    api_key: bool
    timeout_seconds: float = DEFAULT_INTEGRATION_TIMEOUT_MS / 1000
    # What the template asks of this route that the local cloud cannot enforce (None: everything is).
    unenforced: str | None = None
    validation: RequestValidation | None = None  # the REST method's request validator, if any

    @property
    def key(self) -> str:
        """The route key as an HTTP API names it: `GET /products/{id}`, `ANY /{proxy+}`, `$default`."""
        return self.resource if self.resource == DEFAULT_ROUTE else f"{self.method} {self.resource}"


@dataclass(frozen=True)
class Throttle:
    """A token bucket's size: `burst` requests at once, refilled at `rate` per second."""

    rate: float
    burst: int


@dataclass(frozen=True)
class Quota:
    limit: int
    period: str  # DAY, WEEK or MONTH


@dataclass(frozen=True)
class AuthorizerSpec:
    name: str
    header: str
    user_pool: str  # logical id of the AWS::Cognito::UserPool; "" for a pool of another stack
    # The providerARN as written (Fn::GetAtt, Fn::ImportValue, a parameter's Ref, an ARN): resolved at
    # start-up, it must name the served pool (one of the served stacks), else start-up refuses it.
    provider: Any = None


# A Lambda authorizer's result TTL when the template sets none: API Gateway's 300 s (docs/aws-behaviour.md
# §11.1; for HTTP APIs §11.3, unsettled).
DEFAULT_AUTHORIZER_TTL_SECONDS = 300
# The `$context` variables a Lambda authorizer's identity source may name here (REST `context.X`, HTTP
# API `$context.X`); any other is refused at start-up (`unenforceable`).
REST_IDENTITY_CONTEXT = (
    "identity.sourceIp",
    "httpMethod",
    "resourcePath",
    "path",
    "stage",
    "apiId",
    "accountId",
)
HTTP_IDENTITY_CONTEXT = ("routeKey", "httpMethod", "path", "stage", "identity.sourceIp", "apiId", "accountId")


@dataclass(frozen=True)
class IdentitySource:
    """One identity source of a Lambda authorizer: where it is read and its name there."""

    where: str  # header, querystring, stageVariables or context
    name: str
    written: str  # as the template writes it, e.g. method.request.header.X or $request.header.X


@dataclass(frozen=True)
class LambdaAuthorizerSpec:
    """A Lambda authorizer (REST TOKEN or REQUEST, HTTP API REQUEST) as the OpenAPI body declares it."""

    name: str
    function: str  # logical id of the authorizer's AWS::Lambda::Function
    kind: str  # token or request
    identity_sources: tuple[IdentitySource, ...]
    ttl_seconds: int = DEFAULT_AUTHORIZER_TTL_SECONDS  # 0: no cache
    validation_expression: str | None = None  # TOKEN only
    payload_version: str = "1.0"  # HTTP APIs: 1.0 or 2.0; a REST API's events are 1.0-shaped
    simple_responses: bool = False  # HTTP APIs, payload 2.0: {isAuthorized, context}


@dataclass(frozen=True)
class GatewayResponse:
    status: int | None
    headers: dict[str, str]  # header name -> mapping expression, e.g. "'*'"
    templates: dict[str, str]


@dataclass(frozen=True)
class StageSpec:
    """One stage of a REST API: its name and the settings the local cloud models per stage."""

    name: str
    logical_id: str | None  # its AWS::ApiGateway::Stage; None for the stage a Deployment's StageName makes
    method_throttles: dict[tuple[str, str], Throttle] = field(default_factory=dict)
    variables: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiSpec:
    """A REST API as served at one stage (`stage`, the first of `stages`; `at` gives it at another)."""

    logical_id: str
    stage: str
    stage_logical_id: str | None
    routes: tuple[Route, ...]
    authorizers: dict[str, AuthorizerSpec]
    api_key_header: str
    gateway_responses: dict[str, GatewayResponse]
    binary_media_types: tuple[str, ...] = ()
    # (resource, method) -> limits from the stage's MethodSettings; "*" matches any.
    method_throttles: dict[tuple[str, str], Throttle] = field(default_factory=dict)
    lambda_authorizers: dict[str, LambdaAuthorizerSpec] = field(default_factory=dict)
    api_key_source: str = "HEADER"  # or AUTHORIZER: the key is the Lambda authorizer's usageIdentifierKey
    stage_variables: dict[str, str] = field(default_factory=dict)
    # Every stage of the API, each served under its own /{stage} (docs/aws-behaviour.md §2.2).
    stages: tuple[StageSpec, ...] = ()

    def at(self, stage: StageSpec) -> ApiSpec:
        """The API as one of its stages serves it: same routes, that stage's name and settings."""
        return dataclasses.replace(
            self,
            stage=stage.name,
            stage_logical_id=stage.logical_id,
            method_throttles=stage.method_throttles,
            stage_variables=stage.variables,
        )

    def each_stage(self) -> list[ApiSpec]:
        return [self.at(stage) for stage in self.stages] if self.stages else [self]


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """An HTTP API's JWT authorizer; issuer and audience as the template writes them (intrinsics kept,
    resolved once the pool and its clients exist)."""

    name: str
    identity_source: str  # `$request.header.Authorization` or `$request.querystring.access_token`
    issuer: Any
    audience: tuple[Any, ...]


@dataclass(frozen=True)
class CorsSpec:
    """An HTTP API's CorsConfiguration (`x-amazon-apigateway-cors`), answered by the gateway itself."""

    allow_origins: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class HttpApiSpec:
    """An HTTP API (API Gateway v2) and its one stage, as SAM's `AWS::Serverless::HttpApi` makes it."""

    logical_id: str
    stage: str  # `$default` (served at the root) or a stage name (served under /{stage})
    stage_logical_id: str | None
    routes: tuple[Route, ...]
    authorizers: dict[str, JwtAuthorizerSpec]
    cors: CorsSpec | None
    # (route resource, method) -> limits from the stage's RouteSettings; ("/*", "*"): DefaultRouteSettings.
    route_throttles: dict[tuple[str, str], Throttle] = field(default_factory=dict)
    stage_variables: dict[str, str] = field(default_factory=dict)
    lambda_authorizers: dict[str, LambdaAuthorizerSpec] = field(default_factory=dict)


@dataclass(frozen=True)
class CloudSpec:
    # The REST API served on PORT (the first of `rest_apis`); None when the template has only HTTP APIs.
    api: ApiSpec | None
    functions: dict[str, dict[str, Any]]  # logical id -> AWS::Lambda::Function Properties
    tables: dict[str, dict[str, Any]]
    user_pools: dict[str, dict[str, Any]]
    resource_servers: dict[str, dict[str, Any]]
    clients: dict[str, dict[str, Any]]  # machine clients (client_credentials), which the cloud serves
    domains: dict[str, dict[str, Any]]
    api_keys: dict[str, dict[str, Any]]
    not_honoured: list[str] = field(default_factory=list)
    # Whatever would be served open because the local cloud cannot enforce it: start-up refuses it
    # unless told to serve it unenforced (docs/aws-behaviour.md §8).
    unenforceable: list[str] = field(default_factory=list)
    # Every other app client (people's: code flow, sign-in API).
    user_clients: dict[str, dict[str, Any]] = field(default_factory=dict)
    http_apis: tuple[HttpApiSpec, ...] = ()  # in template order: each is served on its own port
    # Every REST API in template order (SAM writes the APIs in the order they are written, its implicit
    # ServerlessRestApi after them): the first is `api`, each other one is served on a port of its own.
    rest_apis: tuple[ApiSpec, ...] = ()


def active(template: Template) -> Template:
    """The template without the resources and outputs whose Condition is false.

    The translator keeps conditional resources (e.g. the API key when RequireApiKey is false) and
    leaves CloudFormation to drop them; the parameters are known, so the conditions are decided here.
    """
    resolver = Resolver(parameters=template.parameters, conditions=template.conditions)

    def kept(entry: dict[str, Any]) -> bool:
        return "Condition" not in entry or resolver.condition(entry["Condition"])

    resources = {k: v for k, v in template.resources.items() if kept(v)}
    outputs = {k: v for k, v in template.outputs.items() if kept(v)}
    dropped = {k: v["Condition"] for k, v in template.resources.items() if k not in resources}
    for block, entries in (("Resources", resources), ("Outputs", outputs)):
        # CloudFormation refuses a stack whose kept resources or outputs use a dropped one.
        used = set().union(*(references(entry, resolver.condition) for entry in entries.values()))
        missing = sorted(used & dropped.keys())
        if missing:
            why = ", ".join(f"{name}'s Condition {dropped[name]} is false" for name in missing)
            raise TemplateRefused(
                f"{template.path}: Template format error: Unresolved resource dependencies "
                f"[{', '.join(missing)}] in the {block} block of the template ({why})"
            )
    return dataclasses.replace(template, resources=resources, outputs=outputs)


def read_spec(template: Template) -> CloudSpec:
    template = active(template)
    rest_apis = tuple(_read_api(template, api_id) for api_id in template.of_type("AWS::ApiGateway::RestApi"))
    api = rest_apis[0] if rest_apis else None
    http_apis = _read_http_apis(template)
    clients = _properties(template, "AWS::Cognito::UserPoolClient")
    return CloudSpec(
        api=api,
        functions=_properties(template, "AWS::Lambda::Function"),
        tables=_properties(template, "AWS::DynamoDB::Table"),
        user_pools=_properties(template, "AWS::Cognito::UserPool"),
        resource_servers=_properties(template, "AWS::Cognito::UserPoolResourceServer"),
        clients={n: p for n, p in clients.items() if "client_credentials" in p.get("AllowedOAuthFlows", [])},
        domains=_properties(template, "AWS::Cognito::UserPoolDomain"),
        api_keys=_properties(template, "AWS::ApiGateway::ApiKey"),
        not_honoured=not_honoured(template) + _lambda_authorizer_notes(rest_apis, http_apis),
        unenforceable=unenforceable(template, rest_apis, http_apis),
        user_clients={
            n: p for n, p in clients.items() if "client_credentials" not in p.get("AllowedOAuthFlows", [])
        },
        http_apis=http_apis,
        rest_apis=rest_apis,
    )


def proxy_routes(template: Template) -> list[Route]:
    """The REST API's methods that invoke a function (everything but the CORS preflight mocks)."""
    api = read_spec(template).api
    return [route for route in api.routes if route.function] if api else []


def _properties(template: Template, resource_type: str) -> dict[str, dict[str, Any]]:
    return {name: r.get("Properties", {}) for name, r in template.of_type(resource_type).items()}


# ---------------------------------------------------------------- the REST API


def _read_api(template: Template, api_id: str) -> ApiSpec:
    stages = _stages_of(template, api_id)
    body = openapi_body(template, api_id)
    schemes = body.get("components", {}).get("securitySchemes") or body.get("securityDefinitions", {})
    authorizers = {
        name: AuthorizerSpec(
            name=name,
            header=scheme["name"],
            user_pool=pool,
            provider=scheme["x-amazon-apigateway-authorizer"]["providerARNs"][0],
        )
        for name, scheme in schemes.items()
        if scheme.get("x-amazon-apigateway-authtype") == "cognito_user_pools"
        and (pool := _user_pool_of(scheme)) is not None
    }
    functions = set(template.of_type("AWS::Lambda::Function"))
    lambda_authorizers = {}
    other_authorizers = {}
    for name, scheme in schemes.items():
        if name in authorizers:
            continue
        lambda_authorizer = _rest_lambda_authorizer(name, scheme, functions)
        if isinstance(lambda_authorizer, LambdaAuthorizerSpec):
            lambda_authorizers[name] = lambda_authorizer
        elif lambda_authorizer is not None:
            other_authorizers[name] = lambda_authorizer
        elif "x-amazon-apigateway-authtype" in scheme or "x-amazon-apigateway-authorizer" in scheme:
            other_authorizers[name] = _authorizer_kind(scheme)
    api_key_header = next(
        (
            s["name"]
            for s in schemes.values()
            if s.get("type") == "apiKey" and s["name"].lower() == "x-api-key"
        ),
        "x-api-key",
    )
    routes = tuple(
        dataclasses.replace(
            _route(path, method, operation, {*authorizers, *lambda_authorizers}, other_authorizers),
            validation=request_validation(body, operations, operation),
        )
        for path, operations in body.get("paths", {}).items()
        for method, operation in operations.items()
        if method in HTTP_METHODS or method == ANY_METHOD
    )
    responses = {
        kind: GatewayResponse(
            status=int(r["statusCode"]) if "statusCode" in r else None,
            headers=_strip_prefix(r.get("responseParameters", {}), "gatewayresponse.header."),
            templates=dict(r.get("responseTemplates", {})),
        )
        for kind, r in body.get("x-amazon-apigateway-gateway-responses", {}).items()
    }
    # Gateway responses can also be separate resources (a template written without SAM's shorthand).
    for props in _properties(template, "AWS::ApiGateway::GatewayResponse").values():
        if not _of_rest_api(template, props, api_id):
            continue
        responses[props["ResponseType"]] = GatewayResponse(
            status=int(props["StatusCode"]) if "StatusCode" in props else None,
            headers=_strip_prefix(props.get("ResponseParameters", {}), "gatewayresponse.header."),
            templates=dict(props.get("ResponseTemplates", {})),
        )
    api_props = template.resources[api_id].get("Properties", {})
    binary = api_props.get("BinaryMediaTypes") or body.get("x-amazon-apigateway-binary-media-types") or []
    api = ApiSpec(
        logical_id=api_id,
        stage=stages[0].name,
        stage_logical_id=stages[0].logical_id,
        routes=routes,
        authorizers=authorizers,
        api_key_header=api_key_header,
        gateway_responses=responses,
        # In the template "~1" stands for "/" (image~1png): API Gateway's own escaping.
        binary_media_types=tuple(str(t).replace("~1", "/") for t in binary),
        lambda_authorizers=lambda_authorizers,
        api_key_source=str(
            api_props.get("ApiKeySourceType") or body.get("x-amazon-apigateway-api-key-source") or "HEADER"
        ).upper(),
        stages=stages,
    )
    return api.at(stages[0])


def _stages_of(template: Template, api_id: str) -> tuple[StageSpec, ...]:
    """Every stage of the REST API (docs/aws-behaviour.md §2.2): its AWS::ApiGateway::Stage resources,
    then the stage each of its Deployments names with `StageName` (an API built from resources often
    has no Stage resource; SAM's Deployment names a stray `Stage` unless OpenApiVersion is set). The
    first is the one the banner and the API page show: SAM's own stage (`{Api}{StageName}Stage`), else
    the first written."""
    stages = [
        StageSpec(
            name=str(props["StageName"]),
            logical_id=name,
            method_throttles=_method_throttles(props.get("MethodSettings") or []),
            variables={k: str(v) for k, v in (props.get("Variables") or {}).items()},
        )
        for name, stage in template.of_type("AWS::ApiGateway::Stage").items()
        if _of_rest_api(template, props := stage.get("Properties", {}), api_id) and props.get("StageName")
    ]
    stages.sort(key=lambda stage: stage.logical_id != f"{api_id}{stage.name}Stage")
    for d in template.of_type("AWS::ApiGateway::Deployment").values():
        props = d.get("Properties", {})
        if props.get("StageName") and _of_rest_api(template, props, api_id):
            description = props.get("StageDescription") or {}
            settings = list(description.get("MethodSettings") or [])
            if "ThrottlingRateLimit" in description or "ThrottlingBurstLimit" in description:
                # The stage's own default limits: every method's, unless a MethodSetting says otherwise.
                settings.insert(0, {k: v for k, v in description.items() if k.startswith("Throttling")})
            stages.append(
                StageSpec(
                    name=str(props["StageName"]),
                    logical_id=None,
                    method_throttles=_method_throttles(settings),
                    variables={k: str(v) for k, v in (description.get("Variables") or {}).items()},
                )
            )
    if not stages:
        raise TemplateRefused(f"{api_id}: a REST API needs a stage to be served; found none")
    names = [stage.name for stage in stages]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:  # API Gateway's ConflictException "Stage already exists"
        raise TemplateRefused(f"{api_id}: stage {', '.join(twice)} declared twice (API Gateway refuses it)")
    return tuple(stages)


def _of_rest_api(template: Template, props: dict[str, Any], api_id: str) -> bool:
    """Whether a stage or gateway response is the REST API's: its RestApiId names it; in a template
    with one REST API, whatever it names (an id written another way is still that API's)."""
    if len(template.of_type("AWS::ApiGateway::RestApi")) == 1:
        return True
    return bool(props.get("RestApiId") == {"Ref": api_id})


def _user_pool_of(scheme: dict[str, Any]) -> str | None:
    """The logical id of the one pool of this template an authorizer names; "" for one pool named
    otherwise (Fn::ImportValue, a parameter, an ARN: resolved at start-up against the served stacks);
    None for several (unenforceable)."""
    arns = scheme.get("x-amazon-apigateway-authorizer", {}).get("providerARNs", [])
    if len(arns) != 1:
        return None
    if isinstance(arns[0], dict) and "Fn::GetAtt" in arns[0]:
        target = arns[0]["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else str(target).split(".")[0])
    return ""


def _authorizer_kind(scheme: dict[str, Any]) -> str:
    kind = scheme.get("x-amazon-apigateway-authtype", scheme.get("type", "?"))
    if kind == "awsSigv4":
        return "IAM authorization (SigV4)"
    if kind == "cognito_user_pools":
        return "a Cognito authorizer on a user pool outside this template (or on several pools)"
    authorizer_type = scheme.get("x-amazon-apigateway-authorizer", {}).get("type", kind)
    return f"a Lambda authorizer ({authorizer_type})"


def _rest_lambda_authorizer(
    name: str, scheme: dict[str, Any], functions: set[str]
) -> LambdaAuthorizerSpec | str | None:
    """A REST API's TOKEN or REQUEST authorizer; a string saying why it cannot be enforced; None when
    the scheme is no Lambda authorizer."""
    config = scheme.get("x-amazon-apigateway-authorizer") or {}
    kind = str(config.get("type", "")).lower()
    if kind not in ("token", "request") or scheme.get("x-amazon-apigateway-authtype") == "cognito_user_pools":
        return None
    function = _authorizer_function(config.get("authorizerUri"), functions)
    if function is None:
        return f"a Lambda authorizer ({kind}; its function is not in this template)"
    if kind == "token":
        # The token's header: the scheme's `name` (SAM's Identity.Header), unless identitySource says.
        written = (
            config.get("identitySource") or f"method.request.header.{scheme.get('name', 'Authorization')}"
        )
    else:
        written = config.get("identitySource", "")
    sources = [_identity_source(s.strip(), rest=True) for s in str(written).split(",") if s.strip()]
    unreadable = [s for s in sources if isinstance(s, str)]
    if unreadable:
        return f"a Lambda authorizer ({kind}; its identity source {unreadable[0]} cannot be read locally)"
    return LambdaAuthorizerSpec(
        name=name,
        function=function,
        kind=kind,
        identity_sources=tuple(s for s in sources if isinstance(s, IdentitySource)),
        ttl_seconds=int(config.get("authorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL_SECONDS)),
        validation_expression=config.get("identityValidationExpression") if kind == "token" else None,
    )


def _authorizer_function(uri: Any, functions: set[str]) -> str | None:
    """The logical id of the template's function an authorizerUri invokes, else None.

    SAM writes `Fn::Sub` with `${__FunctionArn__}` bound to the function's `Fn::GetAtt ... Arn`; a
    template written by hand may use `${Function.Arn}`.
    """
    if isinstance(uri, str):  # LanguageExtensions leaves an included file's Fn::Sub as its bare string
        uri = {"Fn::Sub": uri}
    if not isinstance(uri, dict) or "Fn::Sub" not in uri:
        return None
    text, variables = (
        (uri["Fn::Sub"] + [{}])[:2] if isinstance(uri["Fn::Sub"], list) else (uri["Fn::Sub"], {})
    )
    for value in (variables or {}).values():
        target = value.get("Fn::GetAtt") if isinstance(value, dict) else None
        if isinstance(target, list) and len(target) == 2 and target[1] == "Arn" and target[0] in functions:
            return str(target[0])
    named = re.search(r"\$\{(\w+)\.Arn\}", str(text))
    return named.group(1) if named and named.group(1) in functions else None


_IDENTITY_PREFIXES = {
    True: {
        "method.request.header.": "header",
        "method.request.querystring.": "querystring",
        "stageVariables.": "stageVariables",
        "context.": "context",
    },
    False: {
        "$request.header.": "header",
        "$request.querystring.": "querystring",
        "$stageVariables.": "stageVariables",
        "$context.": "context",
    },
}


def _identity_source(written: str, *, rest: bool) -> IdentitySource | str:
    """One identity source, or the text as written when the local cloud cannot read it."""
    for prefix, where in _IDENTITY_PREFIXES[rest].items():
        if written.startswith(prefix) and written[len(prefix) :]:
            name = written[len(prefix) :]
            if where == "context" and name not in (REST_IDENTITY_CONTEXT if rest else HTTP_IDENTITY_CONTEXT):
                return written
            return IdentitySource(where=where, name=name, written=written)
    return written


def _route(
    path: str,
    method: str,
    operation: dict[str, Any],
    authorizers: set[str],
    other_authorizers: dict[str, str],
) -> Route:
    integration = operation.get("x-amazon-apigateway-integration", {})
    authorizer, scopes, api_key = None, (), False
    unenforced = []
    # API Gateway requires every entry of `security` (unlike OpenAPI's "any one of them").
    for requirement in operation.get("security", []):
        for name, requirement_scopes in requirement.items():
            if name in authorizers:  # Cognito or Lambda
                authorizer, scopes = name, tuple(requirement_scopes)
            elif name == "api_key":
                api_key = True
            elif name in other_authorizers:
                unenforced.append(f"{other_authorizers[name]} {name}")
    kind = integration.get("type")
    function = _function_of(integration) if kind == "aws_proxy" else None
    if kind not in ("aws_proxy", "mock"):
        unenforced.append(f"integration type {kind!r} (only Lambda proxy and mock are served)")
    elif kind == "aws_proxy" and function is None:
        unenforced.append(_not_a_function(integration))
    return Route(
        resource=path,
        method="ANY" if method == ANY_METHOD else method.upper(),
        function=function,
        mock=_mock_of(integration) if kind == "mock" else None,
        authorizer=authorizer,
        scopes=scopes,
        api_key=api_key,
        timeout_seconds=int(integration.get("timeoutInMillis", DEFAULT_INTEGRATION_TIMEOUT_MS)) / 1000,
        unenforced="; ".join(unenforced) or None,
    )


def _method_throttles(settings: list[dict[str, Any]]) -> dict[tuple[str, str], Throttle]:
    """MethodSettings with throttling, keyed by (resource path, method); `/*` and `*` stay wildcards."""
    throttles = {}
    for setting in settings:
        if "ThrottlingRateLimit" in setting or "ThrottlingBurstLimit" in setting:
            # "/~1a~1b" is /a/b: the leading slash, then the path with its slashes written as ~1.
            path = setting.get("ResourcePath", "/*")
            resource = path if path in ("/", "/*") else path[1:].replace("~1", "/")
            throttles[(resource, setting.get("HttpMethod", "*"))] = Throttle(
                rate=float(setting.get("ThrottlingRateLimit", 10_000)),
                burst=int(setting.get("ThrottlingBurstLimit", 5_000)),
            )
    return throttles


def _function_of(integration: dict[str, Any]) -> str | None:
    """The function a Lambda proxy integration's `uri` invokes, else None (an AWS service integration
    has no `uri`; a function outside the template has no logical id).

    The uri is written as `Fn::Sub` (`${Function.Arn}`, or a variable bound to `Fn::GetAtt`), `Fn::Join`
    around `Fn::GetAtt`, or a literal ARN ending in `:function:NAME`."""
    return _function_in(integration.get("uri"))


def _function_in(value: Any) -> str | None:
    if isinstance(value, str):
        match = _FUNCTION_IN_URI.search(value)
        return (match.group(1) or match.group(2)) if match else None
    if isinstance(value, list):
        return next((found for item in value if (found := _function_in(item))), None)
    if isinstance(value, dict):
        if list(value) == ["Fn::GetAtt"]:
            target = value["Fn::GetAtt"]
            target = target.split(".", 1) if isinstance(target, str) else target
            return str(target[0]) if isinstance(target, list) and target[1:] == ["Arn"] else None
        # Fn::Sub's text then its variables, Fn::Join's parts, any other function's arguments
        return _function_in(list(value.values()))
    return None


def _not_a_function(integration: dict[str, Any]) -> str:
    """Why a Lambda proxy integration is not served: what it calls instead of a function of the template."""
    subtype = integration.get("integrationSubtype")
    if subtype:
        return f"AWS service integration {subtype} (only Lambda proxy is served)"
    return "a Lambda proxy integration whose function is not in this template"


def _mock_of(integration: dict[str, Any]) -> MockIntegration:
    default = integration.get("responses", {}).get("default", {})
    return MockIntegration(
        status=int(default.get("statusCode", 200)),
        headers=_strip_prefix(default.get("responseParameters", {}), "method.response.header."),
        body=default.get("responseTemplates", {}).get("application/json", ""),
    )


def _strip_prefix(parameters: dict[str, str], prefix: str) -> dict[str, str]:
    return {k.removeprefix(prefix): v for k, v in parameters.items() if k.startswith(prefix)}


# ---------------------------------------------------------------- the HTTP APIs


def _read_http_apis(template: Template) -> tuple[HttpApiSpec, ...]:
    """Every HTTP API defined by an OpenAPI body (what SAM emits); WebSocket APIs and APIs built from
    Route resources are not served (named by `unenforceable`)."""
    stages = template.of_type("AWS::ApiGatewayV2::Stage")
    apis = []
    for name, resource in template.of_type("AWS::ApiGatewayV2::Api").items():
        props = resource.get("Properties", {})
        body = props.get("Body")
        if not isinstance(body, dict) or props.get("ProtocolType") == "WEBSOCKET":
            continue
        own = ((k, s["Properties"]) for k, s in stages.items() if _of_api(s, name))
        stage_id, stage = next(own, (None, {}))
        apis.append(_read_http_api(template, name, body, props, stage_id, stage))
    return tuple(apis)


def _of_api(stage: dict[str, Any], api: str) -> bool:
    return stage["Properties"].get("ApiId") == {"Ref": api}


def _read_http_api(
    template: Template,
    name: str,
    body: dict[str, Any],
    props: dict[str, Any],
    stage_id: str | None,
    stage: dict[str, Any],
) -> HttpApiSpec:
    schemes = body.get("components", {}).get("securitySchemes", {})
    authorizers = {}
    lambda_authorizers: dict[str, LambdaAuthorizerSpec] = {}
    others = {}
    for scheme_name, scheme in schemes.items():
        config = scheme.get("x-amazon-apigateway-authorizer", {})
        if config.get("type") == "jwt":
            jwt_config = config.get("jwtConfiguration", {})
            source = config.get("identitySource", "$request.header.Authorization")
            audience = jwt_config.get("audience", jwt_config.get("Audience", []))
            authorizers[scheme_name] = JwtAuthorizerSpec(
                name=scheme_name,
                # For JWT, one identity source only (a list of one, when written as a list).
                identity_source=source[0] if isinstance(source, list) else source,
                issuer=jwt_config.get("issuer", jwt_config.get("Issuer")),
                audience=tuple(audience if isinstance(audience, list) else [audience]),
            )
        else:
            found = _http_lambda_authorizer(
                scheme_name, config, set(template.of_type("AWS::Lambda::Function"))
            )
            if isinstance(found, LambdaAuthorizerSpec):
                lambda_authorizers[scheme_name] = found
            else:
                others[scheme_name] = found
    others["AWS_IAM"] = "IAM authorization (SigV4)"
    routes = []
    for path, operations in body.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in HTTP_METHODS and method != ANY_METHOD:
                continue
            default_route = path in (DEFAULT_ROUTE, f"/{DEFAULT_ROUTE}") or operation.get("isDefaultRoute")
            security = operation.get("security", body.get("security", []))
            routes.append(
                _http_route(
                    DEFAULT_ROUTE if default_route else path,
                    "ANY" if method == ANY_METHOD or default_route else method.upper(),
                    operation.get("x-amazon-apigateway-integration", {}),
                    security,
                    {*authorizers, *lambda_authorizers},
                    others,
                )
            )
    cors = body.get("x-amazon-apigateway-cors") or _lower_keys(props.get("CorsConfiguration"))
    resolver = Resolver(parameters=template.parameters, conditions=template.conditions)
    return HttpApiSpec(
        logical_id=name,
        stage=str(stage.get("StageName", DEFAULT_STAGE)),
        stage_logical_id=stage_id,
        routes=tuple(routes),
        authorizers=authorizers,
        cors=_cors(resolver.resolve(cors)) if isinstance(cors, dict) else None,
        route_throttles=_route_throttles(stage),
        stage_variables={k: str(v) for k, v in (stage.get("StageVariables") or {}).items()},
        lambda_authorizers=lambda_authorizers,
    )


def _http_lambda_authorizer(
    name: str, config: dict[str, Any], functions: set[str]
) -> LambdaAuthorizerSpec | str:
    """An HTTP API's Lambda (REQUEST) authorizer, or a string saying why it cannot be enforced."""
    kind = str(config.get("type", "?")).lower()
    function = _authorizer_function(config.get("authorizerUri"), functions)
    if kind != "request" or function is None:
        return f"a Lambda authorizer ({kind}; its function is not in this template)"
    version = str(config.get("authorizerPayloadFormatVersion", ""))
    if version not in ("1.0", "2.0"):
        return f"a Lambda authorizer (payload format {version or 'unset'}; 1.0 or 2.0 is required)"
    written = config.get("identitySource") or []
    written = written.split(",") if isinstance(written, str) else written
    sources = [_identity_source(str(s).strip(), rest=False) for s in written if str(s).strip()]
    unreadable = [s for s in sources if isinstance(s, str)]
    if unreadable:
        return f"a Lambda authorizer (its identity source {unreadable[0]} cannot be read locally)"
    return LambdaAuthorizerSpec(
        name=name,
        function=function,
        kind="request",
        identity_sources=tuple(s for s in sources if isinstance(s, IdentitySource)),
        ttl_seconds=int(config.get("authorizerResultTtlInSeconds", DEFAULT_AUTHORIZER_TTL_SECONDS)),
        payload_version=version,
        simple_responses=bool(config.get("enableSimpleResponses", False)) and version == "2.0",
    )


def _http_route(
    resource: str,
    method: str,
    integration: dict[str, Any],
    security: list[dict[str, list[str]]],
    authorizers: set[str],
    others: dict[str, str],
) -> Route:
    authorizer, unenforced = None, []
    scopes: tuple[str, ...] = ()
    for requirement in security:
        for name, requirement_scopes in requirement.items():
            if name in authorizers:
                authorizer, scopes = name, tuple(requirement_scopes)
            elif name in others:
                unenforced.append(f"{others[name]} {name}")
            # NONE: served open, as on AWS (SAM's `Authorizer: NONE`).
    kind = integration.get("type")
    function = _function_of(integration) if kind == "aws_proxy" else None
    if kind != "aws_proxy":
        unenforced.append(f"integration type {kind!r} (only Lambda proxy is served)")
    elif function is None:
        unenforced.append(_not_a_function(integration))
    elif str(integration.get("payloadFormatVersion", "2.0")) != "2.0":
        unenforced.append("payload format 1.0 (the local cloud sends 2.0 events)")
    return Route(
        resource=resource,
        method=method,
        function=function,
        mock=None,
        authorizer=authorizer,
        scopes=scopes,
        api_key=False,
        timeout_seconds=int(integration.get("timeoutInMillis", HTTP_API_INTEGRATION_TIMEOUT_MS)) / 1000,
        unenforced="; ".join(unenforced) or None,
    )


def _lower_keys(config: Any) -> Any:
    """CloudFormation's CorsConfiguration (AllowOrigins...) in the body's spelling (allowOrigins...)."""
    if not isinstance(config, dict):
        return None
    return {k[:1].lower() + k[1:]: v for k, v in config.items()}


def _cors(config: dict[str, Any]) -> CorsSpec:
    def strings(key: str) -> tuple[str, ...]:
        return tuple(str(v) for v in config.get(key) or ())

    max_age = config.get("maxAge")
    return CorsSpec(
        allow_origins=strings("allowOrigins"),
        allow_headers=strings("allowHeaders"),
        allow_methods=strings("allowMethods"),
        expose_headers=strings("exposeHeaders"),
        max_age=int(max_age) if max_age is not None else None,
        allow_credentials=bool(config.get("allowCredentials", False)),
    )


def _route_throttles(stage: dict[str, Any]) -> dict[tuple[str, str], Throttle]:
    """The stage's DefaultRouteSettings and RouteSettings with throttling, keyed as `Throttling` looks
    them up: (resource, method) of the route key, ("/*", "*") for the default."""
    throttles = {}
    settings = [("/*", "*", stage.get("DefaultRouteSettings") or {})]
    for route_key, setting in (stage.get("RouteSettings") or {}).items():
        method, _, resource = route_key.partition(" ")
        settings.append((resource or route_key, method if resource else "ANY", setting))
    for resource, method, setting in settings:
        if "ThrottlingRateLimit" in setting or "ThrottlingBurstLimit" in setting:
            throttles[(resource, method)] = Throttle(
                rate=float(setting.get("ThrottlingRateLimit", 10_000)),
                burst=int(setting.get("ThrottlingBurstLimit", 5_000)),
            )
    return throttles


# ---------------------------------------------------------------- what we cannot enforce


_UNSERVED_API_KINDS = {
    "AWS::AppSync::GraphQLApi": "AppSync GraphQL API",
    "AWS::Lambda::Url": "Lambda function URL",
}


def unenforceable(
    template: Template, rest_apis: tuple[ApiSpec, ...] = (), http_apis: tuple[HttpApiSpec, ...] = ()
) -> list[str]:
    """What the template declares that the local cloud would otherwise serve open, or not at all.

    Each line names it; start-up stops on any of them unless they are explicitly allowed.
    """
    found = []
    for api in rest_apis:
        # Named by its API when there are several (the first's lines read as they always have).
        named = f"{api.logical_id} " if api is not rest_apis[0] else ""
        found += [f"{named}{r.method} {r.resource}: {r.unenforced}" for r in api.routes if r.unenforced]
        # A resource policy is the RestApi's Policy, or (from SAM's Auth.ResourcePolicy) in its OpenAPI body.
        policy = template.resources[api.logical_id].get("Properties", {}).get("Policy") or openapi_body(
            template, api.logical_id
        ).get("x-amazon-apigateway-policy")
        if policy:
            found.append(f"{api.logical_id}: its resource policy")
    for http_api in http_apis:
        found += [f"{http_api.logical_id} {r.key}: {r.unenforced}" for r in http_api.routes if r.unenforced]
    served = {http_api.logical_id for http_api in http_apis}
    for name, resource in template.resources.items():
        if resource["Type"] in _UNSERVED_API_KINDS:
            found.append(f"{name}: {_UNSERVED_API_KINDS[resource['Type']]} (not served)")
        elif resource["Type"] == "AWS::ApiGatewayV2::Api" and name not in served:
            found.append(f"{name}: {_v2_kind(resource.get('Properties', {}))} (not served)")
    return found


def _v2_kind(props: dict[str, Any]) -> str:
    if props.get("ProtocolType") == "WEBSOCKET":
        return "WebSocket API"
    return "HTTP API without an OpenAPI Body (only the Body SAM writes is read)"


# ---------------------------------------------------------------- what we cannot honour


def not_honoured(template: Template) -> list[str]:
    """One short line per declared feature the local cloud does not reproduce.

    Notes shared by several resources (every function has the same layer) are said once.
    """
    by_message: dict[str, list[str]] = {}
    for name, r in template.resources.items():
        for message in _notes_for(r["Type"], r.get("Properties", {})):
            by_message.setdefault(message, []).append(name)
        if r.get("DeletionPolicy") == "Retain":
            by_message.setdefault("DeletionPolicy Retain: nothing outlives the process", []).append(name)
    if template.of_type("AWS::IAM::Role"):
        by_message["IAM policies are not enforced: every function may call every local AWS API"] = []
    for name, kind in template.parameter_types.items():
        if kind.startswith(_SSM_PARAMETER_TYPE):
            # CloudFormation reads the parameter's value from SSM at deploy time; here its name stands in.
            path = template.parameters.get(name)
            message = f"SSM parameter {path} is not read (its name stands in for its value)"
            by_message.setdefault(message, []).append(name)
    return [f"{_subjects(names)}{message}" for message, names in by_message.items()]


def _lambda_authorizer_notes(rest_apis: tuple[ApiSpec, ...], http_apis: tuple[HttpApiSpec, ...]) -> list[str]:
    """What the local cloud does not reproduce of the Lambda authorizers it runs (aws-behaviour.md §11.4)."""
    apis: list[ApiSpec | HttpApiSpec] = [*rest_apis, *http_apis]
    names = [name for api in apis for name in api.lambda_authorizers]
    if not names:
        return []
    return [
        f"{_subjects(names)}Lambda authorizer policies' Conditions are not evaluated "
        "(a conditional Allow grants nothing), nor the authorizer's invoke permission"
    ]


_SSM_PARAMETER_TYPE = "AWS::SSM::Parameter::Value<"


def _subjects(names: list[str]) -> str:
    if not names:
        return ""
    if len(names) > 2:
        return f"{names[0]} and {len(names) - 1} more: "
    return f"{', '.join(names)}: "


def _notes_for(kind: str, props: dict[str, Any]) -> list[str]:
    notes: list[str] = []
    if kind == "AWS::ApiGateway::Stage":
        if "AccessLogSetting" in props:
            notes.append("access logs are not written (one console line per request instead)")
        if props.get("TracingEnabled"):
            notes.append("X-Ray tracing is not recorded")
        if any(setting.get("MetricsEnabled") for setting in props.get("MethodSettings", [])):
            notes.append("CloudWatch API metrics are not emitted")
    elif kind in ("AWS::ApiGateway::DomainName", "AWS::ApiGatewayV2::DomainName"):
        notes.append("custom domain is not served")
    elif kind == "AWS::Cognito::UserPoolDomain":
        custom = "custom domain" if "CustomDomainConfig" in props else "hosted domain"
        notes.append(
            f"{custom} served on the local port: a plain sign-in page, no managed login branding, "
            "no sign-up, password reset, MFA or federation"
        )
    elif kind == "AWS::Lambda::Function":
        notes.extend(_function_notes(props))
    elif kind == "AWS::DynamoDB::Table":
        if props.get("PointInTimeRecoverySpecification", {}).get("PointInTimeRecoveryEnabled"):
            notes.append("point-in-time recovery is not emulated")
        if props.get("DeletionProtectionEnabled"):
            notes.append("deletion protection is not emulated")
        if "SSESpecification" in props:
            notes.append("encryption at rest is not emulated (the local state file is not encrypted)")
    elif kind == "AWS::Cognito::UserPool":
        if props.get("DeletionProtection") == "ACTIVE":
            notes.append("deletion protection is not emulated")
        others = sorted(
            set(props.get("LambdaConfig") or {}) - {"PreTokenGenerationConfig", "PreTokenGeneration"}
        )
        if others:
            notes.append(f"Lambda triggers {', '.join(others)} are not run (pre token generation is)")
        notes.append("sign-in with SRP, custom auth or passkeys is not served (USER_PASSWORD_AUTH is)")
        if "UserPoolTier" in props:
            notes.append(f"feature plan {props['UserPoolTier']} is not enforced")
    # Whether a resource exists locally at all is said by the resource report
    # (sam_local_cloud/cloudformation/inventory.py), not here.
    return notes


def _function_notes(props: dict[str, Any]) -> list[str]:
    notes = []
    # The template's own layers (a Ref) are on the function's path; another account's (an ARN) are not.
    if any(not (isinstance(layer, dict) and "Ref" in layer) for layer in props.get("Layers") or []):
        notes.append(
            f"layers are not downloaded; Powertools {version('aws-lambda-powertools')} "
            "comes from the local env instead"
        )
    runtime = f"{props.get('Runtime')}/{','.join(props.get('Architectures', ['x86_64']))}"
    local = f"python{sys.version_info.major}.{sys.version_info.minor}/{platform.machine()}"
    if runtime != local:
        notes.append(f"runtime {runtime} runs on the local {local}")
    if props.get("TracingConfig", {}).get("Mode") == "Active":
        notes.append("X-Ray tracing is off (AWS_SAM_LOCAL=true, as under sam local)")
    if "MemorySize" in props:
        notes.append(f"MemorySize {props['MemorySize']} MB is reported to the handler, not enforced")
    if "LoggingConfig" in props:
        notes.append("logs go to the console, not to a CloudWatch log group")
    return notes
