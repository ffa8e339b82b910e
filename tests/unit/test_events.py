"""events/: the committed sample events are what events/generate.py writes from the template, and
each one, run through its function's handler, gives the status that events/README.md documents."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from samcli.local.lambdafn.env_vars import EnvironmentVariables

from events import generate
from local.template import ROOT, translate

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


DOCUMENTED = documented_events()
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
    documented = [row.file for row in DOCUMENTED]
    assert sorted(documented) == files
    assert len(set(documented)) == len(documented)


def test_events_dir_holds_only_files_the_generator_writes():
    assert sorted(p.name for p in EVENTS_DIR.glob("*.json")) == sorted(GENERATED)


@pytest.mark.parametrize("name", sorted(GENERATED))
def test_committed_file_is_what_the_generator_writes(name):
    path = EVENTS_DIR / name
    assert path.exists(), f"run: .venv/bin/python -m events.generate ({name} is missing)"
    assert path.read_text() == GENERATED[name], f"run: .venv/bin/python -m events.generate ({name} differs)"


@pytest.mark.parametrize("row", DOCUMENTED, ids=lambda r: r.file)
def test_readme_names_the_function_whose_route_the_event_calls(row):
    assert row.function == EVENT_FUNCTIONS[row.file]


@pytest.mark.parametrize("row", DOCUMENTED, ids=lambda r: r.file)
def test_event_carries_client_credentials_claims_in_the_authorizer_shape(row):
    claims = load(row.file)["requestContext"]["authorizer"]["claims"]

    assert all(isinstance(value, str) for value in claims.values())
    assert claims["token_use"] == "access"
    assert claims["sub"] == claims["client_id"]
    assert claims["iss"] == generate.ISSUER
    assert claims["version"] == "2"
    assert JAVA_DATE.match(claims["exp"])
    assert JAVA_DATE.match(claims["iat"])
    assert claims["auth_time"].isdigit()
    assert claims["scope"].split()
    assert "username" not in claims
    assert "aud" not in claims


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
    if row.status == 201:
        assert response_headers(response)["location"].startswith("/v1/products/")


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
