"""Writes the sample events in events/ from template.yaml.

    .venv/bin/python -m events.generate           # rewrite events/*.json and events/env.json
    .venv/bin/python -m events.generate --check   # exit 1 if a committed file is not what this writes

Run it from the repository root after changing routes, scopes, clients or functions in template.yaml,
and commit what it writes: tests/unit/test_events.py fails while the committed files differ.

Routes, functions, scopes, clients and groups come from the translated template
(sam_local_cloud/cloudformation/template.py), and every API event is built by the project's event builders
(sam_local_cloud/apigateway/events.py), with the claims of a Cognito token rendered as each API's authorizer
passes them (every value a string; exp/iat as Java dates on REST, epoch seconds on the HTTP API): a
client_credentials access token on scoped routes, a person's ID token on routes without scopes. Every route
has a REST (payload format 1.0) event; a few have an HTTP API (2.0) twin, named `*_http.json`. The pre token
generation trigger gets Cognito's V2 event, built by sam_local_cloud/cognito/events.py as the local cloud, the
tests and the benchmark build it. Times and ids are fixed so the output does not change between runs. What
each file gives is documented in events/README.md, and the test checks it.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from boto3.dynamodb.types import TypeSerializer

from sam_local_cloud.apigateway.events import authorizer_claims, rest_event
from sam_local_cloud.apigateway.events_v2 import http_api_event
from sam_local_cloud.cloudformation.spec import proxy_routes, read_spec
from sam_local_cloud.cloudformation.template import Template, translate
from sam_local_cloud.cognito.events import event_attributes, pre_token_generation_event
from sam_local_cloud.cognito.tokens import user_access_token_claims, user_id_token_claims

EVENTS_DIR = Path(__file__).resolve().parent

REGION = "us-east-1"
USER_POOL_ID = f"{REGION}_EXAMPLE"
ISSUER = f"https://cognito-idp.{REGION}.amazonaws.com/{USER_POOL_ID}"
ACCOUNT_ID = "123456789012"
API_ID = "a1b2c3d4e5"
HTTP_API_ID = "f6g7h8i9j0"
SOURCE_IP = "203.0.113.10"  # TEST-NET-3, a documentation address

# One product that get/update/delete name; seed_item.json stores it (tests seed it too).
PRODUCT_ID = "3f1c9a52-7d4e-4b8a-9c61-2e5b8f0d7a14"
MISSING_PRODUCT_ID = "00000000-0000-4000-8000-000000000000"
SEEDED_VERSION = 2  # the product has been updated once: update_product.json sends this version

# The token was issued at ISSUED_AT and the request made REQUEST_DELAY seconds later.
ISSUED_AT = int(datetime(2025, 11, 20, 10, 19, 0, tzinfo=UTC).timestamp())
REQUEST_DELAY = 40
TOKEN_LIFETIME = 3600  # the clients' AccessTokenValidity: 60 minutes

# sam local invoke runs the function in Docker; host.docker.internal is the host, where
# DynamoDB Local (or the local cloud's DynamoDB endpoint) listens.
TABLE_NAME = "products"
IDEMPOTENCY_TABLE_NAME = "idempotency"
DYNAMODB_ENDPOINT = "http://host.docker.internal:8000"

CREATE_BODY = {
    "name": "Espresso cup",
    "description": "Porcelain, 90 ml, dishwasher safe",
    "price": "12.50",
    "currency": "EUR",
}
UPDATE_BODY = {
    "name": "Espresso cup",
    "description": "Porcelain, 90 ml, dishwasher safe; now in blue",
    "price": "13.90",
    "currency": "EUR",
    "version": SEEDED_VERSION,
}
# One bad field: the handler names the first it finds (fastjsonschema stops there), so an event with
# several would show what the answer does not list.
INVALID_CREATE_BODY = {**CREATE_BODY, "price": "twelve"}


@dataclass(frozen=True)
class Route:
    name: str  # the handler module: product_api.handlers.<name>.lambda_handler
    function: str  # logical id
    method: str
    resource: str  # the template path, e.g. /products/{id}
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Client:
    logical_id: str
    client_id: str
    scopes: tuple[str, ...]


@dataclass(frozen=True)
class Person:
    """A user of the pool. People sign in with their email, so Cognito makes the username a UUID
    (the same as `sub`): that, not the email, is what `created_by` records."""

    username: str
    email: str
    groups: tuple[str, ...]


def routes_of(template: Template) -> list[Route]:
    """Every method of the API but OPTIONS, with the function its integration invokes."""
    routes = []
    for route in proxy_routes(template):
        handler = template.resources[route.function]["Properties"]["Handler"]
        routes.append(
            Route(handler.split(".")[-2], route.function, route.method, route.resource, route.scopes)
        )
    return sorted(routes, key=lambda r: r.name)


def _client(logical_id: str, resource: dict[str, Any]) -> Client:
    # Cognito client ids are 26 lowercase letters and digits: a made-up but stable one.
    fake_id = hashlib.sha256(logical_id.encode()).hexdigest()[:26]
    return Client(logical_id, fake_id, tuple(resource["Properties"].get("AllowedOAuthScopes", [])))


def _flows(resource: dict[str, Any]) -> list[str]:
    return resource["Properties"].get("AllowedOAuthFlows", [])


def clients_of(template: Template) -> list[Client]:
    """The machine clients (client_credentials) of the user pool."""
    clients = template.of_type("AWS::Cognito::UserPoolClient")
    return [_client(n, r) for n, r in sorted(clients.items()) if "client_credentials" in _flows(r)]


def user_client_of(template: Template) -> Client:
    """The app client people sign in with (the code flow)."""
    clients = template.of_type("AWS::Cognito::UserPoolClient")
    (user_client,) = [_client(n, r) for n, r in sorted(clients.items()) if "code" in _flows(r)]
    return user_client


def pre_token_function(template: Template) -> str:
    """The logical id of the pool's pre token generation trigger."""
    _, pool = template.the_one("AWS::Cognito::UserPool")
    return pool["Properties"]["LambdaConfig"]["PreTokenGenerationConfig"]["LambdaArn"]["Fn::GetAtt"][0]


