"""The local cloud: the template's API, user pool and table on one local port.

One threaded WSGI server answers everything on 127.0.0.1:PORT:
- `/{stage}/...`: the REST API (local/gateway.py), functions in workers (local/runner.py);
- `/oauth2/token` and `/{userPoolId}/.well-known/...`: the user pool's OAuth endpoints (local/tokens.py);
- anything else, i.e. AWS API calls (SigV4-signed, `X-Amz-Target`): moto's server app, which holds
  the DynamoDB table and the Cognito pool, resource servers and clients created from the template.
"""

from __future__ import annotations

import json
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import BaseWSGIServer, make_server
from werkzeug.wrappers import Request, Response

from local import console
from local.authorizer import CognitoAuthorizer
from local.gateway import ApiKeys, Gateway
from local.resolve import Resolver, Unresolvable, pseudo_parameters
from local.runner import FunctionConfig, Runner, runtime_environment
from local.spec import CloudSpec, active, read_spec
from local.template import ROOT, Template, translate
from local.tokens import ClientDirectory, SigningKey, TokenEndpoint, jwks_document, openid_configuration

ACCOUNT_ID = "123456789012"  # moto's default account
LOCAL_API_ID = "local"
DEFAULT_OUTPUTS = ROOT / ".local" / "outputs.json"
OPENAPI_DOCUMENT = ROOT / "docs" / "openapi.json"  # written by scripts/openapi.py


@dataclass
class Options:
    port: int = 3000
    host: str = "127.0.0.1"
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    seed: Path | None = None
    outputs_path: Path = DEFAULT_OUTPUTS
    test_hooks: Path | None = None  # test-only: see local/__main__.py
    region: str = "us-east-1"
    stack_name: str = "product-api"


class _QuietHandler(MotoRequestHandler):
    """Keep-alive connections, and no werkzeug access log: the gateway prints its own line."""

    protocol_version = "HTTP/1.1"

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        pass


