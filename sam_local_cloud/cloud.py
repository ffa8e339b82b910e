"""The local cloud: the template's APIs, user pool and table on local ports.

One threaded HTTP/1.1 server answers everything on 127.0.0.1:PORT but the HTTP APIs, and this module only
wires the parts together. Each HTTP API (API Gateway v2, sam_local_cloud/apigateway/http_api.py) has a port of
its own, PORT+1, PORT+2... in template order (each a free one with --port 0), its `$default` stage at the
root, a named stage under `/{stage}`: no host-based routing, since `*.localhost` does not resolve everywhere.
On PORT (the paths below are in this package):
- `/{stage}/...` and every other path that is not an AWS API call: the REST API
  (apigateway/gateway.py), functions in workers (lambda_/runner.py);
- `/oauth2/token` and `/{userPoolId}/.well-known/...`: the user pool's endpoints (cognito/tokens.py);
- `/oauth2/authorize`, `/login`, `/logout`, `/oauth2/userInfo`, `/oauth2/revoke`: the pool domain's
  endpoints for people (cognito/hosted.py);
- the `cognito-idp` calls that sign people in (InitiateAuth...: cognito/sign_in_api.py), by
  X-Amz-Target;
- AWS API calls (SigV4-signed, or with `X-Amz-Target`) off the stage path: moto (aws_apis/), which
  holds every resource created from the template (cloudformation/provision.py) and the stack
  CloudFormation's API describes.
Several templates (`--template FILE:STACK`, repeated) and nested stacks with a local template are
served as stacks of their own in the same local AWS, Runner and pool (docs/aws-behaviour.md §16); the
main stack's first REST API is the one on PORT; its other REST APIs (after its HTTP APIs) and every
other stack's APIs have ports of their own (docs/local-cloud.md).
A request on the stage path goes to the gateway, whatever its headers, unless it is signed for S3
(header or presigned URL): S3's path-style `/{bucket}/{key}` may begin with a stage's name.
"""

from __future__ import annotations

import contextlib
import gc
import io
import json
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from werkzeug.test import EnvironBuilder, run_wsgi_app
from werkzeug.wrappers import Request, Response

from sam_local_cloud import console
from sam_local_cloud import outputs as outputs_file
from sam_local_cloud.api_page import PAGE_PATH, ApiKeyRequirement, PeopleClient, page_endpoints
from sam_local_cloud.apigateway.authorizers import Authorizer, CognitoAuthorizer
from sam_local_cloud.apigateway.gateway import ApiKeys, Gateway
from sam_local_cloud.apigateway.http_api import HttpApiGateway, IntegrationFailed, error_response
from sam_local_cloud.apigateway.jwt_authorizer import JwtAuthorizer
from sam_local_cloud.apigateway.lambda_authorizer import ApiFacts, lambda_authorizers
from sam_local_cloud.apigateway.throttle import Throttling
from sam_local_cloud.aws_apis import use_local_aws
from sam_local_cloud.aws_apis.app import AwsApis, signing_name
from sam_local_cloud.cloudformation.inventory import physical_name
from sam_local_cloud.cloudformation.provision import (
    ACCOUNT_ID,
    LOCAL_API_ID,
    Provisioned,
    Provisioner,
    http_api_id,
    outputs,
)
from sam_local_cloud.cloudformation.resolve import Resolver, Unresolvable, stack_id
from sam_local_cloud.cloudformation.spec import ApiSpec, CloudSpec, HttpApiSpec, active, read_spec
from sam_local_cloud.cloudformation.template import TEMPLATE_PATH, Template, load_source, translate
from sam_local_cloud.cognito.people import read_users
from sam_local_cloud.cognito.pool import LocalUserPool
from sam_local_cloud.cognito.public_host import PublicHost
from sam_local_cloud.cognito.tokens import SigningKey, openid_configuration
from sam_local_cloud.http_server import Server
from sam_local_cloud.lambda_.functions import function_configs, unrunnable
from sam_local_cloud.lambda_.runner import Runner
from sam_local_cloud.project import Project, project_of, stack_name_of
from sam_local_cloud.state import Kept, StateStore, record_of, template_changes
from sam_local_cloud.triggers import SCHEDULES_PATH, EventSources

# Paths served here off the stage (API Gateway's own REST API, the pool's domain, the API page): a
# stage of that name would shadow them.
_RESERVED_STAGES = {
    "oauth2", "restapis", "apikeys", "usageplans", "domainnames", "account", "tags",
    "login", "logout", "error", PAGE_PATH.strip("/"), SCHEDULES_PATH.split("/")[1],
}  # fmt: skip

# Services whose calls put a resource's name first in the path (S3's path-style `/{bucket}/{key}`, as
# boto3 sends it to 127.0.0.1): a call signed for one of them is theirs whatever its path.
_PATH_STYLE_SERVICES = {"s3"}


