"""Every route's handler, through lambda_handler, against a moto table made from the template.

Which function serves a route, and which scope it needs, come from the transformed template. Each
test runs on both event shapes: the REST API's payload format 1.0 and the HTTP API's 2.0, since one
function serves both APIs. The expectations are the same, except where the event says otherwise (the
path the caller used).
"""

from __future__ import annotations

import base64
import gc
import json
import re
import time
import uuid
import warnings
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import boto3
import jsonschema
import pytest

from sam_local_cloud.cloudformation.spec import proxy_routes
from scripts import openapi
from tests.conftest import TABLE_NAME, machine_claims, person_claims, table_names

CLIENT_ID = "4example0client0id000000"


@dataclass
class Reply:
    status: int
    body: Any
    headers: dict[str, str]


class Api:
    """Calls a route's function as the gateway would, by default with a token holding its scopes."""

    def __init__(self, template, call_function, make_event) -> None:
        self._call = call_function
        self._event = make_event
        self.last_event: dict[str, Any] = {}
        self.last_response: dict[str, Any] = {}
        self.routes = {(r.method, r.resource): (r.function, list(r.scopes)) for r in proxy_routes(template)}

    def route_of(self, method: str, path: str) -> tuple[str, list[str]]:
        return self.routes[(method, self.resource_of(path))]

    @staticmethod
    def resource_of(path: str) -> str:
        return re.sub(r"^/products/[^/]+$", "/products/{id}", path, flags=re.DOTALL)

    def request(
        self,
        method: str,
        path: str,
        *,
        scopes=None,
        claims=None,
        body=None,
        query=None,
        headers=None,
        edit=None,
    ) -> Reply:
        """`edit(event)` changes the event before the call, for what the event builder does not make."""
        function, route_scopes = self.route_of(method, path)
        event = self._event(
            method,
            path,
            scopes=route_scopes if scopes is None else scopes,
            claims=claims,
            body=body,
            query=query,
            headers=headers,
        )
        if edit:
            edit(event)
        self.last_event = event
        response = self.last_response = self._call(function, event)
        assert set(response) >= {"statusCode", "body", "isBase64Encoded"}
        headers = {k: v[-1] for k, v in (response.get("multiValueHeaders") or {}).items()}
        headers |= response.get("headers") or {}
        text = response["body"]
        reply = Reply(response["statusCode"], json.loads(text) if text else None, headers)
        documented_problems(method, self.resource_of(path), reply)
        return reply

    def create(self, **overrides: Any) -> dict[str, Any]:
        reply = self.request("POST", "/products", body=product_body(**overrides))
        assert reply.status == 201, reply.body
        return reply.body


OPENAPI = json.loads(openapi.OUTPUT.read_text())


def documented_problems(method: str, resource: str, reply: Reply) -> None:
    """Every reply in these tests is one docs/openapi.json documents: its status, and its body's schema."""
    responses = OPENAPI["paths"][resource][method.lower()]["responses"]
    assert str(reply.status) in responses, f"{method} {resource}: {reply.status} is not documented"
    content = responses[str(reply.status)].get("content")
    if content is None:
        assert reply.body is None
        return
    schema = {**content["application/json"]["schema"], "components": OPENAPI["components"]}
    jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker()).validate(reply.body)


def product_body(**overrides: Any) -> dict[str, Any]:
    return {"name": "Kettle", "description": "1.7 l, steel", "price": "39.90", "currency": "EUR"} | overrides


@pytest.fixture(params=["rest", "http"], ids=["rest-v1", "http-v2"])
def api(request, template, call_function, make_rest_event, make_http_event) -> Api:
    """The routes through REST's events, then through the HTTP API's."""
    return Api(template, call_function, {"rest": make_rest_event, "http": make_http_event}[request.param])


def path_used(event: dict[str, Any]) -> str:
    """The path the caller sent, stage included: REST's requestContext.path, the HTTP API's rawPath."""
    return event["rawPath"] if event.get("version") == "2.0" else event["requestContext"]["path"]


# ---------------------------------------------------------------- both payload formats


def test_each_payload_format_is_answered_in_its_own(api):
    reply = api.request("GET", "/products", headers={"Origin": "https://shop.example.com"})

    assert reply.status == 200
    if api.last_event.get("version") == "2.0":
        # Format 2.0's answer: cookies apart, no multiValueHeaders (the HTTP API would refuse them).
        assert "multiValueHeaders" not in api.last_response
        assert api.last_response["cookies"] == []
    else:
        assert "cookies" not in api.last_response
        assert api.last_response["multiValueHeaders"]


