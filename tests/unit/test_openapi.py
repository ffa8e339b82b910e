"""docs/openapi.json: valid OpenAPI 3.1, and exactly what scripts/openapi.py writes from code and template."""

from __future__ import annotations

import json
import re

import pytest
from openapi_spec_validator import validate

from sam_local_cloud.cloudformation.spec import proxy_routes
from sam_local_cloud.cloudformation.template import translate
from scripts import openapi

COMMITTED = json.loads(openapi.OUTPUT.read_text())


def test_the_committed_document_is_what_the_generator_writes():
    # On failure: `make openapi`, then commit docs/openapi.json.
    assert openapi.OUTPUT.read_text() == openapi.render(openapi.document())


def test_the_document_is_valid_openapi_3_1():
    validate(COMMITTED)
    assert COMMITTED["openapi"].startswith("3.1")


def test_every_route_is_documented_with_its_scopes_and_every_status_has_a_body_or_none():
    scheme = openapi.SECURITY_SCHEME
    for route in proxy_routes(translate()):
        operation = COMMITTED["paths"][route.resource][route.method.lower()]
        expected = {scheme: list(route.scopes)} if route.scopes else {openapi.ID_TOKEN_SCHEME: []}
        assert operation["security"] == [expected]
        for status, response in operation["responses"].items():
            assert ("content" in response) == (status != "204"), (route, status)
        assert set(route.scopes) <= set(
            COMMITTED["components"]["securitySchemes"][scheme]["flows"]["clientCredentials"]["scopes"]
        )


def test_a_route_the_generator_does_not_describe_stops_it(monkeypatch):
    monkeypatch.delitem(openapi.OPERATIONS, ("DELETE", "/products/{id}"))

    with pytest.raises(SystemExit, match=re.escape("DELETE /products/{id}")):
        openapi.document()


def test_check_mode_reports_a_drifted_file(tmp_path, monkeypatch, capsys):
    drifted = tmp_path / "openapi.json"
    drifted.write_text(openapi.OUTPUT.read_text().replace("List products", "List all products"))
    monkeypatch.setattr(openapi, "OUTPUT", drifted)

    assert openapi.main(["--check"]) == 1
    assert "make openapi" in capsys.readouterr().out


def test_each_api_of_the_stack_has_a_server():
    # A client of either API finds its base URL: one server per API URL output of the template.
    outputs = {name for name in translate().outputs if name.endswith("ApiUrl")}
    named = [
        {output for output in outputs if re.search(rf"\b{output}\b", server["description"])}
        for server in COMMITTED["servers"]
    ]

    assert outputs == {"ApiUrl", "HttpApiUrl"}
    assert sorted(map(sorted, named)) == [["ApiUrl"], ["HttpApiUrl"]]


def test_each_operation_says_its_scopes_in_its_description():
    # Shown with the operation on a documentation page, not only behind its lock icon.
    for route in proxy_routes(translate()):
        description = COMMITTED["paths"][route.resource][route.method.lower()]["description"]
        for scope in route.scopes:
            assert f"`{scope}`" in description, (route, description)
        if not route.scopes:
            assert "ID token" in description


def _schemas(node, where="#"):
    """Every schema object under `node` (dicts with a type), with where it is; not the parts of one with
    examples (anyOf branches), whose examples stand for all of them."""
    if isinstance(node, dict):
        if "type" in node:
            yield where, node
        if node.get("examples"):
            return
        for key, value in node.items():
            yield from _schemas(value, f"{where}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _schemas(value, f"{where}/{index}")


def test_every_patterned_or_dated_value_has_a_fixed_example():
    # Without one, a documentation page makes up a sample from the pattern: a random currency "ZFF".
    unexampled = [
        where
        for where, schema in _schemas(COMMITTED["components"]["schemas"])
        if ("pattern" in schema or "format" in schema) and not schema.get("examples")
    ]
    assert unexampled == []


def test_maintainers_notes_stay_out_of_what_pages_show():
    shown = json.dumps({key: value for key, value in COMMITTED.items() if not key.startswith("x-")})
    assert "do not edit" not in shown.lower()
    assert "scripts/openapi.py" in COMMITTED["x-generated-by"]


def test_people_sign_in_with_the_code_flow_and_get_an_id_token_for_routes_without_scopes():
    schemes = COMMITTED["components"]["securitySchemes"]
    code_flow = schemes[openapi.SECURITY_SCHEME]["flows"]["authorizationCode"]

    assert code_flow["authorizationUrl"].endswith("/oauth2/authorize")
    assert code_flow["tokenUrl"] == schemes[openapi.SECURITY_SCHEME]["flows"]["clientCredentials"]["tokenUrl"]
    assert "openid" in code_flow["scopes"]
    assert schemes[openapi.ID_TOKEN_SCHEME][openapi.TOKEN_NAME] == "id_token"