def group_scopes(template: Template) -> dict[str, list[str]]:
    """Groups -> scopes, as the trigger reads them from its GROUP_SCOPES."""
    variables = template.resources[pre_token_function(template)]["Properties"]["Environment"]["Variables"]
    return json.loads(variables["GROUP_SCOPES"])


def sample_person(template: Template) -> Person:
    """A person in the group that grants some product scopes but not all (the editors), so that the
    trigger's events show a scope added and one suppressed."""
    mapping = group_scopes(template)
    every_scope = set().union(*mapping.values())
    group = max((g for g in mapping if set(mapping[g]) < every_scope), key=lambda g: len(mapping[g]))
    username = str(uuid.uuid5(uuid.NAMESPACE_URL, "person:ada"))
    return Person(username=username, email="ada@example.com", groups=(group,))


def client_with(clients: list[Client], route: Route) -> Client:
    """The least privileged client that may call the route."""
    allowed = [c for c in clients if set(c.scopes) & set(route.scopes)]
    return min(allowed, key=lambda c: (len(c.scopes), c.logical_id))


def client_without(clients: list[Client], route: Route) -> Client:
    """A client none of whose scopes is the route's."""
    lacking = [c for c in clients if not set(c.scopes) & set(route.scopes)]
    return min(lacking, key=lambda c: (len(c.scopes), c.logical_id))


def access_token_claims(client: Client) -> dict[str, Any]:
    """A client_credentials access token's claims: sub is the client, scope all it is allowed."""
    return {
        "sub": client.client_id,
        "token_use": "access",
        "scope": " ".join(client.scopes),
        "auth_time": ISSUED_AT,
        "iss": ISSUER,
        "exp": ISSUED_AT + TOKEN_LIFETIME,
        "iat": ISSUED_AT,
        "version": 2,
        "jti": str(uuid.uuid5(uuid.NAMESPACE_URL, f"jti:{client.logical_id}")),
        "client_id": client.client_id,
    }


def person_attributes(person: Person) -> dict[str, str]:
    """The person's attributes as the user pool stores them (every value a string)."""
    return {"sub": person.username, "email_verified": "true", "email": person.email}