def test_a_route_without_the_jwt_scopes_list_still_reads_the_scope_claim(api):
    # On the HTTP API `jwt.scopes` is null on a route without scopes; the caller is read from the
    # `scope` claim, so a null list changes nothing on a scoped route either.
    def null_scopes(event):
        authorizer = event["requestContext"]["authorizer"]
        if "jwt" in authorizer:
            authorizer["jwt"]["scopes"] = None

    assert api.request("GET", "/products", edit=null_scopes).status == 200


# ---------------------------------------------------------------- create


def test_create_product_returns_201_with_location_and_the_callers_identity(api):
    reply = api.request("POST", "/products", body=product_body(price=19.9))

    assert reply.status == 201
    product = reply.body
    assert re.fullmatch(r"[0-9a-f-]{36}", product["id"])
    # The path the caller used: /v1/products/{id} on REST's stage, /products/{id} on the $default stage.
    assert reply.headers["Location"] == f"{path_used(api.last_event)}/{product['id']}"
    assert product["price"] == "19.90"
    assert product["version"] == 1
    assert product["created_by"] == product["updated_by"] == CLIENT_ID
    assert product["created_at"] == product["updated_at"]


def test_create_product_stores_what_it_returns(api):
    created = api.create(name="  Teapot  ")

    fetched = api.request("GET", f"/products/{created['id']}")

    assert fetched.status == 200
    assert fetched.body == created
    assert created["name"] == "Teapot"


def test_create_product_records_the_username_of_a_person(api):
    claims = {
        "sub": "7d9a-user",
        "token_use": "access",
        "scope": "product-api/create_product",
        "client_id": "user-client",
        "username": "ada@example.com",
        "cognito:groups": ["admins", "buyers"],
    }
    reply = api.request("POST", "/products", claims=claims, body=product_body())

    assert reply.status == 201
    assert reply.body["created_by"] == "ada@example.com"


@pytest.mark.parametrize(
    ("body", "field", "says"),
    [
        ("{not json", "body", "not valid JSON"),
        ('["a list"]', "body", ""),
        (product_body(price="abc"), "price", ""),
        (product_body(price=-1), "price", "greater than or equal to 0"),
        (product_body(price="1.999"), "price", "decimal places"),
        (product_body(price=True), "price", ""),
        (product_body(currency="XYZ"), "currency", "ISO 4217"),
        (product_body(currency="eur"), "currency", ""),
        (product_body(name=""), "name", ""),
        (product_body(name="x" * 201), "name", "200"),
        (product_body(name=42), "name", "string"),
        (product_body(description="d" * 2001), "description", "2000"),
        (product_body(colour="red"), "colour", "unknown field"),
        (product_body(id="8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d"), "id", "unknown field"),
        ({"name": "Kettle"}, "price", "required"),
        ('{"name": "Kettle", "price": NaN, "currency": "EUR"}', "body", "not valid JSON"),
        ('{"name": "Kettle", "price": 19.999, "currency": "EUR"}', "price", "decimal places"),
        (product_body(price="Infinity"), "price", "decimal number"),
        (product_body(price="1_000"), "price", "decimal number"),
        (product_body(price="-5"), "price", "greater than or equal to 0"),
        (product_body(price="1000000000000"), "price", "less than"),
        (product_body(name="   "), "name", "1 characters"),
    ],
)
def test_create_product_rejects_bad_input_with_400_naming_the_field(api, body, field, says):
    reply = api.request("POST", "/products", body=body)

    assert reply.status == 400
    assert reply.body["message"] == "invalid request"
    problems = {e["field"]: e["message"] for e in reply.body["errors"]}
    assert field in problems, problems
    assert says in problems[field]


@pytest.mark.parametrize(("price", "returned"), [(19.9, "19.90"), ("7", "7.00"), (0, "0.00"), (-0.0, "0.00")])
def test_create_product_returns_the_price_with_two_places(api, price, returned):
    reply = api.request("POST", "/products", body=product_body(price=price))

    assert reply.status == 201
    assert reply.body["price"] == returned


def test_create_product_trims_surrounding_blanks(api):
    reply = api.request("POST", "/products", body=product_body(name="  Kettle ", currency=" EUR"))

    assert reply.status == 201
    assert (reply.body["name"], reply.body["currency"]) == ("Kettle", "EUR")


def test_create_product_without_a_body_is_400(api):
    reply = api.request("POST", "/products", body=None)

    assert reply.status == 400
    assert reply.body["errors"] == [{"field": "body", "message": "is required: a JSON object"}]