class _Dispatcher:
    """Sends each request to the gateway, the OAuth endpoints or moto."""

    def __init__(self) -> None:
        self.aws = DomainDispatcherApplication(create_backend_app)
        self.stage_prefix: str | None = None
        self.gateway: Gateway | None = None
        self.token_endpoint: TokenEndpoint | None = None
        self.documents: dict[str, dict[str, Any]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        handler = None if _is_aws_api_call(environ) else self._local_handler(environ["PATH_INFO"])
        if handler is None:
            return self.aws(environ, start_response)
        try:
            response = handler(Request(environ))
        except Exception:  # a bug in the local cloud itself: say so, and answer like AWS would
            console.say(f"local cloud error on {environ['REQUEST_METHOD']} {environ['PATH_INFO']}:")
            console.say(traceback.format_exc())
            response = Response(
                '{"message": "Internal server error"}', status=500, mimetype="application/json"
            )
        return response(environ, start_response)

    def _local_handler(self, path: str) -> Any:
        if path == "/oauth2/token" and self.token_endpoint:
            return _logged(self.token_endpoint)
        if path in self.documents:
            document = self.documents[path]
            return lambda _: Response(json.dumps(document), mimetype="application/json")
        if (
            self.gateway
            and self.stage_prefix
            and (path == self.stage_prefix or path.startswith(self.stage_prefix + "/"))
        ):
            return self.gateway
        return None


def _is_aws_api_call(environ: dict[str, Any]) -> bool:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    return authorization.startswith("AWS4-") or "HTTP_X_AMZ_TARGET" in environ


def _logged(endpoint: TokenEndpoint) -> Any:
    def serve(request: Request) -> Response:
        started = time.perf_counter()
        response = endpoint(request)
        console.request_line(request.method, request.path, response.status_code, None, _ms(started))
        return response

    return serve


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class LocalCloud:
    def __init__(self, options: Options):
        self.options = options
        self.outputs: dict[str, Any] = {}
        self.startup_seconds = 0.0
        self.seeded: int | None = None
        self.spec: CloudSpec | None = None
        self.runner: Runner | None = None
        self._dispatcher = _Dispatcher()
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        started = time.perf_counter()
        self.options.outputs_path.unlink(missing_ok=True)  # its presence means "this run is ready"
        template = active(
            translate(
                self.options.parameter_overrides,
                region=self.options.region,
                stack_name=self.options.stack_name,
            )
        )
        self.spec = read_spec(template)
        self._server = make_server(
            self.options.host,
            self.options.port,
            self._dispatcher,
            threaded=True,
            request_handler=_QuietHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-cloud", daemon=True)
        self._thread.start()
        resolver = self._provision(template, self.spec)
        self._assemble(template, self.spec, resolver)
        self._write_outputs()
        self.startup_seconds = time.perf_counter() - started

    def stop(self) -> None:
        if self.runner:
            self.runner.stop()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://{self.options.host}:{self._server.server_port}"

    def aws_client(self, service: str) -> Any:
        return boto3.client(
            service,
            region_name=self.options.region,
            endpoint_url=self.base_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )

    # ------------------------------------------------------------ resources, through the AWS APIs

    def _provision(self, template: Template, spec: CloudSpec) -> Resolver:
        region, stack = self.options.region, self.options.stack_name
        resolver = Resolver(
            parameters={**template.parameters, **pseudo_parameters(region, ACCOUNT_ID, stack)},
            conditions=template.conditions,
        )
        # Every resource has a Ref; the ones the cloud creates get their real ids below.
        resolver.refs.update({name: name for name in template.resources})
        api = spec.api
        resolver.refs[api.logical_id] = LOCAL_API_ID
        resolver.refs[api.stage_logical_id] = api.stage
        resolver.refs[f"{api.logical_id}.Stage"] = api.stage
        for name, props in template.resources.items():
            self._name_resource(resolver, name, props)
        self._create_user_pools(spec, resolver)
        self._create_tables(spec, resolver)
        self._create_api_keys(spec, resolver)
        return resolver

    def _name_resource(self, resolver: Resolver, name: str, resource: dict[str, Any]) -> None:
        props, kind = resource.get("Properties", {}), resource["Type"]
        region, stack = self.options.region, self.options.stack_name
        if kind == "AWS::Lambda::Function":
            function_name = props.get("FunctionName") or f"{stack}-{name}"
            resolver.refs[name] = function_name
            resolver.attributes[(name, "Arn")] = (
                f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{function_name}"
            )
        elif kind == "AWS::Logs::LogGroup":
            group = props.get("LogGroupName") or f"{stack}-{name}"
            resolver.refs[name] = group
            resolver.attributes[(name, "Arn")] = f"arn:aws:logs:{region}:{ACCOUNT_ID}:log-group:{group}:*"
        elif kind == "AWS::IAM::Role":
            resolver.attributes[(name, "Arn")] = f"arn:aws:iam::{ACCOUNT_ID}:role/{stack}-{name}"
        elif kind == "AWS::Cognito::UserPoolDomain":
            resolver.refs[name] = str(resolver.resolve(props.get("Domain", name)))

    def _create_user_pools(self, spec: CloudSpec, resolver: Resolver) -> None:
        cognito = self.aws_client("cognito-idp")
        for name, props in spec.user_pools.items():
            request = {"PoolName": props.get("UserPoolName", name), **resolver.resolve(props)}
            request.pop("DeletionProtection", None)  # reported as not emulated; keep the pool deletable
            pool = cognito.create_user_pool(**_api_fields(cognito, "CreateUserPool", request))["UserPool"]
            resolver.refs[name] = pool["Id"]
            resolver.attributes[(name, "Arn")] = pool["Arn"]
            resolver.attributes[(name, "ProviderName")] = f"{self.base_url.split('//')[1]}/{pool['Id']}"
            resolver.attributes[(name, "ProviderURL")] = f"{self.base_url}/{pool['Id']}"
        for props in spec.resource_servers.values():
            cognito.create_resource_server(
                **_api_fields(cognito, "CreateResourceServer", resolver.resolve(props))
            )
        self._clients: dict[str, dict[str, Any]] = {}
        for name, props in spec.clients.items():
            request = resolver.resolve(props)
            _check_client_scopes(name, request, spec, resolver)
            client = cognito.create_user_pool_client(**_api_fields(cognito, "CreateUserPoolClient", request))
            client = client["UserPoolClient"]
            resolver.refs[name] = client["ClientId"]
            resolver.attributes[(name, "ClientSecret")] = client.get("ClientSecret", "")
            resolver.attributes[(name, "Name")] = client["ClientName"]
            self._clients[name] = client

    def _create_tables(self, spec: CloudSpec, resolver: Resolver) -> None:
        dynamodb = self.aws_client("dynamodb")
        for name, props in spec.tables.items():
            request = _table_request(
                resolver.resolve(props), default_name=f"{self.options.stack_name}-{name}"
            )
            table = dynamodb.create_table(**request)["TableDescription"]
            resolver.refs[name] = table["TableName"]
            resolver.attributes[(name, "Arn")] = table["TableArn"]
            if "LatestStreamArn" in table:
                resolver.attributes[(name, "StreamArn")] = table["LatestStreamArn"]
            ttl = props.get("TimeToLiveSpecification")
            if ttl and ttl.get("Enabled"):
                dynamodb.update_time_to_live(
                    TableName=table["TableName"],
                    TimeToLiveSpecification={"Enabled": True, "AttributeName": ttl["AttributeName"]},
                )
        if self.options.seed:
            self._seed(spec, resolver, self.options.seed)

    def _seed(self, spec: CloudSpec, resolver: Resolver, path: Path) -> None:
        if not spec.tables:
            raise SystemExit("--seed needs a table in the template, found none")
        items = seed_items(path)
        dynamodb = self.aws_client("dynamodb")
        table_name = resolver.refs[next(iter(spec.tables))]  # the first table the template declares
        for item in items:
            dynamodb.put_item(TableName=table_name, Item=item)
        self.seeded = len(items)

    def _create_api_keys(self, spec: CloudSpec, resolver: Resolver) -> None:
        self._api_key_values: dict[str, str] = {}
        if not spec.api_keys:
            return
        apigateway = self.aws_client("apigateway")
        for name, props in spec.api_keys.items():
            request = {"name": props.get("Name", name), "enabled": bool(props.get("Enabled", True))}
            if "Value" in props:
                request["value"] = resolver.resolve(props["Value"])
            key = apigateway.create_api_key(**request)
            resolver.refs[name] = key["id"]
            resolver.attributes[(name, "APIKeyId")] = key["id"]
            self._api_key_values[name] = key["value"]

    # ------------------------------------------------------------ the pieces that serve requests

    def _assemble(self, template: Template, spec: CloudSpec, resolver: Resolver) -> None:
        pool_ids = {name: resolver.refs[name] for name in spec.user_pools}
        key = SigningKey.generate()
        jwks = jwks_document([key])
        token_url = f"{self.base_url}/oauth2/token"
        if len(pool_ids) != 1:
            raise SystemExit(f"the local cloud serves one user pool; the template has {sorted(pool_ids)}")
        pool_id = next(iter(pool_ids.values()))
        issuer = f"{self.base_url}/{pool_id}"
        self._dispatcher.documents = {
            f"/{pool_id}/.well-known/jwks.json": jwks,
            f"/{pool_id}/.well-known/openid-configuration": openid_configuration(issuer, token_url),
        }
        if OPENAPI_DOCUMENT.exists():  # the API's contract, its server this local stage
            openapi = json.loads(OPENAPI_DOCUMENT.read_text())
            openapi["servers"] = [
                {"url": f"{self.base_url}/{spec.api.stage}", "description": "the local cloud"}
            ]
            self._dispatcher.documents["/openapi.json"] = openapi
        self._dispatcher.token_endpoint = TokenEndpoint(
            issuer,
            key,
            ClientDirectory(self.aws_client("cognito-idp"), pool_id),
            test_hooks=self.options.test_hooks is not None,
        )
        authorizers = {
            name: CognitoAuthorizer(
                issuer=f"{self.base_url}/{pool_ids[a.user_pool]}", jwks=jwks, header=a.header
            )
            for name, a in spec.api.authorizers.items()
        }
        self.runner = Runner(self._function_configs(template, spec, resolver))
        self._dispatcher.gateway = Gateway(
            spec.api,
            runner=self.runner,
            authorizers=authorizers,
            api_keys=ApiKeys(self.aws_client("apigateway")) if self._api_key_values else None,
            api_id=LOCAL_API_ID,
            account_id=ACCOUNT_ID,
            on_event=self._event_recorder(),
        )
        self._dispatcher.stage_prefix = f"/{spec.api.stage}"
        self.outputs = self._outputs(template, resolver, issuer)

    def _function_configs(
        self, template: Template, spec: CloudSpec, resolver: Resolver
    ) -> dict[str, FunctionConfig]:
        configs = {}
        for name, props in spec.functions.items():
            try:
                variables = resolver.resolve(props.get("Environment", {}).get("Variables", {}))
            except Unresolvable as error:
                raise SystemExit(f"{name}: cannot resolve its environment locally: {error}") from None
            memory = int(props.get("MemorySize", 128))
            code_dir = template.code_dirs[name]
            runtime = runtime_environment(
                name=resolver.refs[name],
                runtime=props.get("Runtime", "python3.13"),
                memory_mb=memory,
                region=self.options.region,
                endpoint_url=self.base_url,
                code_dir=code_dir,
                handler=props["Handler"],
            )
            template_vars = {k: str(v) for k, v in variables.items()}
            for key in [k for k, v in template_vars.items() if k.startswith("AWS_ENDPOINT_URL") and not v]:
                # An empty endpoint variable means "the default AWS endpoint": here, the local one.
                template_vars[key] = self.base_url
            configs[name] = FunctionConfig(
                logical_id=name,
                name=resolver.refs[name],
                arn=resolver.attributes[(name, "Arn")],
                handler=props["Handler"],
                code_dir=code_dir,
                environment={**template_vars, **runtime},
                timeout_seconds=float(props.get("Timeout", 3)),
                memory_mb=memory,
            )
        return configs

    def _event_recorder(self) -> Any:
        hooks = self.options.test_hooks
        if hooks is None:
            return None
        hooks.mkdir(parents=True, exist_ok=True)
        events_file = hooks / "events.jsonl"
        lock = threading.Lock()

        def record(event: dict[str, Any]) -> None:
            with lock, events_file.open("a") as f:
                f.write(json.dumps(event) + "\n")

        return record

    # ------------------------------------------------------------ outputs

    def _outputs(self, template: Template, resolver: Resolver, issuer: str) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, output in template.outputs.items():
            value = output["Value"]
            # LanguageExtensions can leave a Fn::Sub as a plain string with ${...} in it.
            resolved = resolver.sub(value) if isinstance(value, str) else resolver.resolve(value)
            outputs[name] = self._localized(str(resolved), resolver)
        for name, value in self._api_key_values.items():
            outputs["ApiKey" if len(self._api_key_values) == 1 else f"{name}Value"] = value
        outputs["Region"] = self.options.region
        outputs["AwsEndpointUrl"] = self.base_url
        outputs["Clients"] = {
            name: {
                "ClientId": c["ClientId"],
                "ClientSecret": c.get("ClientSecret"),
                "AllowedScopes": c.get("AllowedOAuthScopes", []),
            }
            for name, c in self._clients.items()
        }
        return outputs

    def _localized(self, value: str, resolver: Resolver) -> str:
        """AWS endpoint URLs in an output, pointed at this server instead."""
        hosts = [
            r"[\w-]+\.execute-api\.[\w-]+\.amazonaws\.com",
            r"cognito-idp\.[\w-]+\.amazonaws\.com",
            r"[\w-]+\.auth\.[\w-]+\.amazoncognito\.com",
            *(re.escape(resolver.refs[d]) for d in (self.spec.domains if self.spec else {})),
        ]
        return re.sub(rf"https://(?:{'|'.join(hosts)})", self.base_url, value)

    def _write_outputs(self) -> None:
        path = self.options.outputs_path
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(self.outputs, indent=2) + "\n")
        temporary.replace(path)  # readers never see a half-written file


def _api_fields(client: Any, operation: str, properties: dict[str, Any]) -> dict[str, Any]:
    """The template properties that are also parameters of the AWS API call (same names in CloudFormation)."""
    members = client.meta.service_model.operation_model(operation).input_shape.members
    return {k: v for k, v in properties.items() if k in members}


def _check_client_scopes(name: str, client: dict[str, Any], spec: CloudSpec, resolver: Resolver) -> None:
    """Cognito refuses a client naming a scope no resource server defines; moto does not, so we do."""
    defined = {
        f"{resolver.resolve(rs['Identifier'])}/{s['ScopeName']}"
        for rs in spec.resource_servers.values()
        for s in rs.get("Scopes", [])
    }
    standard = {"openid", "email", "phone", "profile", "aws.cognito.signin.user.admin"}
    unknown = set(client.get("AllowedOAuthScopes", [])) - defined - standard
    if unknown:
        raise SystemExit(
            f"{name}: AllowedOAuthScopes names scopes no resource server defines: {sorted(unknown)}"
        )


def _table_request(props: dict[str, Any], default_name: str) -> dict[str, Any]:
    """CreateTable parameters from AWS::DynamoDB::Table properties (a few names differ)."""
    request: dict[str, Any] = {
        "TableName": props.get("TableName", default_name),
        "KeySchema": props["KeySchema"],
        "AttributeDefinitions": props["AttributeDefinitions"],
        "BillingMode": props.get("BillingMode", "PROVISIONED"),
    }
    for same in ("ProvisionedThroughput", "GlobalSecondaryIndexes", "LocalSecondaryIndexes", "TableClass"):
        if same in props:
            request[same] = props[same]
    if "StreamSpecification" in props:
        request["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
    return request


_TYPE_TAGS = {"S", "N", "B", "BOOL", "NULL", "M", "L", "SS", "NS", "BS"}


def seed_items(path: Path) -> list[dict[str, Any]]:
    """Items to preload, as DynamoDB wire items.

    The file holds one item or a JSON list of items, each either plain JSON as the handlers store it
    (`{"id": "...", "price": 12.5}`) or DynamoDB JSON as `aws dynamodb put-item` takes it
    (`{"id": {"S": "..."}}`, e.g. events/seed_item.json).
    """
    data = json.loads(path.read_text(), parse_float=Decimal)
    items = data if isinstance(data, list) else [data]
    if not all(isinstance(i, dict) for i in items):
        raise SystemExit(f"{path}: expected an item (JSON object) or a list of items")
    serializer = TypeSerializer()
    return [item if _is_dynamodb_json(item) else serializer.serialize(item)["M"] for item in items]


def _is_dynamodb_json(item: dict[str, Any]) -> bool:
    return all(isinstance(v, dict) and len(v) == 1 and next(iter(v)) in _TYPE_TAGS for v in item.values())