def id_token_claims(person: Person, client: Client) -> dict[str, Any]:
    """A person's ID token from the user client (the token a route without scopes takes)."""
    return user_id_token_claims(
        sub=person.username,
        username=person.username,
        client_id=client.client_id,
        groups=person.groups,
        attributes=person_attributes(person),
        issuer=ISSUER,
        auth_time=ISSUED_AT,
        origin_jti=str(uuid.uuid5(uuid.NAMESPACE_URL, f"origin:{person.username}")),
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"event:{person.username}")),
        lifetime=TOKEN_LIFETIME,
        now=ISSUED_AT,
        jti=str(uuid.uuid5(uuid.NAMESPACE_URL, f"jti:{person.username}")),
    )


def person_access_token_claims(person: Person, client: Client, scopes: list[str]) -> dict[str, Any]:
    """A person's access token from the user client, after the trigger has set its scopes."""
    return user_access_token_claims(
        sub=person.username,
        username=person.username,
        client_id=client.client_id,
        groups=person.groups,
        scopes=scopes,
        issuer=ISSUER,
        auth_time=ISSUED_AT,
        origin_jti=str(uuid.uuid5(uuid.NAMESPACE_URL, f"origin:{person.username}")),
        event_id=str(uuid.uuid5(uuid.NAMESPACE_URL, f"event:{person.username}")),
        lifetime=TOKEN_LIFETIME,
        now=ISSUED_AT,
        jti=str(uuid.uuid5(uuid.NAMESPACE_URL, f"access-jti:{person.username}")),
    )


def person_trigger_event(
    *, trigger_source: str, person: Person, client_id: str, scopes: list[str]
) -> dict[str, Any]:
    """Cognito's V2_0 pre token generation event for the person (sam_local_cloud/apigateway/events.py builds
    it).

    `scopes` are the scopes asked for: `aws.cognito.signin.user.admin` alone from the sign-in API,
    those of the authorize request (that the client allows) from the hosted sign-in.
    """
    return pre_token_generation_event(
        trigger_source=trigger_source,
        region=REGION,
        user_pool_id=USER_POOL_ID,
        username=person.username,
        client_id=client_id,
        user_attributes=event_attributes(person_attributes(person), "CONFIRMED"),
        groups=person.groups,
        scopes=scopes,
    )


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def example_jwt(claims: Mapping[str, Any]) -> str:
    """The shape of the bearer token the caller sent (the signature is not real)."""
    header = {"kid": "EXAMPLE", "alg": "RS256"}
    compact = {"separators": (",", ":")}
    parts = [
        json.dumps(header, **compact).encode(),
        json.dumps(claims, **compact).encode(),
        b"EXAMPLE-SIGNATURE",
    ]
    return ".".join(_b64url(p) for p in parts)