def test_create_product_never_overwrites_an_existing_item(api, products_table, monkeypatch):
    first = api.create()
    # force an id collision
    monkeypatch.setattr("product_api.logic.uuid", SimpleNamespace(uuid4=lambda: first["id"]))

    reply = api.request("POST", "/products", body=product_body(name="Impostor"))

    assert reply.status == 409
    assert api.request("GET", f"/products/{first['id']}").body["name"] == "Kettle"


# ---------------------------------------------------------------- create, idempotent


def _products_stored(products_table: str) -> int:
    return boto3.client("dynamodb").scan(TableName=products_table, Select="COUNT")["Count"]


def _idempotency_table(template) -> str:
    (name,) = (n for n in table_names(template).values() if n != TABLE_NAME)
    return name


def test_a_retry_with_the_same_idempotency_key_returns_the_first_response_and_stores_one(api, products_table):
    key = {"Idempotency-Key": "order-4711"}

    first = api.request("POST", "/products", body=product_body(), headers=key)
    retry = api.request("POST", "/products", body=product_body(), headers=key)

    assert first.status == retry.status == 201
    assert retry.body == first.body
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert _products_stored(products_table) == 1


def test_the_idempotency_key_header_is_read_in_any_case(api, products_table):
    first = api.request("POST", "/products", body=product_body(), headers={"idempotency-key": "k1"})
    retry = api.request("POST", "/products", body=product_body(), headers={"IDEMPOTENCY-KEY": "k1"})

    assert retry.body == first.body
    assert _products_stored(products_table) == 1


def test_the_same_product_written_differently_is_the_same_idempotent_request(api, products_table):
    key = {"Idempotency-Key": "k2"}
    first = api.request("POST", "/products", body=product_body(price=19.9), headers=key)

    retry = api.request("POST", "/products", body=product_body(name=" Kettle ", price="19.90"), headers=key)

    assert (retry.status, retry.body) == (201, first.body)


def test_the_same_idempotency_key_with_another_body_is_422_and_stores_nothing(api, products_table):
    key = {"Idempotency-Key": "k3"}
    api.request("POST", "/products", body=product_body(), headers=key)

    reply = api.request("POST", "/products", body=product_body(price="1.00"), headers=key)

    assert reply.status == 422
    assert reply.body["errors"] == [
        {
            "field": "Idempotency-Key",
            "message": "was already used with a different body: send a new key for a new product",
        }
    ]
    assert _products_stored(products_table) == 1


@pytest.mark.parametrize(
    "other",
    [
        pytest.param({"name": "Teapot"}, id="another name"),
        pytest.param({"description": "2 l, glass"}, id="another description"),
        pytest.param({"description": None}, id="no description"),
        pytest.param({"price": "39.91"}, id="another price"),
        pytest.param({"currency": "USD"}, id="another currency"),
    ],
)
def test_every_field_of_the_product_makes_the_idempotent_request(api, products_table, other):
    key = {"Idempotency-Key": "k3-field"}
    first = api.request("POST", "/products", body=product_body(), headers=key)

    reply = api.request("POST", "/products", body=product_body(**other), headers=key)

    assert reply.status == 422, reply.body
    assert _problems(reply).keys() == {"Idempotency-Key"}
    assert _products_stored(products_table) == 1
    assert api.request("GET", f"/products/{first.body['id']}").body == first.body


def test_a_replay_is_the_first_response_even_after_the_product_changed(api, products_table):
    key = {"Idempotency-Key": "k-replay"}
    first = api.request("POST", "/products", body=product_body(), headers=key)
    first_bytes = api.last_response["body"]
    path = f"/products/{first.body['id']}"
    assert api.request("PUT", path, body=product_body(name="Kettle II", version=1)).status == 200

    retry = api.request("POST", "/products", body=product_body(), headers=key)

    assert retry.status == 201
    # The same bytes, not only the same JSON (Powertools stores a response with its keys sorted).
    assert api.last_response["body"] == first_bytes
    assert list(json.loads(first_bytes)) != sorted(json.loads(first_bytes))  # so sorting would show
    assert retry.headers["Location"] == first.headers["Location"]
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert api.request("GET", path).body["version"] == 2
    assert _products_stored(products_table) == 1


def test_without_an_idempotency_key_every_post_creates(api, products_table):
    api.request("POST", "/products", body=product_body())
    api.request("POST", "/products", body=product_body())

    assert _products_stored(products_table) == 2


def test_idempotency_keys_belong_to_their_caller(api, products_table):
    key = {"Idempotency-Key": "shared-key"}
    mine = api.request("POST", "/products", body=product_body(), headers=key)

    theirs = api.request(
        "POST",
        "/products",
        body=product_body(),
        headers=key,
        claims=machine_claims(["product-api/create_product"], client_id="another-client"),
    )

    assert theirs.status == 201
    assert theirs.body["id"] != mine.body["id"]
    assert theirs.body["created_by"] == "another-client"