@dataclass
class Options:
    port: int = 3000
    host: str = "127.0.0.1"
    template: Path = TEMPLATE_PATH
    parameter_overrides: dict[str, str] = field(default_factory=dict)
    seed: Path | None = None
    users: Path | None = None  # people to create (JSON); None: the project's (local-cloud.toml)
    # None: .local/outputs.json on the default port, else .local/outputs-PORT.json
    # (sam_local_cloud/outputs.py)
    outputs_path: Path | None = None
    region: str = "us-east-1"
    stack_name: str | None = None  # None: samconfig.toml's beside the template (sam_local_cloud/project.py)
    signing_key: Path | None = None  # PEM; made there if missing, so tokens outlive a restart
    throttling: bool = True
    concurrency: int | None = None  # a smaller account's limit per function (throttles); None: AWS's 1,000
    allow_unenforced: bool = False
    state_dir: Path | None = (
        None  # kept across restarts there (sam_local_cloud/state.py); None: in memory only
    )
    fresh: bool = False  # the state in state_dir deleted first
    # Templates served before `template`, each as a stack of its own (its name, or samconfig.toml's):
    # their exports are what `template` imports (Fn::ImportValue), in this order.
    stacks: list[tuple[Path, str | None]] = field(default_factory=list)


@dataclass
class ServedStack:
    """One template served as a CloudFormation stack: what it declares, what was made of it."""

    name: str
    path: Path
    template: Template
    spec: CloudSpec
    rest_api_id: str = LOCAL_API_ID  # its first REST API's
    made: Provisioned | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    outputs_left_out: dict[str, str] = field(default_factory=dict)  # output -> why it has no local value
    exports: dict[str, str] = field(default_factory=dict)  # export name -> value

    @property
    def further_rest_api_ids(self) -> dict[str, str]:
        """The id of each REST API after the first, by logical id: shaped as AWS's, the same at every
        start, and unique across stacks (the stack's name is in it)."""
        further = self.spec.rest_apis[1:]
        return {api.logical_id: http_api_id(f"{self.name}/{api.logical_id}") for api in further}

    def rest_api_id_of(self, api: ApiSpec) -> str:
        return self.further_rest_api_ids.get(api.logical_id, self.rest_api_id)


@dataclass(frozen=True)
class ServedApi:
    """One API of the template, served under its stage's path: its gateway and its URL."""

    logical_id: str
    stage: str
    gateway: Any  # Request -> Response (sam_local_cloud/apigateway/gateway.py)
    url: str

    def serves(self, path: str) -> bool:
        prefix = f"/{self.stage}"
        return path == prefix or path.startswith(prefix + "/")


class _Dispatcher:
    """Sends each request to an API's gateway, the pool's endpoints or moto."""

    def __init__(self) -> None:
        self.aws: Any = AwsApis()
        self.apis: list[ServedApi] = []
        self.endpoints: dict[str, Any] = {}  # path -> handler(Request) -> Response
        self.targets: dict[str, Any] = {}  # X-Amz-Target of an AWS API call served here, not by moto

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        path = environ["PATH_INFO"]
        if signing_name(environ) in _PATH_STYLE_SERVICES:  # `/{bucket}/{key}` may look like a stage's path
            return self.aws(environ, start_response)
        api = next((api for api in self.apis if api.serves(path)), None)
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        handler = api.gateway if api else self.endpoints.get(path) or self.targets.get(target)
        if handler is None and _is_aws_api_call(environ):
            return self.aws(environ, start_response)
        # Anything else is API Gateway's to answer (an unknown stage: 403), by the first API.
        handler = handler or (self.apis[0].gateway if self.apis else _not_found)
        try:
            response = handler(Request(environ))
        except Exception:  # a bug in the local cloud itself: say so, and answer like AWS would
            console.say(f"local cloud error on {environ['REQUEST_METHOD']} {path}:", traceback.format_exc())
            response = Response(
                '{"message": "Internal server error"}', status=500, mimetype="application/json"
            )
        return response(environ, start_response)


def _not_found(request: Request) -> Response:
    """A path no endpoint serves, on a cloud without a REST API to answer it."""
    return Response('{"message":"Not Found"}', status=404, mimetype="application/json")


class _StageGateways:
    """A REST API with several stages on a port of its own: each stage's gateway under its /{stage}
    (anything else to the first, which answers API Gateway's 403 for an unknown stage)."""

    def __init__(self, gateways: list[tuple[str, Any]]):
        self._gateways = gateways

    def __call__(self, request: Request) -> Response:
        path = request.path
        for stage, gateway in self._gateways:
            if path == f"/{stage}" or path.startswith(f"/{stage}/"):
                return gateway(request)
        return self._gateways[0][1](request)


class _HttpApiApp:
    """The WSGI application of one HTTP API's port: its gateway, and nothing else."""

    def __init__(self) -> None:
        self.gateway: Any = None  # set once the cloud is wired, before the port serves

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        try:
            response = self.gateway(Request(environ))
        except Exception:  # a bug in the local cloud itself: say so, and answer like AWS would
            where = f"{environ['REQUEST_METHOD']} {environ['PATH_INFO']}"
            console.say(f"local cloud error on {where}:", traceback.format_exc())
            response = error_response(IntegrationFailed())
        return response(environ, start_response)


