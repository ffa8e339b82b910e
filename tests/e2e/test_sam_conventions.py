"""SAM applications written the way public ones are, served by the local cloud as `sam local` would
serve them (docs/local-cloud.md, "SAM CLI's conventions"; docs/aws-behaviour.md, "Request
validators"), each started with the harness and called over HTTP:

- tests/fixtures/sam_apps/conventions: no CodeUri, a path handler, a layer with `ContentUri: ./`,
  InlineCode, an OpenAPI body pulled in with AWS::Include, with request validators;
- the same application after `sam build`, served from `.aws-sam/build/template.yaml`;
- tests/fixtures/sam_apps/rest_resources: a REST API built from Resource/Method/Authorizer resources;
- tests/fixtures/sam_apps/nodejs: runtimes the local cloud does not run, refused at start-up by name.

Routes, scopes and validators are read from the templates through the spec the local cloud reads.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from authlib.integrations.requests_client import OAuth2Session

from sam_local_cloud.cloudformation.spec import ApiSpec, Route, active, read_spec
from sam_local_cloud.cloudformation.template import translate
from tests.e2e.support import DEPLOYED, FIXTURES
from tests.harness import ROOT, LocalCloud, LocalCloudDidNotStart, machine_clients, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="uses the local cloud's fixture templates")

APPS = FIXTURES / "sam_apps"
CONVENTIONS = APPS / "conventions" / "template.yaml"
RESOURCES = APPS / "rest_resources" / "template.yaml"
NODEJS = APPS / "nodejs" / "template.yaml"


def api_of(template: Path) -> ApiSpec:
    api = read_spec(active(translate(path=template))).api
    assert api is not None
    return api


def route(api: ApiSpec, method: str, resource: str) -> Route:
    return next(r for r in api.routes if r.method == method and r.resource == resource)


def token(cloud: LocalCloud, scopes: tuple[str, ...], *, lacking: bool = False) -> str:
    """A client_credentials token of a client allowed `scopes` (or, `lacking`, one that is not)."""
    clients = machine_clients(cloud.outputs)
    name = next(n for n, c in clients.items() if (set(scopes) <= set(c["AllowedScopes"])) != lacking)
    client = clients[name]
    with OAuth2Session(client["ClientId"], client["ClientSecret"]) as session:
        return session.fetch_token(cloud.outputs["TokenUrl"], grant_type="client_credentials")["access_token"]


def satisfying(route: Route) -> tuple[dict[str, str], dict[str, str]]:
    """Headers and query strings that the route's validator requires, each given a value."""
    assert route.validation is not None
    return (
        dict.fromkeys(route.validation.required_headers, "x"),
        dict.fromkeys(route.validation.required_query, "x"),
    )


# ---------------------------------------------------------------- SAM CLI's defaults


@pytest.fixture(scope="module")
def conventions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(tmp_path_factory.mktemp("conventions"), "--template", str(CONVENTIONS))
    yield cloud
    cloud.stop()


def test_a_function_without_code_uri_runs_its_path_handler_with_its_layer(conventions: LocalCloud) -> None:
    get = route(api_of(CONVENTIONS), "GET", "/items")
    headers, query = satisfying(get)
    response = requests.get(
        f"{conventions.outputs['ApiUrl']}/items",
        headers={**headers, "Authorization": token(conventions, get.scopes)},
        params=query,
        timeout=10,
    )
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["greeting"] == "from the layer"  # python/shared.py, importable only as /opt/python
    assert answer["module"] == "src.api.items"  # Lambda's runtime reads the path as a module
    assert Path(answer["file"]) == CONVENTIONS.parent / "src" / "api" / "items.py"


