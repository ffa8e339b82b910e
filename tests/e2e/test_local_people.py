"""What only the local cloud shows about people: its outputs and banner, the trigger's logs in its
console, its discovery document, and the local default of AllowUserPasswordAuth."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sam_local_cloud.cloudformation.template import TEMPLATE_PATH
from sam_local_cloud.project import project_of
from tests.e2e.sign_in import sign_in
from tests.e2e.support import DEPLOYED, Stack
from tests.harness import LocalCloud, start_local_cloud

pytestmark = pytest.mark.skipif(DEPLOYED, reason="about the local cloud itself")


def test_outputs_name_the_user_client_the_local_sign_in_url_and_the_users(stack: Stack):
    assert stack.cloud is not None
    outputs = stack.cloud.outputs
    base = outputs["AwsEndpointUrl"]
    sign_in_url = urlsplit(outputs["SignInUrl"])

    assert outputs["UserPoolDomainUrl"] == base
    assert f"{sign_in_url.scheme}://{sign_in_url.netloc}{sign_in_url.path}" == f"{base}/oauth2/authorize"
    assert parse_qs(sign_in_url.query) == {
        "client_id": [outputs["ProductUserClientId"]],
        "response_type": ["code"],
        "redirect_uri": outputs["Clients"]["ProductUserClient"]["CallbackURLs"][:1],
    }
    assert outputs["Users"] == [user.output() for user in project_of(TEMPLATE_PATH).users]
    assert outputs["Clients"]["ProductUserClient"]["AllowedOAuthFlows"] == ["code"]


def test_the_sign_in_url_leads_to_the_sign_in_page(stack: Stack):
    assert stack.cloud is not None

    page = requests.get(stack.cloud.outputs["SignInUrl"], timeout=10)

    assert page.status_code == 200
    assert page.url.startswith(f"{stack.domain_url}/login?")
    assert 'name="password"' in page.text


def test_the_discovery_document_names_the_hosted_endpoints(stack: Stack):
    document = requests.get(
        stack.issuer.replace("https://cognito-idp.us-east-1.amazonaws.com", stack.domain_url)
        + "/.well-known/openid-configuration",
        timeout=10,
    ).json()

    assert document["authorization_endpoint"] == f"{stack.domain_url}/oauth2/authorize"
    assert document["userinfo_endpoint"] == f"{stack.domain_url}/oauth2/userInfo"
    assert {"authorization_code", "refresh_token", "client_credentials"} <= set(
        document["grant_types_supported"]
    )


def test_the_triggers_logs_are_in_the_console_after_a_sign_in(stack: Stack):
    assert stack.cloud is not None
    sign_in(stack, stack.people[0])

    log = stack.cloud.wait_for_console(
        "PreTokenGeneration TokenGeneration_Authentication PreTokenGenerationFunction"
    )

    assert '"message":"product scopes decided"' in log
    assert "POST / InitiateAuth 200" in log


@pytest.mark.skipif(shutil.which("curl") is None, reason="the banner's commands use curl")
def test_the_banners_person_signs_in_and_is_refused_a_scope_their_groups_do_not_grant(stack: Stack):
    assert stack.cloud is not None
    log = stack.cloud.wait_for_console("signs in through the sign-in API")
    block = log.split("signs in through the sign-in API", 1)[1].splitlines()[1:6]
    commands = [line for line in block if line and not line.startswith("#")]

    ran = subprocess.run(  # noqa: S603 - the banner's own copy-paste commands
        ["bash", "-euo", "pipefail", "-c", "\n".join(commands)],  # noqa: S607
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert ran.returncode == 0, ran.stderr
    listing, refusal = ran.stdout.split("HTTP/1.1", 1)
    assert "items" in json.loads(listing)
    assert refusal.startswith(" 401")
    assert '{"message":"Unauthorized"}' in refusal


@pytest.fixture(scope="module")
def strict_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCloud]:
    """A cloud told not to take passwords through the sign-in API, with people of its own."""
    workdir = tmp_path_factory.mktemp("strict")
    users = workdir / "users.json"
    users.write_text(
        json.dumps([{"Username": "ada@example.com", "Password": "Own-Password-123", "Groups": []}])
    )
    cloud = start_local_cloud(
        workdir,
        "--parameter-overrides",
        "AllowUserPasswordAuth=false",
        "--users",
        str(users),
        "--no-throttle",
    )
    yield cloud
    cloud.stop()


def test_the_banner_says_password_sign_in_is_the_local_default(stack: Stack):
    assert stack.cloud is not None

    banner = stack.cloud.wait_for_console("ready in")
    assert "AllowUserPasswordAuth=true  (the local cloud's default" in banner


def test_told_otherwise_the_user_client_refuses_passwords_and_users_come_from_the_given_file(strict_cloud):
    outputs = strict_cloud.outputs
    cognito = strict_cloud.aws("cognito-idp")

    with pytest.raises(
        cognito.exceptions.InvalidParameterException, match="USER_PASSWORD_AUTH flow not enabled"
    ):
        cognito.initiate_auth(
            ClientId=outputs["ProductUserClientId"],
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": "ada@example.com", "PASSWORD": "Own-Password-123"},
        )
    assert outputs["Users"] == [{"Username": "ada@example.com", "Password": "Own-Password-123", "Groups": []}]
    assert "AllowUserPasswordAuth=true" not in strict_cloud.wait_for_console("ready in")