def test_idempotency_keys_belong_to_the_person_not_to_the_app_they_use(api, products_table):
    # People share their app's client id: a key scoped by client would replay one person's product to
    # another.
    key = {"Idempotency-Key": "shared-key"}
    scopes = api.route_of("POST", "/products")[1]
    ada = api.request(
        "POST", "/products", body=product_body(), headers=key, claims=person_claims("ada", scopes, "app")
    )

    bob = api.request(
        "POST", "/products", body=product_body(), headers=key, claims=person_claims("bob", scopes, "app")
    )

    assert (ada.status, bob.status) == (201, 201)
    assert "Idempotent-Replayed" not in bob.headers
    assert bob.body["id"] != ada.body["id"]
    assert bob.body["created_by"] == "bob"
    assert _products_stored(products_table) == 2


def test_a_duplicate_while_the_first_request_runs_is_409_and_creates_nothing(
    api, products_table, template, monkeypatch, lambda_context
):
    import product_api.logic

    create_product = product_api.logic.create_product
    key = {"Idempotency-Key": "k-concurrent"}
    seen = {}

    def create_while_a_duplicate_arrives(*args, **kwargs):
        seen["duplicate"] = api.request("POST", "/products", body=product_body(), headers=key)
        (seen["record"],) = boto3.client("dynamodb").scan(TableName=_idempotency_table(template))["Items"]
        seen["now_ms"] = time.time() * 1000
        return create_product(*args, **kwargs)

    monkeypatch.setattr(product_api.logic, "create_product", create_while_a_duplicate_arrives)
    first = api.request("POST", "/products", body=product_body(), headers=key)

    assert first.status == 201
    assert seen["duplicate"].status == 409
    assert "still in progress" in seen["duplicate"].body["message"]
    assert _products_stored(products_table) == 1
    # The record says "in progress" only as long as the invocation can run (the context's remaining
    # time): a function killed mid-create must not block its key for 24 hours.
    record = seen["record"]
    assert record["status"]["S"] == "INPROGRESS"
    until = int(record["in_progress_expiration"]["N"])
    assert seen["now_ms"] < until <= seen["now_ms"] + lambda_context.get_remaining_time_in_millis()


def test_a_failed_create_does_not_keep_its_idempotency_key(api, products_table, monkeypatch):
    first = api.create()
    monkeypatch.setattr("product_api.logic.uuid", SimpleNamespace(uuid4=lambda: first["id"]))
    key = {"Idempotency-Key": "k4"}
    assert api.request("POST", "/products", body=product_body(), headers=key).status == 409

    monkeypatch.setattr("product_api.logic.uuid", uuid)
    retry = api.request("POST", "/products", body=product_body(), headers=key)

    assert retry.status == 201
    assert retry.body["id"] != first["id"]


def test_idempotency_records_expire_after_24_hours(api, products_table, template):
    before = int(time.time())
    api.request("POST", "/products", body=product_body(), headers={"Idempotency-Key": "k5"})

    (record,) = boto3.client("dynamodb").scan(TableName=_idempotency_table(template))["Items"]
    assert before + 24 * 3600 <= int(record["expiration"]["N"]) <= int(time.time()) + 24 * 3600
    assert record["status"]["S"] == "COMPLETED"


def test_once_its_record_expired_the_same_key_creates_again(api, products_table, template):
    key = {"Idempotency-Key": "k6"}
    first = api.request("POST", "/products", body=product_body(), headers=key)
    table = _idempotency_table(template)
    (record,) = boto3.client("dynamodb").scan(TableName=table)["Items"]
    # As 24 hours later: the table's TTL may not have deleted it yet, the expiry counts all the same.
    record["expiration"] = {"N": str(int(time.time()) - 1)}
    boto3.client("dynamodb").put_item(TableName=table, Item=record)

    again = api.request("POST", "/products", body=product_body(), headers=key)

    assert again.status == 201
    assert "Idempotent-Replayed" not in again.headers
    assert again.body["id"] != first.body["id"]


@pytest.mark.parametrize("key", ["", " ", "a" * 256, "clé", "new\nline", "\ud800"])
def test_an_idempotency_key_outside_visible_ascii_is_400(api, products_table, key):
    reply = api.request("POST", "/products", body=product_body(), headers={"Idempotency-Key": key})

    assert reply.status == 400
    assert _problems(reply) == {
        "Idempotency-Key": "must be 1 to 255 visible ASCII characters, such as a UUID"
    }
    assert _products_stored(products_table) == 0