@dataclass
class _HttpApiPort:
    """A port of its own: an HTTP API's, or a REST API's other than the main stack's first."""

    api: HttpApiSpec | ApiSpec
    app: _HttpApiApp
    server: Server
    thread: threading.Thread | None = None
    stack: ServedStack | None = None

    @property
    def url(self) -> str:
        """The API's root, as its `$default` stage serves it; a named stage is under `/{stage}`."""
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_id(self) -> str:
        if isinstance(self.api, ApiSpec):
            return self.stack.rest_api_id_of(self.api) if self.stack else LOCAL_API_ID
        return http_api_id(self.api.logical_id)


def _is_aws_api_call(environ: dict[str, Any]) -> bool:
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    return authorization.startswith("AWS4-") or "HTTP_X_AMZ_TARGET" in environ


class LocalCloud:
    def __init__(self, options: Options):
        self.options = options
        self.outputs: dict[str, Any] = {}
        self._outputs_text = ""  # as written, so that stop() removes only its own file
        self.startup_seconds = 0.0
        self.seeded: int | None = None
        # Parameters the local cloud set itself (local-cloud.toml's parameter_defaults), for the banner.
        self.local_defaults: dict[str, str] = {}
        self.project: Project = project_of(options.template)
        self.stack_name = options.stack_name or stack_name_of(options.template)
        self.stacks: list[ServedStack] = []  # every served stack, the main one (`template`) last
        self.spec: CloudSpec | None = None
        self.provisioned: Provisioned | None = None  # what start-up made of each resource
        self.runner: Runner | None = None
        self.triggers: EventSources | None = None  # the template's event sources (sam_local_cloud/triggers/)
        self._other_triggers: list[EventSources] = []  # those of the stacks served beside it
        self.page_url: str | None = None  # the API page, when the project names a contract (local-cloud.toml)
        self.state: StateStore | None = None
        self.template_changes: list[str] = []  # what changed in the template since the state was saved
        self._kept: dict[str, Kept] = {}  # what the last run made, by stack name (sam_local_cloud/state.py)
        self._dispatcher = _Dispatcher()
        self._server: Server | None = None
        self._thread: threading.Thread | None = None
        self._http_ports: list[_HttpApiPort] = []
        self._public_host: PublicHost | None = None  # AWS's Cognito host, for the functions' own code
        self._pool: LocalUserPool | None = None
        self._people: tuple[Any, str] = (None, "")  # the people to create, and where they were named
        self._people_stack: str | None = None  # the stack whose pool they go to

    # ------------------------------------------------------------ lifecycle

    def start(self) -> None:
        started = time.perf_counter()
        # The port first: a busy one fails here, before anything (a running cloud's outputs) is touched.
        # It accepts connections only once everything behind it is wired (serve_forever, below).
        self._server = Server(self.options.host, self.options.port, self._dispatcher)
        if self.options.outputs_path is None:  # by the port bound: 0 picks one
            self.options.outputs_path = outputs_file.default_path(
                self.options.template.resolve().parent, self._server.server_address[1]
            )
        self.local_defaults = self.project.defaults_for(
            load_source(self.options.template).get("Parameters") or {},
            self.options.parameter_overrides,
            port=self._server.server_address[1],
        )
        self.stacks = self._read_stacks()
        main = self.stacks[-1]
        self.spec = main.spec
        spec = self.spec
        self._bind_http_apis()
        self.outputs_path.unlink(missing_ok=True)  # its presence means "this run is ready"
        use_local_aws()
        if self.options.state_dir is not None:
            self.state = StateStore(self.options.state_dir, self.project.fresh_command)
            self.state.open(fresh=self.options.fresh)
            # moto's state put back, before anything is made; each stack's record by its name.
            self._kept = self.state.load(main.name) or {}
        users, source = self.project.users, "local-cloud.toml"
        if self.options.users is not None:
            users, source = read_users(self.options.users), f"--users {self.options.users}"
        # The people go to the pool, in whichever stack it is (a nested one's, when no other has one).
        self._people = (users, source)
        self._people_stack = next((s.name for s in self.stacks if s.spec.user_pools), None)
        top_level, self.stacks = self.stacks, []  # made in order: each nested stack before its parent
        for stack in top_level:
            self._provision(stack, self._kept.get(stack.name), main=stack is main)
        made = main.made
        assert made is not None
        self.provisioned = made
        self.seeded = made.seeded
        self._serve()
        assert self.runner is not None
        for stack in self.stacks:
            assert stack.made is not None
            triggers = EventSources.build(
                stack.template,
                stack.made.resolver,
                self.runner,
                self.aws_client,
                region=self.options.region,
                account=ACCOUNT_ID,
            )
            if stack is main:
                self.triggers = triggers
            else:
                self._other_triggers.append(triggers)
        assert self.triggers is not None
        self._dispatcher.endpoints[SCHEDULES_PATH] = _logged(self.triggers.schedules_endpoint)
        if self.state is not None:
            self._attach_state()
        self.outputs = _merged_outputs(self.stacks)
        self._serve_page(spec, made)
        # On the first CloudFormation call: moto's CloudFormation package costs 1.7 s to import.
        self._dispatcher.aws.before_first_call["cloudformation"] = self._register_stacks
        # What start-up built (moto's services, the SAM translator, the seeded items) lives as long as
        # the cloud: out of the collector's reach, requests' collections no longer walk it (0.08 ms of
        # CPU per GET, docs/performance.md). Start-up's garbage is collected first, not frozen with it.
        gc.collect()
        gc.freeze()

        self._thread = threading.Thread(target=self._server.serve_forever, name="local-cloud", daemon=True)
        self._thread.start()
        for port in self._http_ports:
            port.thread = threading.Thread(
                target=port.server.serve_forever, name=f"http-api-{port.api.logical_id}", daemon=True
            )
            port.thread.start()
        self.triggers.start()
        for other in self._other_triggers:
            other.start()
        self._write_outputs()
        self.startup_seconds = time.perf_counter() - started
        if self.state is not None:
            self.state.start()

    def stop(self) -> None:
        # The event sources first (nothing new reaches the functions), then no new requests, then the
        # last save of the state (the AWS APIs stay paused after it: nothing is acknowledged that it
        # lacks), then the functions.
        if self.triggers:
            self.triggers.stop()
        for other in self._other_triggers:
            other.stop()
        self._remove_outputs()
        for port in self._http_ports:
            if port.thread is not None:
                port.server.shutdown()
            port.server.server_close()
        if self._server:
            if self._thread is not None:  # shutdown() waits for a serve_forever() that must have begun
                self._server.shutdown()
            self._server.server_close()
        if self.state:
            self.state.close()
        if self.runner:
            self.runner.stop()
        if self._public_host:
            self._public_host.stop()

    @property
    def pool(self) -> LocalUserPool | None:
        """The user pool served (its token endpoint and keys), if any stack declares one."""
        return self._pool

    @property
    def base_url(self) -> str:
        assert self._server is not None
        return f"http://{self.options.host}:{self._server.server_address[1]}"

    @property
    def http_api_urls(self) -> dict[str, str]:
        """Each HTTP API's URL (its stage's), by logical id, in template order."""
        return {
            port.api.logical_id: port.url + ("/" if port.api.stage == "$default" else f"/{port.api.stage}")
            for port in self._http_ports
            if isinstance(port.api, HttpApiSpec)
        }

    @property
    def further_stage_urls(self) -> list[tuple[str, str, str]]:
        """The URL of each REST API stage after an API's first (docs/aws-behaviour.md §2.2), with its
        stack's name and its API's logical id."""
        main = [(self.stack_name, api.logical_id, api.url) for api in self._dispatcher.apis[1:]]
        return main + [
            (
                port.stack.name if port.stack else self.stack_name,
                port.api.logical_id,
                f"{port.url}/{staged.stage}",
            )
            for port in self._http_ports
            if isinstance(port.api, ApiSpec)
            for staged in port.api.each_stage()[1:]
        ]

    @property
    def rest_api_urls(self) -> list[tuple[str, str, str]]:
        """Each served REST API's URL (its stage's), with its stack's name and logical id: the main
        stack's first one first."""
        urls = [(self.stack_name, api.logical_id, api.url) for api in self._dispatcher.apis[:1]]
        return urls + [
            (
                port.stack.name if port.stack else self.stack_name,
                port.api.logical_id,
                f"{port.url}/{port.api.stage}",
            )
            for port in self._http_ports
            if isinstance(port.api, ApiSpec)
        ]

    def _read_stacks(self) -> list[ServedStack]:
        """Every template translated, read and checked, before anything is made: the stacks beside the
        main one first, in the order given, then the main one."""
        sources = [*self.options.stacks, (self.options.template, self.stack_name)]
        several = len(sources) > 1
        overrides = self.options.parameter_overrides
        if several:  # each stack takes the overrides it declares, as each `sam deploy` would
            declared = [set(load_source(path).get("Parameters") or {}) for path, _ in sources]
            unknown = sorted(set(overrides) - set().union(*declared))
            if unknown:
                raise SystemExit(f"--parameter-overrides: no served stack declares {', '.join(unknown)}")
        stacks: list[ServedStack] = []
        for index, (path, name) in enumerate(sources):
            main = index == len(sources) - 1
            stack_name = name or stack_name_of(path)
            if any(s.name == stack_name for s in stacks):
                raise SystemExit(
                    f"two templates would be stack {stack_name!r}: name each with --template FILE:STACK"
                )
            given = {**self.local_defaults, **overrides} if main else dict(overrides)
            if several:
                known = set(load_source(path).get("Parameters") or {})
                given = {k: v for k, v in given.items() if k in known}
            template = active(translate(given, path=path, region=self.options.region, stack_name=stack_name))
            spec = read_spec(template)
            self._refuse_what_cannot_be_run(spec)
            self._refuse_what_cannot_be_enforced(spec)
            # The main stack's REST API keeps the one id it always had; another stack's gets its own.
            rest_api_id = LOCAL_API_ID if main else http_api_id(f"{stack_name}/rest-api")
            stacks.append(ServedStack(stack_name, path, template, spec, rest_api_id))
        _refuse_what_clashes(stacks)
        return stacks

    def _bind_http_apis(self) -> None:
        """A port for each HTTP API, PORT+1, PORT+2... (free ones with --port 0), the main stack's
        first, then for its REST APIs after the first, then for each other stack's REST and HTTP APIs;
        taken before anything is made, as PORT is: a busy one stops the start here."""
        main, *others = reversed(self.stacks)
        apis: list[tuple[ServedStack, HttpApiSpec | ApiSpec]] = [(main, api) for api in main.spec.http_apis]
        apis += [(main, api) for api in main.spec.rest_apis[1:]]
        for stack in reversed(others):
            apis += [(stack, api) for api in stack.spec.rest_apis]
            apis += [(stack, api) for api in stack.spec.http_apis]
        for index, (stack, api) in enumerate(apis, start=1):
            port = self.options.port + index if self.options.port else 0
            app = _HttpApiApp()
            self._http_ports.append(_HttpApiPort(api, app, Server(self.options.host, port, app), stack=stack))

    def _attach_state(self) -> None:
        """Each stack's record (a stack's no longer served stays recorded: it may come back), and what
        changed in each template since the state was saved, named by stack when there are several."""
        assert self.state is not None
        records = {name: kept.record for name, kept in self._kept.items()}
        several = len(self.stacks) > 1
        for stack in self.stacks:
            assert stack.made is not None
            kept = self._kept.get(stack.name)
            records[stack.name] = record_of(stack.template, stack.made, kept)
            changes = (
                template_changes(stack.template, stack.made, kept, self.project.fresh_command) if kept else []
            )
            self.template_changes += [f"stack {stack.name}: {line}" if several else line for line in changes]
        self.state.attach(self._dispatcher.aws, self._pool.tokens if self._pool else None, records)

    def _provision(self, stack: ServedStack, kept: Kept | None, *, main: bool) -> None:
        """Makes the stack in the local AWS (its nested stacks first), imports what the stacks made
        before it export, and records its outputs and exports."""
        imports = {name: value for made in self.stacks for name, value in made.exports.items()}
        users, source = self._people
        if self._people_stack is None and main:
            self._people_stack = stack.name  # no pool anywhere: the main stack says so, as before
        provisioner = Provisioner(
            self.aws_client,
            region=self.options.region,
            stack_name=stack.name,
            imports=imports,
            rest_api_id=stack.rest_api_id,
            rest_api_ids=stack.further_rest_api_ids,
            nested=lambda parent, logical_id, url, parameters: self._nested_stack(
                stack, logical_id, url, parameters
            ),
        )
        stack.made = provisioner.provision(
            stack.template,
            stack.spec,
            self.options.seed if main else None,
            users if stack.name == self._people_stack else None,
            source,
            kept=kept,
        )
        stack.outputs = outputs(
            stack.template,
            stack.made,
            base_url=self.base_url,
            region=self.options.region,
            api_urls=self._api_urls(),
            left_out=stack.outputs_left_out,
        )
        stack.exports = _exports(stack)
        for name in stack.exports.keys() & imports.keys():
            raise SystemExit(f"stack {stack.name}: export {name} is already exported by another stack")
        self.stacks.append(stack)

    def _nested_stack(
        self, parent: ServedStack, logical_id: str, url: str, parameters: dict[str, str]
    ) -> tuple[str, dict[str, str]]:
        """A nested stack with a local template (TemplateURL, or an application's Location, relative to
        its parent's folder, as `sam deploy` packages it), served as a stack of its own, named as
        CloudFormation names it: `{parent}-{LogicalId}-{SUFFIX}`."""
        path = (parent.path.parent / url).resolve()
        if not path.is_file():
            raise SystemExit(f"stack {parent.name}: nested stack {logical_id}: no such template {path}")
        name = physical_name("AWS::CloudFormation::Stack", parent.name, logical_id)
        declared = load_source(path).get("Parameters") or {}
        unknown = sorted(set(parameters) - set(declared))
        if unknown:  # CloudFormation refuses a parameter the nested template does not declare
            raise SystemExit(f"stack {parent.name}: nested stack {logical_id} does not declare {unknown}")
        template = active(translate(parameters, path=path, region=self.options.region, stack_name=name))
        spec = read_spec(template)
        self._refuse_what_cannot_be_run(spec)
        self._refuse_what_cannot_be_enforced(spec)
        stack = ServedStack(name, path, template, spec, http_api_id(f"{name}/rest-api"))
        _refuse_what_clashes([*self.stacks, parent, stack])
        if self._people_stack is None and spec.user_pools:
            self._people_stack = name
        self._bind_apis_of(stack)
        self._provision(stack, self._kept.get(name), main=False)
        return stack_id(self.options.region, ACCOUNT_ID, name), {k: str(v) for k, v in stack.outputs.items()}

    def _bind_apis_of(self, stack: ServedStack) -> None:
        """Ports of their own for a nested stack's REST and HTTP APIs, after those taken already."""
        apis: list[HttpApiSpec | ApiSpec] = [*stack.spec.rest_apis, *stack.spec.http_apis]
        for api in apis:
            port = self.options.port + len(self._http_ports) + 1 if self.options.port else 0
            app = _HttpApiApp()
            self._http_ports.append(_HttpApiPort(api, app, Server(self.options.host, port, app), stack=stack))

    def _api_urls(self) -> dict[str, str]:
        """API id -> the local root of each API on a port of its own (for the outputs' URLs)."""
        return {port.api_id: port.url for port in self._http_ports}

    def aws_client(self, service: str) -> Any:
        """A boto3 client of the local AWS APIs for the cloud's own calls (provisioning, seeding, look-ups).

        Its requests are handed to the dispatcher in this process, as they would arrive over HTTP,
        without the socket: seeding 10^4 items cost a second more through the loopback.
        """
        make_client: Any = boto3.client  # typed per literal service name; this one is chosen at run time
        client = make_client(
            service,
            region_name=self.options.region,
            endpoint_url=self.base_url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106 - moto accepts any credentials
        )
        client.meta.events.register("before-send", self._send_in_process)
        return client

    def _send_in_process(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        url = urlsplit(request.url)
        headers = [
            (str(k), v.decode() if isinstance(v, bytes) else str(v)) for k, v in request.headers.items()
        ]
        environ = EnvironBuilder(
            method=request.method,
            path=url.path,
            query_string=url.query,
            headers=headers,
            data=_body_bytes(request.body),
            base_url=self.base_url,
        ).get_environ()
        chunks, status, reply_headers = run_wsgi_app(self._dispatcher, environ, buffered=True)
        raw = _RawBody(b"".join(chunks))
        return AWSResponse(request.url, int(status.split()[0]), _as_any(dict(reply_headers)), raw)

    def _refuse_what_cannot_be_run(self, spec: CloudSpec) -> None:
        """Functions in another language or in a container image: refused by name at start-up, rather
        than served as a 502 on every call (docs/local-cloud.md)."""
        refused = [
            f"  - {name}: {why}" for name, props in spec.functions.items() if (why := unrunnable(props))
        ]
        if refused:
            raise SystemExit(
                "the local cloud cannot run these functions of the template:\n" + "\n".join(refused) + "\n"
                "It runs Python 3 functions on the local interpreter; run the others with `sam local`."
            )

    def _refuse_what_cannot_be_enforced(self, spec: CloudSpec) -> None:
        """Never open by omission (docs/aws-behaviour.md §8)."""
        for staged in spec.api.each_stage() if spec.api is not None else []:
            if staged.stage in _RESERVED_STAGES:
                raise SystemExit(f"stage {staged.stage!r} would shadow an AWS API path of the local cloud")
        if spec.unenforceable and not self.options.allow_unenforced:
            lines = "\n".join(f"  - {item}" for item in spec.unenforceable)
            raise SystemExit(
                "the local cloud cannot enforce what the template declares here, "
                f"and will not serve it open:\n{lines}\n"
                "Start with --allow-unenforced to serve it anyway "
                "(every such request is marked in the console)."
            )

    # ------------------------------------------------------------ the pieces that serve requests

    def _serve(self) -> None:
        pool: LocalUserPool | None = None
        pool_id = next((s.made.user_pool_id for s in self.stacks if s.made and s.made.user_pool_id), None)
        if pool_id is not None:
            self._public_host = PublicHost(self.options.region, self.options.host)
        configs = {}
        for stack in self.stacks:
            assert stack.made is not None
            configs.update(function_configs(stack.template, stack.made.resolver))
        self.runner = Runner(
            configs,
            region=self.options.region,
            endpoint_url=self.base_url,
            concurrency=self.options.concurrency,
            local_environment=self._public_host.environment() if self._public_host else None,
        )
        if pool_id is not None:
            pool = LocalUserPool.build(
                pool_id=pool_id,
                region=self.options.region,
                account_id=ACCOUNT_ID,
                key=self._signing_key(),
                cognito=self.aws_client("cognito-idp"),
                runner=self.runner,
            )
            self._pool = pool
            self._dispatcher.aws.on_cognito_change.append(pool.clients.forget)
            assert self._public_host is not None
            self._public_host.serve(
                pool_id,
                pool.jwks,
                openid_configuration(
                    pool.issuer,
                    f"{pool.issuer}/.well-known/jwks.json",  # on the public host, as AWS gives it
                    f"{self.base_url}/oauth2/token",
                    self.base_url,
                ),
            )
            self._dispatcher.endpoints = {
                **{path: _logged(endpoint) for path, endpoint in pool.endpoints().items()},
                **pool.documents(self.base_url),
            }
            self._dispatcher.targets = pool.targets()
        self._serve_http_apis(pool)
        main = self.stacks[-1]
        if main.spec.api is not None:  # each of its stages under its own path (aws-behaviour.md §2.2)
            self._dispatcher.apis = [
                ServedApi(
                    staged.logical_id,
                    staged.stage,
                    self._rest_gateway(main, staged, pool),
                    f"{self.base_url}/{staged.stage}",
                )
                for staged in main.spec.api.each_stage()
            ]

    def _rest_gateway(self, stack: ServedStack, api: ApiSpec, pool: LocalUserPool | None) -> Gateway:
        assert self.runner is not None
        assert stack.made is not None
        authorizers: dict[str, Authorizer] = {}
        for name, a in api.authorizers.items():
            if pool is None or not _names_pool(stack.made.resolver, a.provider, pool):
                raise SystemExit(
                    f"stack {stack.name}: the Cognito authorizer {name} names a user pool that none of the "
                    "served stacks has: serve the pool's template too (--template FILE:STACK, first)"
                )
            authorizers[name] = CognitoAuthorizer(issuer=pool.issuer, jwks=pool.jwks, header=a.header)
        api_id = stack.rest_api_id_of(api)
        facts = ApiFacts(api_id, api.stage, self.options.region, ACCOUNT_ID, api.stage_variables)
        authorizers.update(lambda_authorizers(api.lambda_authorizers, runner=self.runner, api=facts))
        api_keys = None
        if any(route.api_key for route in api.routes):
            # The keys of the local AWS, made by any stack or at run time: read again after each change.
            api_keys = ApiKeys(self.aws_client("apigateway"), api_id=api_id, stage=api.stage)
            self._dispatcher.aws.on_apigateway_change.append(api_keys.forget)
        return Gateway(
            api,
            runner=self.runner,
            authorizers=authorizers,
            api_keys=api_keys,
            throttling=Throttling(api.method_throttles) if self.options.throttling else None,
            api_id=api_id,
            account_id=ACCOUNT_ID,
        )

    def _serve_page(self, spec: CloudSpec, made: Provisioned) -> None:
        """The API's contract, named by the project, and the page to try it (sam_local_cloud/api_page.py)."""
        if self.project.openapi is None or spec.api is None:
            return
        keyed = {(route.method.lower(), route.resource) for route in spec.api.routes if route.api_key}
        client_id = self.outputs.get(self.project.user_client_output or "")
        client = next((c for c in made.clients.values() if client_id and c["ClientId"] == client_id), None)
        people = PeopleClient(str(client_id), tuple(client.get("CallbackURLs", []))) if client else None
        self._dispatcher.endpoints.update(
            page_endpoints(
                json.loads(self.project.openapi.read_text()),
                title=f"{self.project.name} (local)",
                stage=spec.api.stage,
                api_key=ApiKeyRequirement(spec.api.api_key_header, keyed) if keyed else None,
                people=people,
            )
        )
        # The address people can sign in at (the client allows its redirect), else the cloud's own.
        port = self._server.server_address[1] if self._server else None
        here = [url for url in (people.page_urls() if people else []) if urlsplit(url).port == port]
        self.page_url = here[0] if here else self.base_url + PAGE_PATH

    def _serve_http_apis(self, pool: LocalUserPool | None) -> None:
        assert self.runner is not None
        for port in self._http_ports:
            assert port.stack is not None
            assert port.stack.made is not None
            made = port.stack.made
            if isinstance(port.api, ApiSpec):
                port.app.gateway = _StageGateways(
                    [
                        (staged.stage, self._rest_gateway(port.stack, staged, pool))
                        for staged in port.api.each_stage()
                    ]
                )
                continue
            authorizers: dict[str, Authorizer] = {
                name: JwtAuthorizer(
                    issuer=(issuer := str(_resolved(made.resolver, a.issuer))),
                    audience=[str(_resolved(made.resolver, client)) for client in a.audience],
                    # The keys of the template's pool; an issuer outside the template has none here,
                    # so its tokens are refused.
                    jwks=pool.jwks if pool is not None and issuer == pool.issuer else {"keys": []},
                    identity_source=a.identity_source,
                )
                for name, a in port.api.authorizers.items()
            }
            facts = ApiFacts(
                http_api_id(port.api.logical_id),
                port.api.stage,
                self.options.region,
                ACCOUNT_ID,
                port.api.stage_variables,
                http_api=True,
            )
            authorizers.update(lambda_authorizers(port.api.lambda_authorizers, runner=self.runner, api=facts))
            port.app.gateway = HttpApiGateway(
                port.api,
                runner=self.runner,
                authorizers=authorizers,
                throttling=Throttling(port.api.route_throttles) if self.options.throttling else None,
                api_id=http_api_id(port.api.logical_id),
                account_id=ACCOUNT_ID,
            )

    def _register_stacks(self) -> None:
        for stack in self.stacks:
            self._register_stack(stack)

    def _register_stack(self, stack: ServedStack) -> None:
        """The stack in the local CloudFormation API: its parameters, resources and outputs (their local
        values, as in the outputs file)."""
        from sam_local_cloud.aws_apis.stack import StackOutput, register_stack

        template, made = stack.template, stack.made
        assert made is not None
        source = load_source(stack.path)
        declared = source.get("Parameters") or {}
        register_stack(
            stack_id=stack_id(self.options.region, ACCOUNT_ID, stack.name),
            name=stack.name,
            account_id=ACCOUNT_ID,
            region=self.options.region,
            parameters={k: v for k, v in template.parameters.items() if k in declared},
            no_echo=[k for k, p in declared.items() if str(p.get("NoEcho", "")).lower() == "true"],
            resources=[(r.logical_id, r.resource_type, r.physical_id) for r in made.resources.values()],
            outputs=[
                StackOutput(
                    key,
                    str(stack.outputs[key]),
                    output.get("Description"),
                    str(_resolved(made.resolver, output["Export"]["Name"])) if "Export" in output else None,
                )
                for key, output in template.outputs.items()
                if key in stack.outputs
            ],
            template_body=stack.path.read_text(),
            description=source.get("Description"),
        )

    def _signing_key(self) -> SigningKey:
        path = self.options.signing_key or (self.state.key_path if self.state else None)
        if path is None:
            return SigningKey.generate()
        if path.exists():
            return SigningKey.from_pem(path.read_bytes())
        key = SigningKey.generate()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(key.to_pem())
        path.chmod(0o600)
        return SigningKey.from_pem(path.read_bytes())

    @property
    def outputs_path(self) -> Path:
        assert self.options.outputs_path is not None, "set by start()"
        return self.options.outputs_path

    def _write_outputs(self) -> None:
        path = self.outputs_path
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(".tmp")
        self._outputs_text = json.dumps(self.outputs, indent=2) + "\n"
        temporary.write_text(self._outputs_text)
        temporary.replace(path)  # readers never see a half-written file

    def _remove_outputs(self) -> None:
        """The outputs file goes with the cloud (its secrets and ids die with it), unless another
        cloud has written the same path since."""
        path = self.options.outputs_path
        with contextlib.suppress(OSError):
            if path is not None and self._outputs_text and path.read_text() == self._outputs_text:
                path.unlink()


def _exports(stack: ServedStack) -> dict[str, str]:
    """The stack's exports (name -> value), as Fn::ImportValue reads them in the stacks after it."""
    assert stack.made is not None
    return {
        str(_resolved(stack.made.resolver, output["Export"]["Name"])): str(stack.outputs[key])
        for key, output in stack.template.outputs.items()
        if "Export" in output and key in stack.outputs
    }


def _merged_outputs(stacks: list[ServedStack]) -> dict[str, Any]:
    """The outputs file: every stack's outputs, the main stack's (last) winning a key both have."""
    merged: dict[str, Any] = {}
    for stack in stacks:
        for key, value in stack.outputs.items():
            if key == "Clients":
                merged.setdefault("Clients", {}).update(value)
            elif key == "Users":
                merged["Users"] = [*merged.get("Users", []), *value]
            else:
                merged[key] = value
    return merged


def _refuse_what_clashes(stacks: list[ServedStack]) -> None:
    """What the local cloud keys by logical id across stacks (functions, HTTP APIs) or serves once
    (the user pool): refused by name rather than served wrong."""
    for kind in ("function", "HTTP API"):
        seen: dict[str, str] = {}
        for stack in stacks:
            ids = stack.spec.functions if kind == "function" else [a.logical_id for a in stack.spec.http_apis]
            for logical_id in ids:
                if logical_id in seen:
                    raise SystemExit(
                        f"the {kind} {logical_id} is in stacks {seen[logical_id]} and {stack.name}: "
                        "served together, stacks need different logical ids for these"
                    )
                seen[logical_id] = stack.name
    pools = [f"{s.name}/{p}" for s in stacks for p in s.spec.user_pools]
    if len(pools) > 1:
        raise SystemExit(f"the local cloud serves one user pool; the stacks have {', '.join(pools)}")


def _names_pool(resolver: Resolver, provider: Any, pool: LocalUserPool) -> bool:
    """Whether an authorizer's providerARN, resolved in its stack, is the served pool's ARN."""
    try:
        arn = _resolved(resolver, provider)
    except Unresolvable:
        return False
    return isinstance(arn, str) and arn.endswith(f":userpool/{pool.pool_id}")


def _resolved(resolver: Resolver, value: Any) -> Any:
    """A template value with its intrinsics resolved; LanguageExtensions can leave a Fn::Sub as a plain
    string with ${...} in it."""
    return resolver.sub(value) if isinstance(value, str) else resolver.resolve(value)


def _as_any(headers: dict[str, str]) -> Any:
    """AWSResponse keeps any mapping as its HeadersDict; its stubs ask for HTTPHeaders."""
    return headers


def _body_bytes(body: Any) -> bytes:
    """A botocore request body (bytes, text or a file-like object) as bytes."""
    if hasattr(body, "read"):
        body = body.read()
    return body.encode() if isinstance(body, str) else bytes(body or b"")


class _RawBody(io.BytesIO):
    """A response body as botocore reads it from urllib3."""

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.read()


def _logged(endpoint: Any) -> Any:
    def serve(request: Request) -> Response:
        started = time.perf_counter()
        response = endpoint(request)
        console.request_line(
            request.method, request.path, response.status_code, None, (time.perf_counter() - started) * 1000
        )
        return response

    return serve