def make_event(
    template: Template,
    route: Route,
    token_claims: dict[str, Any],
    *,
    name: str,
    product_id: str = PRODUCT_ID,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    stage = template.parameters["StageName"]
    params = dict.fromkeys(re.findall(r"\{(\w+)\}", route.resource), product_id)
    path = route.resource.format(**params)
    now = ISSUED_AT + REQUEST_DELAY
    request_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"request:{name}"))
    domain = f"{API_ID}.execute-api.{REGION}.amazonaws.com"
    headers = [
        ("Accept", "application/json"),
        ("Authorization", f"Bearer {example_jwt(token_claims)}"),
        *([("Content-Type", "application/json")] if body is not None else []),
        ("Host", domain),
        ("User-Agent", "python-requests/2.32.3"),
        ("X-Amzn-Trace-Id", f"Root=1-{now:08x}-{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:24]}"),
        ("X-Forwarded-For", SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    event = rest_event(
        method=route.method,
        resource=route.resource,
        path=path,
        stage=stage,
        path_parameters=params,
        headers=headers,
        body=json.dumps(body) if body is not None else None,
        claims=authorizer_claims(token_claims),
        source_ip=SOURCE_IP,
        api_id=API_ID,
        account_id=ACCOUNT_ID,
        domain_name=domain,
        request_id=request_id,
        now=now,
    )
    # rest_event makes a random extendedRequestId; a fixed one keeps the files stable.
    event["requestContext"]["extendedRequestId"] = base64.b64encode(uuid.UUID(request_id).bytes[:12]).decode()
    return event


def make_http_event(
    route: Route,
    route_scopes: tuple[str, ...],
    token_claims: dict[str, Any],
    *,
    name: str,
    product_id: str = PRODUCT_ID,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The HTTP API's payload format 2.0 event for the same request, on its $default stage, with the
    HTTP API route's own scopes."""
    params = dict.fromkeys(re.findall(r"\{(\w+)\}", route.resource), product_id)
    path = route.resource.format(**params)
    now = ISSUED_AT + REQUEST_DELAY
    domain = f"{HTTP_API_ID}.execute-api.{REGION}.amazonaws.com"
    text = json.dumps(body) if body is not None else None
    headers = [
        ("Accept", "application/json"),
        ("Authorization", f"Bearer {example_jwt(token_claims)}"),
        ("Content-Length", str(len(text.encode())) if text else "0"),
        *([("Content-Type", "application/json")] if text is not None else []),
        ("Host", domain),
        ("User-Agent", "python-requests/2.32.3"),
        ("X-Amzn-Trace-Id", f"Root=1-{now:08x}-{uuid.uuid5(uuid.NAMESPACE_URL, name).hex[:24]}"),
        ("X-Forwarded-For", SOURCE_IP),
        ("X-Forwarded-Port", "443"),
        ("X-Forwarded-Proto", "https"),
    ]
    # A stable request id of the HTTP API's form: 16 characters ending in "=".
    request_uuid = uuid.uuid5(uuid.NAMESPACE_URL, f"request:{name}")
    request_id = base64.urlsafe_b64encode(request_uuid.bytes[:11]).decode()
    return http_api_event(
        method=route.method,
        route_key=f"{route.method} {route.resource}",
        path=path,
        path_parameters=params,
        headers=headers,
        body=text,
        token_claims=token_claims,
        route_scopes=route_scopes,
        source_ip=SOURCE_IP,
        api_id=HTTP_API_ID,
        account_id=ACCOUNT_ID,
        domain_name=domain,
        request_id=request_id,
        now=now,
    )


def events(template: Template) -> dict[str, tuple[str, dict[str, Any]]]:
    """file name -> (function logical id, event): one per route, the failure cases, the trigger's."""
    routes = {r.name: r for r in routes_of(template)}
    clients = clients_of(template)
    user_client, person = user_client_of(template), sample_person(template)
    bodies = {"POST": CREATE_BODY, "PUT": UPDATE_BODY}
    out: dict[str, tuple[str, dict[str, Any]]] = {}

    def add(name: str, route: Route, claims: dict[str, Any], **kwargs: Any) -> None:
        out[f"{name}.json"] = (route.function, make_event(template, route, claims, name=name, **kwargs))

    def machine(client: Client) -> dict[str, Any]:
        return access_token_claims(client)

    for name, route in routes.items():
        if route.scopes:
            add(name, route, machine(client_with(clients, route)), body=bodies.get(route.method))
        else:  # no scopes: the route takes an ID token
            add(name, route, id_token_claims(person, user_client))
            scopes = ["openid", "email", *group_scopes(template)[person.groups[0]]]
            add(f"{name}_access_token", route, person_access_token_claims(person, user_client, scopes))

    create, get, update = routes["create_product"], routes["get_product"], routes["update_product"]
    add("create_product_missing_scope", create, machine(client_without(clients, create)), body=CREATE_BODY)
    add("create_product_invalid", create, machine(client_with(clients, create)), body=INVALID_CREATE_BODY)
    add("get_product_missing", get, machine(client_with(clients, get)), product_id=MISSING_PRODUCT_ID)
    stale = {**UPDATE_BODY, "version": SEEDED_VERSION - 1}
    add("update_product_stale_version", update, machine(client_with(clients, update)), body=stale)

    # The HTTP API's twins of a read, a create, and GET /me with each kind of token: the JWT
    # authorizer passes the access token there (no scopes, no token_use check), the handler refuses it.
    (http_api,) = read_spec(template).http_apis
    http_scopes = {(r.method, r.resource): r.scopes for r in http_api.routes}

    def add_http(name: str, route: Route, claims: dict[str, Any], **kwargs: Any) -> None:
        scopes = http_scopes[(route.method, route.resource)]
        event = make_http_event(route, scopes, claims, name=f"{name}_http", **kwargs)
        out[f"{name}_http.json"] = (route.function, event)

    me = routes["get_me"]
    add_http("get_product", get, machine(client_with(clients, get)))
    add_http("create_product", create, machine(client_with(clients, create)), body=CREATE_BODY)
    add_http("get_me", me, id_token_claims(person, user_client))
    me_scopes = ["openid", "email", *group_scopes(template)[person.groups[0]]]
    add_http("get_me_access_token", me, person_access_token_claims(person, user_client, me_scopes))

    # The trigger: a sign-in through the API (which cannot ask for scopes), and a hosted sign-in
    # asking for openid and every product scope, of which the person's groups grant only some.
    trigger = pre_token_function(template)
    product_scopes = sorted(set().union(*group_scopes(template).values()))
    out["pre_token_generation_sign_in_api.json"] = (
        trigger,
        person_trigger_event(
            trigger_source="TokenGeneration_Authentication",
            person=person,
            client_id=user_client.client_id,
            scopes=["aws.cognito.signin.user.admin"],
        ),
    )
    out["pre_token_generation_hosted_sign_in.json"] = (
        trigger,
        person_trigger_event(
            trigger_source="TokenGeneration_HostedAuth",
            person=person,
            client_id=user_client.client_id,
            scopes=["openid", "email", *product_scopes],
        ),
    )
    return out


def env_vars(template: Template) -> dict[str, dict[str, str]]:
    """`--env-vars` for sam local invoke: every function at the local tables and endpoint."""
    out = {}
    for logical_id, function in sorted(template.of_type("AWS::Lambda::Function").items()):
        env = {"TABLE_NAME": TABLE_NAME, "AWS_ENDPOINT_URL_DYNAMODB": DYNAMODB_ENDPOINT}
        if "IDEMPOTENCY_TABLE_NAME" in function["Properties"]["Environment"]["Variables"]:
            env["IDEMPOTENCY_TABLE_NAME"] = IDEMPOTENCY_TABLE_NAME
        out[logical_id] = env
    return out


def seed_item(template: Template) -> dict[str, Any]:
    """The product the sample events name, as a DynamoDB item (aws dynamodb put-item --item file://...)."""
    admin = max(clients_of(template), key=lambda c: len(c.scopes))
    product = {
        "id": PRODUCT_ID,
        "name": "Espresso cup",
        "description": "Porcelain, 90 ml",
        "price": Decimal("12.50"),
        "currency": "EUR",
        "version": SEEDED_VERSION,
        "created_at": "2025-11-18T08:30:00.000Z",
        "updated_at": "2025-11-19T14:05:12.000Z",
        "created_by": admin.client_id,
        "updated_by": admin.client_id,
    }
    serializer = TypeSerializer()
    return {k: serializer.serialize(v) for k, v in product.items()}


def render(document: Any) -> str:
    return json.dumps(document, indent=2) + "\n"


def files(template: Template | None = None) -> dict[str, str]:
    """Every file this script writes, by name in events/, with its content."""
    template = template or translate()
    out = {name: render(event) for name, (_, event) in events(template).items()}
    out["env.json"] = render(env_vars(template))
    out["seed_item.json"] = render(seed_item(template))
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report files that differ")
    args = parser.parse_args(argv)
    stale = []
    for name, content in files().items():
        path = EVENTS_DIR / name
        if path.exists() and path.read_text() == content:
            continue
        stale.append(name)
        if not args.check:
            path.write_text(content)
    verb = "differ" if args.check else "written"
    print(f"{len(stale)} file(s) {verb}" + (f": {', '.join(stale)}" if stale else ""))
    return 1 if args.check and stale else 0


if __name__ == "__main__":
    sys.exit(main())
