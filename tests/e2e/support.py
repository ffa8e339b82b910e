"""Helpers of the end-to-end suite: the target (local cloud or deployed stack), tokens, HTTP calls."""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests

from sam_local_cloud.cloudformation.spec import HttpApiSpec, Route, read_spec
from sam_local_cloud.cloudformation.template import translate
from sam_local_cloud.cognito.tokens import SigningKey, user_id_token_claims
from tests.harness import ROOT, LocalCloud, local_aws_client, machine_clients

STACK_NAME = os.environ.get("AWS_SAM_STACK_NAME")
DEPLOYED = bool(STACK_NAME)
LOCAL_ONLY = pytest.mark.skipif(DEPLOYED, reason="needs the local cloud (its signing key or its console)")
FIXTURES = ROOT / "tests" / "fixtures"


@dataclass(frozen=True)
class Client:
    logical_id: str
    client_id: str
    secret: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    """A user of the pool: what they sign in with (their email), their password and groups."""

    username: str
    password: str
    groups: tuple[str, ...]


@dataclass
class Stack:
    """What the tests need from the target, local or deployed."""

    api_url: str
    http_api_url: str  # the HTTP API's `$default` stage, without the trailing slash
    token_url: str
    issuer: str
    jwks_url: str
    clients: dict[str, Client]
    api_key: str | None = None
    console_log: Path | None = None  # local cloud only: its console, one line per request
    parameters: dict[str, str] = field(default_factory=dict)
    # People: the user pool, its public client, its domain, and (local cloud) the sample users.
    user_pool_id: str | None = None
    user_client_id: str | None = None
    domain_url: str | None = None
    region: str | None = None
    people: list[Person] = field(default_factory=list)
    # The local cloud only: its AWS endpoint, the pool's signing key (its file is the fixture's own,
    # passed with --signing-key) and the running process, whose console the tests can read.
    aws_endpoint_url: str | None = None
    signing_key: SigningKey | None = None
    cloud: LocalCloud | None = None

    def cognito(self) -> Any:
        """boto3's cognito-idp client for the target: the local endpoint, or AWS with your credentials."""
        import boto3

        if self.aws_endpoint_url is None:
            return boto3.client("cognito-idp", region_name=self.region)
        return local_aws_client("cognito-idp", self.aws_endpoint_url, self.region)

    def sign(self, claims: dict[str, Any]) -> str:
        """A token signed with the pool's own key (local cloud only): expired or ID-token shaped ones."""
        if self.signing_key is None:
            pytest.skip("signing tokens needs the local cloud's key")
        return self.signing_key.sign(claims)


# ---------------------------------------------------------------- the local cloud


def local_stack(cloud: LocalCloud, signing_key: SigningKey | None = None) -> Stack:
    outputs = cloud.outputs
    return Stack(
        api_url=outputs["ApiUrl"],
        http_api_url=outputs["HttpApiUrl"].rstrip("/"),
        token_url=outputs["TokenUrl"],
        issuer=outputs["Issuer"],
        jwks_url=outputs["JwksUrl"],
        clients={
            name: Client(name, c["ClientId"], c["ClientSecret"], tuple(c["AllowedScopes"]))
            for name, c in machine_clients(outputs).items()
        },
        api_key=outputs.get("ApiKey"),
        user_pool_id=outputs["UserPoolId"],
        user_client_id=outputs.get("ProductUserClientId"),
        domain_url=outputs.get("UserPoolDomainUrl"),
        region=outputs["Region"],
        people=[Person(u["Username"], u["Password"], tuple(u["Groups"])) for u in outputs.get("Users", [])],
        aws_endpoint_url=outputs["AwsEndpointUrl"],
        signing_key=signing_key,
        cloud=cloud,
        console_log=cloud.console_path,
    )


# ---------------------------------------------------------------- a deployed stack