# ---------------------------------------------------------------- read


def test_get_product_returns_404_when_missing(api):
    reply = api.request("GET", "/products/8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d")

    assert reply.status == 404
    assert "not found" in reply.body["message"]


def test_list_products_pages_through_every_item_once(api):
    created = {api.create(name=f"Item {i}")["id"] for i in range(5)}

    seen: list[str] = []
    query = {"limit": "2"}
    for _ in range(10):
        reply = api.request("GET", "/products", query=query)
        assert reply.status == 200
        assert len(reply.body["items"]) <= 2
        seen += [p["id"] for p in reply.body["items"]]
        if not reply.body["next_token"]:
            break
        query = {"limit": "2", "next_token": reply.body["next_token"]}

    assert sorted(seen) == sorted(created)


def test_list_products_defaults_to_20_items(api):
    for i in range(21):
        api.create(name=f"Item {i}")

    reply = api.request("GET", "/products")

    assert len(reply.body["items"]) == 20
    assert reply.body["next_token"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"limit": "0"}, "limit"),
        ({"limit": "101"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"next_token": "%%%"}, "next_token"),
        ({"next_token": base64.urlsafe_b64encode(b'{"id": {"S": "x"}}').decode()}, "next_token"),
        ({"next_token": base64.urlsafe_b64encode(b'{"pk": 1}').decode()}, "next_token"),
    ],
)
def test_list_products_rejects_a_bad_limit_or_next_token_with_400(api, query, field):
    reply = api.request("GET", "/products", query=query)

    assert reply.status == 400
    assert reply.body["errors"][0]["field"] == field


# ---------------------------------------------------------------- update


def test_update_product_bumps_the_version_and_keeps_the_creator(api):
    created = api.create()
    body = product_body(name="Kettle II", price="45", version=1, description=None)

    reply = api.request("PUT", f"/products/{created['id']}", body=body, claims=_claims_of("other-client"))

    assert reply.status == 200
    updated = reply.body
    assert updated["version"] == 2
    assert updated["name"] == "Kettle II"
    assert updated["price"] == "45.00"
    assert updated["description"] is None
    assert updated["created_by"] == CLIENT_ID
    assert updated["updated_by"] == "other-client"
    assert updated["created_at"] == created["created_at"]
    assert api.request("GET", f"/products/{created['id']}").body == updated


@pytest.mark.parametrize("version", [1, 3, 2**53 - 1], ids=["stale", "one ahead", "far ahead"])
def test_update_product_at_a_version_other_than_the_current_one_is_409_and_changes_nothing(api, version):
    created = api.create()
    path = f"/products/{created['id']}"
    current = api.request("PUT", path, body=product_body(version=1)).body
    assert current["version"] == 2

    reply = api.request("PUT", path, body=product_body(name="Lost", version=version))

    assert reply.status == 409
    assert reply.body["current_version"] == 2
    assert api.request("GET", path).body == current


def test_each_update_moves_the_version_up_by_exactly_one_and_retires_the_one_before(api):
    created = api.create()
    path = f"/products/{created['id']}"

    for version in range(1, 4):
        updated = api.request("PUT", path, body=product_body(name=f"Kettle {version}", version=version))
        assert (updated.status, updated.body["version"]) == (200, version + 1)
        again = api.request("PUT", path, body=product_body(name="Lost", version=version))
        assert (again.status, again.body["current_version"]) == (409, version + 1)

    assert api.request("GET", path).body == updated.body


def test_update_product_returns_404_when_missing(api):
    reply = api.request("PUT", "/products/8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d", body=product_body(version=1))

    assert reply.status == 404


@pytest.mark.parametrize("version", [0, 1.5, "1", True, None])
def test_update_product_rejects_a_version_that_is_not_a_positive_integer(api, version):
    created = api.create()

    reply = api.request("PUT", f"/products/{created['id']}", body=product_body(version=version))

    assert reply.status == 400
    assert reply.body["errors"][0]["field"] == "version"
    assert api.request("GET", f"/products/{created['id']}").body == created


@pytest.mark.parametrize("version", ["1.0", "1e0", "0.1e1"])
def test_update_product_takes_a_whole_version_written_with_a_fraction_or_exponent(api, version):
    # JSON has one kind of number, and JSON Schema's "integer" is any whole one.
    created = api.create()
    body = json.dumps(product_body(version=0)).replace('"version": 0', f'"version": {version}')

    reply = api.request("PUT", f"/products/{created['id']}", body=body)

    assert reply.status == 200, reply.body
    assert reply.body["version"] == 2


