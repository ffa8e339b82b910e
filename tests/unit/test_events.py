"""events/: the committed sample events are what events/generate.py writes from the template, and
each one, run through its function's handler, gives what events/README.md documents: the status of
an API event, the scopes the pre token generation trigger adds and suppresses."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from samcli.local.lambdafn.env_vars import EnvironmentVariables

from events import generate
from sam_local_cloud.cloudformation.template import translate
from tests.harness import ROOT

EVENTS_DIR = ROOT / "events"
README = EVENTS_DIR / "README.md"
# Files in events/ that are not events: --env-vars for sam local invoke, and the seeded product.
NOT_EVENTS = {"env.json", "seed_item.json"}

JAVA_DATE = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) [A-Z][a-z]{2} \d{2} \d{2}:\d{2}:\d{2} UTC \d{4}$")


@dataclass(frozen=True)
class DocumentedEvent:
    file: str
    function: str
    status: int


def documented_events() -> list[DocumentedEvent]:
    """The rows of the table in events/README.md: file | function | what it is | expected status."""
    rows = []
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[\w.-]+\.json`", cells[0]):
            continue
        status = re.search(r"\b[1-5]\d\d\b", cells[3])
        assert status, f"events/README.md gives no status for {cells[0]}"
        rows.append(DocumentedEvent(cells[0].strip("`"), cells[1].strip("`"), int(status.group())))
    return rows


@dataclass(frozen=True)
class DocumentedTrigger:
    file: str
    function: str
    added: list[str]
    suppressed: list[str]


def documented_triggers() -> list[DocumentedTrigger]:
    """The rows of the trigger table: file | function | what it is | scopes added | scopes suppressed."""
    rows = []
    for line in README.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 5 or not re.fullmatch(r"`[\w.-]+\.json`", cells[0]):
            continue
        added, suppressed = (sorted(re.findall(r"`([^`]+)`", cell)) for cell in cells[3:])
        rows.append(DocumentedTrigger(cells[0].strip("`"), cells[1].strip("`"), added, suppressed))
    return rows


DOCUMENTED = documented_events()
TRIGGERS = documented_triggers()
GENERATED = generate.files()
EVENT_FUNCTIONS = {name: function for name, (function, _) in generate.events(translate()).items()}


def load(name: str) -> Any:
    return json.loads((EVENTS_DIR / name).read_text())


def response_headers(response: dict[str, Any]) -> dict[str, str]:
    headers = {k.lower(): v for k, v in (response.get("headers") or {}).items()}
    for name, values in (response.get("multiValueHeaders") or {}).items():
        headers[name.lower()] = values[-1]
    return headers


# ---------------------------------------------------------------- the files


def test_readme_table_lists_every_event_file_once():
    files = sorted(p.name for p in EVENTS_DIR.glob("*.json") if p.name not in NOT_EVENTS)
    documented = [row.file for row in DOCUMENTED] + [row.file for row in TRIGGERS]
    assert sorted(documented) == files
    assert len(set(documented)) == len(documented)


def test_events_dir_holds_only_files_the_generator_writes():
    assert sorted(p.name for p in EVENTS_DIR.glob("*.json")) == sorted(GENERATED)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_file_is_what_the_generator_writes(name):
    path = EVENTS_DIR / name
    assert path.exists(), f"run: .venv/bin/python -m events.generate ({name} is missing)"
    assert path.read_text() == GENERATED[name], f"run: .venv/bin/python -m events.generate ({name} differs)"


@pytest.mark.parametrize("row", [*DOCUMENTED, *TRIGGERS], ids=lambda r: r.file)
def test_readme_names_the_function_whose_route_the_event_calls(row):
    assert row.function == EVENT_FUNCTIONS[row.file]


def test_the_trigger_table_documents_both_kinds_of_sign_in():
    sources = {load(row.file)["triggerSource"] for row in TRIGGERS}
    assert sources == {"TokenGeneration_Authentication", "TokenGeneration_HostedAuth"}


def is_http_api_event(event: dict[str, Any]) -> bool:
    return event.get("version") == "2.0"


def test_some_events_come_from_the_http_api():
    assert any(is_http_api_event(load(row.file)) for row in DOCUMENTED)


@pytest.mark.parametrize("row", DOCUMENTED, ids=lambda r: r.file)
def test_event_carries_the_claims_of_its_token_in_the_authorizer_shape(row):
    event = load(row.file)
    authorizer = event["requestContext"]["authorizer"]
    claims = authorizer["jwt"]["claims"] if is_http_api_event(event) else authorizer["claims"]

    assert all(isinstance(value, str) for value in claims.values())
    assert claims["iss"] == generate.ISSUER
    if is_http_api_event(event):  # the JWT authorizer: epoch seconds; scopes listed on scoped routes only
        assert claims["exp"].isdigit()
        assert claims["iat"].isdigit()
        routes = generate.routes_of(translate())
        (route,) = [r for r in routes if f"{r.method} {r.resource}" == event["routeKey"]]
        expected = claims.get("scope", "").split() if route.scopes else None
        assert authorizer["jwt"]["scopes"] == expected
        assert "cognito:groups" not in claims or re.fullmatch(r"\[[^\]]*\]", claims["cognito:groups"])
    else:
        assert JAVA_DATE.match(claims["exp"])
        assert JAVA_DATE.match(claims["iat"])
    assert claims["auth_time"].isdigit()
    if claims["token_use"] == "id":  # a person's ID token: the client is the audience, no scope
        assert claims["cognito:username"] == claims["sub"]
        assert claims["aud"]
        assert claims["email"]
        assert claims["cognito:groups"]
        assert "scope" not in claims
        assert "client_id" not in claims
        return
    assert claims["token_use"] == "access"
    assert claims["version"] == "2"
    assert claims["scope"].split()
    assert "aud" not in claims
    if "username" in claims:  # a person's access token
        assert claims["username"] == claims["sub"]
        assert claims["cognito:groups"]
    else:  # a client_credentials token: its subject is the client
        assert claims["sub"] == claims["client_id"]
        assert "cognito:groups" not in claims


# ---------------------------------------------------------------- through the handlers


@pytest.fixture
def seeded_product(products_table: str) -> str:
    boto3.client("dynamodb").put_item(TableName=products_table, Item=load("seed_item.json"))
    return generate.PRODUCT_ID


@pytest.mark.parametrize("row", DOCUMENTED, ids=lambda r: r.file)
def test_event_file_gives_the_documented_status(row, seeded_product, call_function):
    response = call_function(row.function, load(row.file))

    assert response["statusCode"] == row.status, response.get("body")
    # What the gateway needs from a proxy integration, or the caller gets a 502.
    assert isinstance(response.get("body"), str | None)
    assert isinstance(response.get("isBase64Encoded", False), bool)
    if row.status == 201:  # the path the caller used: the REST stage's, or the HTTP API's $default root
        event = load(row.file)
        path = event["rawPath"] if is_http_api_event(event) else event["requestContext"]["path"]
        assert path == ("/products" if is_http_api_event(event) else "/v1/products")
        assert response_headers(response)["location"].startswith(f"{path}/")


INVALID = [row for row in DOCUMENTED if row.status == 400]


@pytest.mark.parametrize("row", INVALID, ids=lambda r: r.file)
def test_a_bad_request_event_gets_the_bad_fields_the_readme_names_and_has_no_others(row, call_function):
    documented = next(line for line in README.read_text().splitlines() if f"`{row.file}`" in line)
    (listed,) = re.findall(r"names the bad fields?: ((?:`\w+`(?:, | and )?)+)", documented)
    named = set(listed.split("`")[1::2])
    event = load(row.file)
    body = json.loads(event["body"])
    bad = {name for name in body if body[name] != generate.CREATE_BODY.get(name)}

    response = call_function(row.function, event)

    assert {error["field"] for error in json.loads(response["body"])["errors"]} == named
    assert bad == named  # the event shows no bad field that the answer leaves out


@pytest.mark.parametrize("row", TRIGGERS, ids=lambda r: r.file)
def test_trigger_event_gets_the_documented_scopes(row, call_function):
    event = load(row.file)

    result = call_function(row.function, event)

    access = result["response"]["claimsAndScopeOverrideDetails"]["accessTokenGeneration"]
    assert sorted(access["scopesToAdd"]) == row.added
    assert sorted(access["scopesToSuppress"]) == row.suppressed
    assert result["request"] == event["request"]  # Cognito's event comes back with only a response


# ---------------------------------------------------------------- env.json


@pytest.mark.parametrize("function", sorted(translate().of_type("AWS::Lambda::Function")))
def test_env_json_points_the_function_at_the_local_table_as_sam_local_invoke_applies_it(function):
    # sam local invoke overrides only the variables the template declares for the function; any
    # other key in --env-vars is dropped without a word. Resolve it with sam-cli's own class.
    overrides = load("env.json")[function]
    declared = translate().resources[function]["Properties"]["Environment"]["Variables"]

    resolved = EnvironmentVariables(variables=declared, override_values=overrides).resolve()

    dropped = sorted(name for name in overrides if resolved.get(name) != overrides[name])
    assert not dropped, f"sam local invoke ignores {dropped}: declare them in template.yaml (Globals, empty)"
    assert overrides["TABLE_NAME"] == "products"
    assert overrides["AWS_ENDPOINT_URL_DYNAMODB"].startswith("http://host.docker.internal:")


def test_seed_item_is_the_product_the_events_name():
    item = load("seed_item.json")
    assert item["id"] == {"S": generate.PRODUCT_ID}
    assert load("get_product.json")["pathParameters"] == {"id": generate.PRODUCT_ID}
    assert json.loads(load("update_product.json")["body"])["version"] == int(item["version"]["N"])


def test_generator_check_mode_reports_nothing_to_rewrite(capsys):
    assert generate.main(["--check"]) == 0
    assert "0 file(s) differ" in capsys.readouterr().out