def test_inline_code_is_served_as_index_py(conventions: LocalCloud) -> None:
    response = requests.get(f"{conventions.outputs['ApiUrl']}/inline", timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["inline"] is True
    assert Path(response.json()["file"]).name == "index.py"


def test_the_banner_of_a_project_without_local_settings(conventions: LocalCloud) -> None:
    """No local-cloud.toml beside the template: the banner has no name of its own to give, and no
    empty heading for notes it does not have."""
    banner = conventions.wait_for_console("ready in")
    assert re.search(r"^local cloud ready in ", banner, re.MULTILINE), banner
    lines = banner.splitlines()
    for at, line in enumerate(lines[:-1]):
        if line.endswith("(declared in the template):"):
            assert lines[at + 1].startswith("  - "), banner
    # The pool it serves, named by the pool itself (the project has no Issuer output): keys that answer.
    issuer = re.search(
        r"^  Issuer +(https://cognito-idp\.[\w-]+\.amazonaws\.com/(\S+))  \(AWS's; the keys at (\S+)\)$",
        banner,
        re.M,
    )
    assert issuer, banner
    assert issuer[3] == f"{conventions.outputs['AwsEndpointUrl']}/{issuer[2]}/.well-known/jwks.json"
    keys = requests.get(issuer[3], timeout=10)
    assert keys.status_code == 200
    assert keys.json()["keys"][0]["kid"]


@pytest.mark.parametrize("left_out", ["header", "query"])
def test_a_missing_required_parameter_is_api_gateways_400(conventions: LocalCloud, left_out: str) -> None:
    get = route(api_of(CONVENTIONS), "GET", "/items")
    headers, query = satisfying(get)
    missing = next(iter(headers if left_out == "header" else query))
    if left_out == "header":
        del headers[missing]
    else:
        query[missing] = "  "  # blank counts as missing
    response = requests.get(
        f"{conventions.outputs['ApiUrl']}/items",
        headers={**headers, "Authorization": token(conventions, get.scopes)},
        params=query,
        timeout=10,
    )
    assert response.status_code == 400
    assert response.json() == {"message": f"Missing required request parameters: [{missing}]"}
    assert response.headers["x-amzn-ErrorType"] == "BadRequestException"


def test_a_body_against_the_model_is_checked_after_the_authorizer(conventions: LocalCloud) -> None:
    put = route(api_of(CONVENTIONS), "PUT", "/items")
    assert put.validation is not None
    schema = put.validation.body_schemas["application/json"]
    required = schema["definitions"]["Item"]["required"]
    url = f"{conventions.outputs['ApiUrl']}/items"
    writer = token(conventions, put.scopes)

    invalid = requests.put(url, json={"price": 1}, headers={"Authorization": writer}, timeout=10)
    assert invalid.status_code == 400
    # The template's BAD_REQUEST_BODY response shows $context.error.validationErrorString.
    assert invalid.json()["message"] == "Invalid request body"
    assert all(name in invalid.json()["validation"] for name in required)

    not_json = requests.put(
        url, data="{", headers={"Authorization": writer, "Content-Type": "application/json"}, timeout=10
    )
    assert not_json.status_code == 400
    assert not_json.json()["message"] == "Invalid request body"

    unauthorized = requests.put(url, json={"price": 1}, timeout=10)
    assert unauthorized.status_code == 401  # the authorizer first: no token, no validation

    valid = requests.put(
        url, json=dict.fromkeys(required, "x"), headers={"Authorization": writer}, timeout=10
    )
    assert valid.status_code == 200, valid.text


# ---------------------------------------------------------------- sam build's output


def test_sam_build_output_is_served_from_the_built_folders(tmp_path: Path) -> None:
    project = tmp_path / "app"
    shutil.copytree(CONVENTIONS.parent, project)
    sam = Path(sys.executable).with_name("sam")
    subprocess.run([str(sam), "build"], cwd=project, check=True, capture_output=True, timeout=120)  # noqa: S603
    built = project / ".aws-sam" / "build" / "template.yaml"
    cloud = start_local_cloud(tmp_path, "--template", str(built))
    try:
        get = route(api_of(built), "GET", "/items")
        headers, query = satisfying(get)
        response = requests.get(
            f"{cloud.outputs['ApiUrl']}/items",
            headers={**headers, "Authorization": token(cloud, get.scopes)},
            params=query,
            timeout=10,
        )
    finally:
        cloud.stop()
    assert response.status_code == 200, response.text
    # The code sam build copied, not the project's own folder.
    assert Path(response.json()["file"]).is_relative_to(built.parent / "ItemsFunction")


# ---------------------------------------------------------------- a REST API from resources


@pytest.fixture(scope="module")
def resources(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    cloud = start_local_cloud(tmp_path_factory.mktemp("rest-resources"), "--template", str(RESOURCES))
    yield cloud
    cloud.stop()


def test_methods_from_resources_answer_with_their_authorizer_and_scopes(resources: LocalCloud) -> None:
    api = api_of(RESOURCES)
    url = resources.outputs["ApiUrl"]
    get = route(api, "GET", "/orders/{id}")
    assert get.scopes
    assert get.authorizer
    allowed = requests.get(
        f"{url}/orders/42", headers={"Authorization": token(resources, get.scopes)}, timeout=10
    )
    assert allowed.status_code == 200, allowed.text
    assert allowed.json()["resource"] == "/orders/{id}"
    assert allowed.json()["pathParameters"] == {"id": "42"}
    assert set(get.scopes) <= set(allowed.json()["scope"].split())

    post = route(api, "POST", "/orders")
    lacking = token(resources, post.scopes, lacking=True)
    assert requests.post(f"{url}/orders", headers={"Authorization": lacking}, timeout=10).status_code == 401
    assert requests.get(f"{url}/orders/42", timeout=10).status_code == 401


def test_an_open_method_and_one_that_needs_an_api_key(resources: LocalCloud) -> None:
    api = api_of(RESOURCES)
    url = resources.outputs["ApiUrl"]
    assert route(api, "GET", "/ping").authorizer is None
    assert requests.get(f"{url}/ping", timeout=10).status_code == 200
    assert route(api, "GET", "/report").api_key
    refused = requests.get(f"{url}/report", timeout=10)
    assert (refused.status_code, refused.json()) == (403, {"message": "Forbidden"})
    keyed = requests.get(f"{url}/report", headers={"x-api-key": resources.outputs["ApiKey"]}, timeout=10)
    assert keyed.status_code == 200
    assert keyed.json()["apiKeyId"]


def test_the_validator_of_a_method_from_resources(resources: LocalCloud) -> None:
    post = route(api_of(RESOURCES), "POST", "/orders")
    headers, _ = satisfying(post)
    url = f"{resources.outputs['ApiUrl']}/orders"
    writer = {"Authorization": token(resources, post.scopes)}
    missing = requests.post(url, json={"item": "tea", "quantity": 1}, headers=writer, timeout=10)
    assert missing.status_code == 400
    assert missing.json() == {"message": f"Missing required request parameters: [{', '.join(headers)}]"}
    invalid = requests.post(
        url, json={"item": "tea", "quantity": 0}, headers={**writer, **headers}, timeout=10
    )
    assert (invalid.status_code, invalid.json()) == (400, {"message": "Invalid request body"})
    valid = requests.post(url, json={"item": "tea", "quantity": 2}, headers={**writer, **headers}, timeout=10)
    assert valid.status_code == 200, valid.text


# ---------------------------------------------------------------- refusals


def test_runtimes_the_local_cloud_cannot_run_are_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(LocalCloudDidNotStart) as refused:
        start_local_cloud(tmp_path, "--template", str(NODEJS))
    console = str(refused.value)
    assert "NodeFunction: runtime nodejs20.x is not run by the local cloud" in console
    assert "ImageFunction: a container image function is not run by the local cloud" in console
    assert "PythonFunction" not in console
    assert "Traceback" not in console


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("Resources: {F: {Type: AWS::Serverless::Function, Properties: {Runtime: python3.13}}}\n"
         "Transform: AWS::Serverless-2016-10-31\n", "the SAM transform refused it"),
        ("Resources: [\n", "not a YAML or JSON template"),
        ("Transform: AWS::Serverless-2016-10-31\nResources:\n  Api:\n    Type: AWS::Serverless::Api\n"
         "    Properties:\n      StageName: x\n      DefinitionBody:\n        Fn::Transform:\n"
         "          Name: AWS::Include\n          Parameters: {Location: ./missing.yaml}\n",
         "AWS::Include"),
    ],
)  # fmt: skip
def test_a_template_the_cloud_cannot_serve_is_one_named_refusal(
    tmp_path: Path, template: str, expected: str
) -> None:
    path = tmp_path / "template.yaml"
    path.write_text(template)
    done = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "sam_local_cloud", "--port", "0", "--template", str(path),
         "--outputs", str(tmp_path / "o.json")],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode != 0
    assert expected in done.stderr
    assert "Traceback" not in done.stderr


def test_an_output_of_a_resource_not_made_locally_is_left_out_and_named(tmp_path: Path) -> None:
    """tests/fixtures/sam_apps/startup/firehose_output.yaml: an output reads a resource the local cloud
    does not make. The cloud starts; the output is not in its outputs (no value made up), and the
    banner names it with why."""
    template = FIXTURES / "sam_apps" / "startup" / "firehose_output.yaml"
    (name,) = translate(path=template).outputs
    cloud = start_local_cloud(tmp_path, "--template", str(template))
    try:
        banner = cloud.wait_for_console("ready in")
        assert name not in cloud.outputs
        assert re.search(
            rf"^  - output {name}: .*no local value, so it is left out of the outputs$", banner, re.M
        )
    finally:
        cloud.stop()