@pytest.mark.parametrize("version", ["1e30", "1e999999999", "1.5e0"])
def test_update_product_refuses_a_version_too_big_or_not_whole(api, version):
    created = api.create()
    body = json.dumps(product_body(version=0)).replace('"version": 0', f'"version": {version}')

    reply = api.request("PUT", f"/products/{created['id']}", body=body)

    assert reply.status == 400
    assert _problems(reply).keys() == {"version"}


def test_update_product_needs_the_version(api):
    created = api.create()

    reply = api.request("PUT", f"/products/{created['id']}", body=product_body(name="Lost"))

    assert reply.status == 400
    assert reply.body["errors"][0]["field"] == "version"
    assert api.request("GET", f"/products/{created['id']}").body == created


# ---------------------------------------------------------------- delete


def test_delete_product_returns_204_and_the_product_is_gone(api):
    created = api.create()

    reply = api.request("DELETE", f"/products/{created['id']}")

    assert reply.status == 204
    assert reply.body is None
    assert api.request("GET", f"/products/{created['id']}").status == 404


def test_delete_product_returns_404_when_missing(api):
    reply = api.request("DELETE", "/products/8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d")

    assert reply.status == 404


# ---------------------------------------------------------------- hostile input: a 4xx, never a 5xx

SOME_ID = "8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d"
DEEPLY_NESTED = "[" * 10_000 + "]" * 10_000
PRODUCT_TEXT = '{"name": "Kettle", "price": "39.90", "currency": "EUR"}'


def _body_route(method: str) -> str:
    return "/products" if method == "POST" else f"/products/{SOME_ID}"


def _problems(reply: Reply) -> dict[str, str]:
    return {e["field"]: e["message"] for e in reply.body["errors"]}


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize(
    "body", [DEEPLY_NESTED, '{"name": ' + DEEPLY_NESTED + "}"], ids=["top level", "in a field"]
)
def test_a_deeply_nested_body_is_400_not_a_recursion_error(api, method, body):
    reply = api.request(method, _body_route(method), body=body)

    assert reply.status == 400
    assert _problems(reply) == {"body": "is nested too deeply"}


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_body_that_is_not_utf8_is_400(api, method):
    def latin1_body(event):
        event["body"] = base64.b64encode('{"name": "Café", "price": 1, "currency": "EUR"}'.encode("latin-1"))
        event["body"] = event["body"].decode()
        event["isBase64Encoded"] = True

    reply = api.request(method, _body_route(method), body=PRODUCT_TEXT, edit=latin1_body)

    assert reply.status == 400
    assert _problems(reply) == {"body": "is not UTF-8 text"}


def test_a_utf8_body_sent_as_base64_is_read(api):
    # API Gateway sends base64 when a binary media type matches; the UTF-8 text inside is what counts.
    def as_base64(event):
        event["body"] = base64.b64encode(event["body"].encode()).decode()
        event["isBase64Encoded"] = True

    reply = api.request("POST", "/products", body=product_body(name="Café"), edit=as_base64)

    assert reply.status == 201
    assert reply.body["name"] == "Café"


@pytest.mark.parametrize(
    "token_json",
    [
        b'{"id": null}',
        b'{"id": [1]}',
        b'{"id": "8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d"}',
        b'{"id": {"S": null}}',
        b'{"id": {"N": "1"}}',
        b'{"id": {"S": "8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d"}, "name": {"S": "x"}}',
        b'{"id": {"S": "8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d\n"}}',
        b'{"id": {"S": "8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d"}}  ',
        b"[1]",
        b"null",
        b"\xff\xfe",
    ],
)
def test_list_products_refuses_a_crafted_next_token_with_400(api, token_json):
    token = base64.urlsafe_b64encode(token_json).decode()

    reply = api.request("GET", "/products", query={"next_token": token})

    assert reply.status == 400
    assert _problems(reply) == {"next_token": "is not a token this API issued"}


@pytest.mark.parametrize("token", ["€", "\ud800", "a" * 5000, "eyJpZCI6IG51bGx9\n"])
def test_list_products_refuses_a_next_token_outside_base64url_with_400(api, token):
    reply = api.request("GET", "/products", query={"next_token": token})

    assert reply.status == 400
    assert _problems(reply) == {"next_token": "is not a token this API issued"}


def test_a_next_token_the_api_issued_still_works(api):
    for i in range(3):
        api.create(name=f"Item {i}")
    first = api.request("GET", "/products", query={"limit": "1"})

    second = api.request("GET", "/products", query={"limit": "1", "next_token": first.body["next_token"]})

    assert second.status == 200
    assert second.body["items"][0]["id"] != first.body["items"][0]["id"]