def deployed_stack(stack_name: str) -> Stack:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    # Without credentials, a region or the stack, every test would fail on the same boto3 error:
    # stop the run once, saying what is missing.
    session = boto3.Session()
    missing = [
        what
        for what, ok in (("a region", session.region_name), ("credentials", session.get_credentials()))
        if not ok
    ]
    if missing:
        pytest.exit(
            f"AWS_SAM_STACK_NAME={stack_name} runs the e2e suite against a deployed stack, which needs "
            f"{' and '.join(missing)} for AWS (AWS_PROFILE, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; "
            "AWS_REGION). Unset AWS_SAM_STACK_NAME to test against the local cloud.",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    cloudformation, cognito = session.client("cloudformation"), session.client("cognito-idp")
    try:
        description = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    except (BotoCoreError, ClientError) as error:
        pytest.exit(
            f"AWS_SAM_STACK_NAME={stack_name}: cannot read the stack in {session.region_name}: {error}",
            returncode=pytest.ExitCode.USAGE_ERROR,
        )
    outputs = {o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in description.get("Parameters", [])}
    clients = {}
    for name in read_spec(translate(parameters)).clients:
        described = cognito.describe_user_pool_client(
            UserPoolId=outputs["UserPoolId"], ClientId=outputs[f"{name}Id"]
        )["UserPoolClient"]
        clients[name] = Client(
            name,
            described["ClientId"],
            described["ClientSecret"],
            tuple(described.get("AllowedOAuthScopes", [])),
        )
    api_key = None
    if "ApiKeyId" in outputs:
        api_key = boto3.client("apigateway").get_api_key(apiKey=outputs["ApiKeyId"], includeValue=True)[
            "value"
        ]
    return Stack(
        api_url=outputs["ApiUrl"],
        http_api_url=outputs["HttpApiUrl"].rstrip("/"),
        token_url=outputs["TokenUrl"],
        issuer=outputs["Issuer"],
        jwks_url=outputs["JwksUrl"],
        clients=clients,
        api_key=api_key,
        parameters=parameters,
        user_pool_id=outputs["UserPoolId"],
        user_client_id=outputs.get("ProductUserClientId"),
        domain_url=outputs.get("UserPoolDomainUrl"),
        region=cognito.meta.region_name,
    )


def template_routes(parameters: dict[str, str] | None = None) -> list[Route]:
    """The REST API's routes with a function behind them, from the transformed template. The HTTP API
    has the same ones (`Api.route` finds each there; tests/unit/template/test_http_api_routes.py)."""
    return [r for r in read_spec(translate(parameters or {})).api.routes if r.function]


def template_clients() -> list[str]:
    return sorted(read_spec(translate()).clients)


# ---------------------------------------------------------------- the two APIs


@dataclass(frozen=True)
class Answer:
    """A status and the `{"message": ...}` body the tests expect."""

    status: int
    message: str


UNAUTHORIZED = Answer(401, "Unauthorized")  # both APIs: no, a broken or a foreign token


@dataclass(frozen=True)
class ApiKind:
    """One of the stack's two APIs in front of the same functions, and what AWS answers on it where the
    two differ: each difference named once, with the docs/aws-behaviour.md section it comes from."""

    name: str
    # A valid token holding none of the route's scopes, an ID token on a scoped route included
    # (§2: REST's Cognito authorizer says 401; §9.2: the JWT authorizer 403).
    missing_scope: Answer
    # §2: REST names the expiry; §9.2: the JWT authorizer's 401 is the plain one.
    expired: Answer
    # An access token on a route without scopes (GET /me). §1: REST's authorizer refuses it; §9.1:
    # the JWT authorizer checks no `token_use`, so the function's own check answers (the handler's
    # 403 of functions/product_api/errors.py, WrongTokenUse).
    access_token_on_unscoped_route: Answer
    # §2: an undefined route is REST's 403 (Missing Authentication Token); §9.2: 404 Not Found.
    unknown_route_status: int
    # §2: every REST answer carries `x-amzn-RequestId`; §9.2: HTTP API answers `apigw-requestid`.
    request_id_header: str
    # §9.2: the JWT authorizer's 401s carry `www-authenticate: Bearer ...`; REST's (§2) do not.
    bearer_challenge: bool
    # §2: API keys are REST's (RequireApiKey=true); §9: HTTP APIs have none.
    takes_api_key: bool
    # §1: REST's Cognito authorizer names a pool and takes a token of any of its app clients; §9.1:
    # the JWT authorizer takes only the clients of its audience.
    checks_audience: bool


def _handlers_wrong_token_use() -> Answer:
    from product_api.errors import WrongTokenUse

    return Answer(403, str(WrongTokenUse("id")))


REST = ApiKind(
    name="rest",
    missing_scope=UNAUTHORIZED,
    expired=Answer(401, "The incoming token has expired"),
    access_token_on_unscoped_route=UNAUTHORIZED,
    unknown_route_status=403,
    request_id_header="x-amzn-RequestId",
    bearer_challenge=False,
    takes_api_key=True,
    checks_audience=False,
)
HTTP = ApiKind(
    name="http",
    missing_scope=Answer(403, "Forbidden"),
    expired=UNAUTHORIZED,
    access_token_on_unscoped_route=_handlers_wrong_token_use(),
    unknown_route_status=404,
    request_id_header="apigw-requestid",
    bearer_challenge=True,
    takes_api_key=False,
    checks_audience=True,
)
API_KINDS = (REST, HTTP)


class Api:
    """HTTP calls to one of the stack's APIs: the REST API's stage (with the API key when the stack
    requires one) or the HTTP API's `$default` stage."""

    def __init__(self, stack: Stack, kind: ApiKind):
        self.stack = stack
        self.kind = kind
        self.url = stack.api_url if kind is REST else stack.http_api_url  # ApiUrl, HttpApiUrl
        self.api_key = stack.api_key if kind.takes_api_key else None
        self.http = requests.Session()

    def __repr__(self) -> str:
        return f"Api({self.kind.name}, {self.url})"

    def with_own_session(self) -> Api:
        """The same API over a session of its own (requests.Session is not made for sharing between
        threads)."""
        return Api(self.stack, self.kind)

    def route(self, method: str, resource: str) -> Route:
        """This API's route, from the transformed template."""
        spec = read_spec(translate(self.stack.parameters))
        assert spec.api is not None
        routes = spec.api.routes if self.kind is REST else _only(spec.http_apis).routes
        return next(r for r in routes if (r.method, r.resource) == (method, resource))

    def call(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        authorization: str | None = None,
        headers: dict[str, str] | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        all_headers = {"x-api-key": self.api_key} if self.api_key else {}
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        if authorization is not None:
            all_headers["Authorization"] = authorization
        all_headers.update(headers or {})
        return self.http.request(method, self.url + path, headers=all_headers, timeout=30, **kwargs)


def _only(http_apis: tuple[HttpApiSpec, ...]) -> HttpApiSpec:
    (http_api,) = http_apis  # the template's one HTTP API, whose URL is the HttpApiUrl output
    return http_api


def answer_of(response: requests.Response) -> Answer | tuple[int, str]:
    """The response as an Answer when its body is `{"message": ...}` alone; else its status and text,
    which equal no Answer and show in a failed assertion."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and list(body) == ["message"]:
        return Answer(response.status_code, body["message"])
    return response.status_code, response.text


def concrete_path(resource: str, product_id: str | None = None) -> str:
    """A request path for a template resource: `{id}` becomes an id that is (probably) not stored."""
    return resource.replace("{id}", product_id or str(uuid.uuid4()))


def new_product(**overrides: Any) -> dict[str, Any]:
    return {"name": f"e2e {uuid.uuid4().hex[:8]}", "price": "12.50", "currency": "EUR", **overrides}


def id_token_claims(issuer: str, client_id: str) -> dict[str, Any]:
    """A person's ID token claims, as the local cloud issues them (for tokens signed by the test)."""
    subject, now = str(uuid.uuid4()), int(time.time())
    return user_id_token_claims(
        sub=subject,
        username=subject,
        client_id=client_id,
        groups=(),
        attributes={"email": "test-user@example.com", "email_verified": "true"},
        issuer=issuer,
        auth_time=now,
        origin_jti=str(uuid.uuid4()),
        event_id=str(uuid.uuid4()),
    )