# Ids Powertools' route pattern matches (so the route's own function runs) and ids it does not (so its
# not-found route runs); as the gateway may pass them: still percent-encoded (AWS), or decoded.
BAD_IDS = [
    *["not-a-uuid", SOME_ID.upper(), SOME_ID[:-1], f"{SOME_ID}0", "1' OR '1'='1"],
    *["%E2%82%AC", "€", "%00", "\x00", f"{SOME_ID}%0A", f"{SOME_ID}\n", "%F0%9F%92%A5", "..", "%2e%2e"],
]


@pytest.mark.parametrize("bad_id", BAD_IDS)
def test_an_id_outside_the_id_format_is_400_on_every_route_that_takes_one(api, products_table, bad_id):
    routes_with_an_id = [(m, r) for m, r in api.routes if "{id}" in r]
    assert routes_with_an_id

    for method, resource in routes_with_an_id:
        path = resource.replace("{id}", bad_id)
        reply = api.request(method, path, body=product_body(version=1))

        assert reply.status == 400, (method, reply.body)
        assert reply.body == {
            "message": "invalid request",
            "errors": [{"field": "id", "message": "must be a product id (a lowercase UUID)"}],
        }, method
    assert _products_stored(products_table) == 0


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize("name", ["a\ud800b", "\udfff", "a\udc00\ud800"])
def test_a_lone_surrogate_is_400_naming_the_field(api, method, name):
    body = json.dumps(product_body(name=name, version=1))  # ensure_ascii: "\ud800" in the JSON text

    reply = api.request(method, _body_route(method), body=body)

    assert reply.status == 400
    assert _problems(reply) == {"name": "must not contain unpaired surrogates"}


def test_a_surrogate_pair_is_a_character_like_any_other(api):
    reply = api.request("POST", "/products", body=json.dumps(product_body(name="Rocket \U0001f680")))

    assert reply.status == 201
    assert reply.body["name"] == "Rocket \U0001f680"


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize(
    "text",
    [
        '{"name": "Kettle", "name": "Teapot", "price": "1", "currency": "EUR", "version": 1}',
        '{"name": "Kettle", "price": "1", "price": "2", "currency": "EUR", "version": 1}',
    ],
)
def test_duplicate_keys_are_400_naming_the_key(api, method, text):
    reply = api.request(method, _body_route(method), body=text)

    assert reply.status == 400
    (field,) = _problems(reply)
    assert field in text
    assert _problems(reply)[field] == "appears more than once"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Ket\x00tle"),
        ("name", "Ket\ntle"),
        ("name", "Kettle\x1b[31m"),
        ("name", "\x7fKettle"),
        ("name", "Ket\x85tle"),
        ("name", "\x0bKettle"),
        ("description", "bell \x07"),
        ("description", "\x00"),
    ],
)
def test_control_characters_are_400_naming_the_field(api, field, value):
    reply = api.request("POST", "/products", body=product_body(**{field: value}))

    assert reply.status == 400
    assert _problems(reply) == {field: "must not contain control characters"}


def test_a_description_may_have_tabs_and_line_breaks(api):
    reply = api.request("POST", "/products", body=product_body(description="1.7 l\n\tsteel\r\n"))

    assert reply.status == 201
    assert reply.body["description"] == "1.7 l\n\tsteel"


def _content_type(value: str | None):
    """An event edit: the Content-Type header replaced by `value`, or removed."""

    def edit(event):
        # Payload 1.0 keeps the name as sent and has multiValueHeaders; 2.0 lower-cases it.
        for headers in (event["headers"], event.get("multiValueHeaders") or {}):
            for name in [n for n in headers if n.lower() == "content-type"]:
                del headers[name]
        if value:
            event["headers"]["content-type"] = value
            if "multiValueHeaders" in event:
                event["multiValueHeaders"]["content-type"] = [value]

    return edit


@pytest.mark.parametrize("method", ["POST", "PUT"])
@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", "json", None]
)
def test_a_body_that_is_not_declared_json_is_415(api, method, content_type):
    body = product_body(version=1)

    reply = api.request(method, _body_route(method), body=body, edit=_content_type(content_type))

    assert reply.status == 415
    assert reply.body == {
        "message": "unsupported media type",
        "errors": [{"field": "Content-Type", "message": "must be application/json"}],
    }


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "Application/JSON"])
def test_json_media_types_in_any_case_and_with_a_charset_are_accepted(api, content_type):
    reply = api.request("POST", "/products", body=product_body(), edit=_content_type(content_type))

    assert reply.status == 201


@pytest.mark.parametrize("version", [2**53, 10**40])
def test_update_product_refuses_a_version_beyond_json_integers(api, version):
    created = api.create()

    reply = api.request("PUT", f"/products/{created['id']}", body=product_body(version=version))

    assert reply.status == 400
    assert "version" in _problems(reply)


# ---------------------------------------------------------------- who may call


def _claims_of(client_id: str) -> dict[str, Any]:
    from tests.conftest import machine_claims

    return machine_claims(["product-api/update_product"], client_id=client_id)


@pytest.mark.parametrize(("method", "path"), [("GET", "/products"), ("POST", "/products")])
def test_a_caller_without_the_routes_scope_is_refused_with_403(api, method, path):
    other_scopes = {s for _, scopes in api.routes.values() for s in scopes} - set(
        api.route_of(method, path)[1]
    )

    reply = api.request(method, path, scopes=sorted(other_scopes), body=product_body())

    assert reply.status == 403
    assert "lacks the scope" in reply.body["message"]


def test_an_id_token_is_refused_by_a_scoped_route(api):
    id_token_claims = {"sub": "u1", "token_use": "id", "aud": "c1", "cognito:username": "ada"}

    reply = api.request("GET", "/products", claims=id_token_claims)

    assert reply.status == 403


def test_every_route_refuses_a_caller_with_no_scope(api):
    for method, resource in api.routes:
        path = resource.replace("{id}", "8f0e1f4e-51d4-4a8f-9d53-8a5b0b1a2c3d")
        reply = api.request(method, path, scopes=[], body=product_body(version=1))
        assert reply.status == 403, (method, resource)


# ---------------------------------------------------------------- failures and headers


def test_an_unexpected_error_is_500_with_the_request_id(api, products_table, lambda_context):
    boto3.client("dynamodb").delete_table(TableName=products_table)

    reply = api.request("GET", "/products")

    assert reply.status == 500
    assert reply.body == {"message": "internal server error", "request_id": lambda_context.aws_request_id}


def test_responses_carry_cors_headers(api):
    reply = api.request("GET", "/products", headers={"Origin": "https://shop.example.com"})

    assert reply.headers["Access-Control-Allow-Origin"] == "*"
    assert reply.headers["Content-Type"] == "application/json"


# ---------------------------------------------------------------- cold start


def test_garbage_collection_is_back_on_once_a_handler_is_built(api):
    # The handler module pauses it for the cold start (product_api/cold_start.py); a handler left
    # without it would leak cycles.
    # As in a fresh process, whatever ran before in this one:
    gc.disable()
    gc.unfreeze()

    assert api.request("GET", "/products").status == 200

    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


# ---------------------------------------------------------------- metrics


def emf_documents(text: str) -> list[dict[str, Any]]:
    """The CloudWatch embedded-metric documents a function printed, one JSON object a line."""
    documents = []
    for line in text.splitlines():
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict) and "_aws" in document:
            documents.append(document)
    return documents


def metric_names(documents: list[dict[str, Any]]) -> set[str]:
    return {
        metric["Name"]
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }


@pytest.fixture
def cold_start():
    """The next invocation is a cold start again, as in a new execution environment."""
    from aws_lambda_powertools.metrics.provider import cold_start as flag

    flag.is_cold_start = True
    yield
    flag.is_cold_start = True


def test_read_route_publishes_the_cold_start_metric_without_a_warning(api, cold_start, capsys):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = api.request("GET", "/products")
        second = api.request("GET", "/products")

    assert (first.status, second.status) == (200, 200)
    assert [str(w.message) for w in caught if "metrics" in str(w.message).lower()] == []
    documents = emf_documents(capsys.readouterr().out)
    assert metric_names(documents) == {"ColdStart"}
    assert len(documents) == 1  # the cold start only: the warm call publishes nothing


def test_write_route_publishes_its_business_metric(api, capsys):
    reply = api.request("POST", "/products", body={"name": "Kettle", "price": "39.90", "currency": "EUR"})

    assert reply.status == 201
    assert "ProductCreated" in metric_names(emf_documents(capsys.readouterr().out))


def test_a_record_stored_before_products_were_kept_as_text_still_replays():
    from product_api.idempotency import STORED, Replayed, _replayed

    stored_as_text = _replayed({STORED: '{"id": "b", "currency": "EUR"}'}, None)
    stored_before = _replayed({"currency": "EUR", "id": "b"}, None)

    assert isinstance(stored_as_text, Replayed)
    assert isinstance(stored_before, Replayed)
    assert list(stored_as_text) == ["id", "currency"]
    assert stored_as_text == stored_before
