"""The local cloud's sign-in for people, on a pool made in moto whose pre token generation trigger
misbehaves on request (tests/fixtures/functions/token_trigger.py): how the trigger's answer is applied,
how its failures fail the sign-in, and the sign-in API's answers (docs/aws-behaviour.md §5, §6)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sam_local_cloud.api_page import REDIRECT_PATH
from sam_local_cloud.cloudformation.provision import check_callback_urls
from sam_local_cloud.cloudformation.resolve import Resolver
from sam_local_cloud.cloudformation.template import TEMPLATE_PATH, load_source, translate
from sam_local_cloud.cognito import people, sign_in_api
from sam_local_cloud.cognito.people import read_users
from sam_local_cloud.lambda_.functions import function_configs
from sam_local_cloud.lambda_.runner import Runner
from sam_local_cloud.project import project_of
from tests.harness import ROOT
from tests.unit.people_support import REGION, PeopleServer, cognito, local_aws, query_of

FIXTURE = ROOT / "tests" / "fixtures" / "people.yaml"
PASSWORD = "Fixture-Pass-1"
CALLBACK = "http://localhost/cb"
USERS = ("plain", "raises", "slow", "garbage", "bad-shape", "claims", "drops-groups")


@pytest.fixture(scope="module")
def runner() -> Iterator[Runner]:
    template = translate(path=FIXTURE)
    resolver = Resolver(
        parameters=template.parameters,
        conditions=template.conditions,
        refs={name: name for name in template.resources},
    )
    runner = Runner(function_configs(template, resolver), region=REGION, endpoint_url=None)
    yield runner
    runner.stop()


@pytest.fixture(scope="module")
def server(runner: Runner) -> Iterator[PeopleServer]:
    with local_aws():
        idp = cognito()
        pool_id = idp.create_user_pool(
            PoolName="people",
            LambdaConfig={
                "PreTokenGenerationConfig": {
                    "LambdaArn": runner.configs["TokenTriggerFunction"].arn,
                    "LambdaVersion": "V2_0",
                }
            },
        )["UserPool"]["Id"]
        idp.create_resource_server(
            UserPoolId=pool_id,
            Identifier="fixture",
            Name="Fixture",
            Scopes=[{"ScopeName": s, "ScopeDescription": s} for s in ("a", "b")],
        )
        idp.create_group(UserPoolId=pool_id, GroupName="members")
        for name in USERS:
            add_person(pool_id, name)
        yield PeopleServer.over(pool_id, runner)


def add_person(pool_id: str, name: str, groups: tuple[str, ...] = ("members",)) -> None:
    idp = cognito()
    idp.admin_create_user(
        UserPoolId=pool_id,
        Username=name,
        MessageAction="SUPPRESS",
        UserAttributes=[
            {"Name": "email", "Value": f"{name}@example.com"},
            {"Name": "email_verified", "Value": "true"},
        ],
    )
    idp.admin_set_user_password(UserPoolId=pool_id, Username=name, Password=PASSWORD, Permanent=True)
    for group in groups:
        idp.admin_add_user_to_group(UserPoolId=pool_id, Username=name, GroupName=group)


def new_client(pool_id: str, **settings: Any) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "ClientName": "people",
        "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        "PreventUserExistenceErrors": "ENABLED",
        "AllowedOAuthFlowsUserPoolClient": True,
        "AllowedOAuthFlows": ["code"],
        "AllowedOAuthScopes": ["openid", "email", "fixture/a", "fixture/b"],
        "CallbackURLs": [CALLBACK],
        "EnableTokenRevocation": True,
    }
    return cognito().create_user_pool_client(UserPoolId=pool_id, **{**defaults, **settings})["UserPoolClient"]


@pytest.fixture(scope="module")
def client(server: PeopleServer) -> dict[str, Any]:
    return new_client(server.pool_id)  # the server fixture keeps moto on for the whole module


def sign_in(server: PeopleServer, client: dict[str, Any], name: str, password: str = PASSWORD):
    return server.call(
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client["ClientId"],
            "AuthParameters": {"USERNAME": name, "PASSWORD": password},
        },
    )


def clock_moved_by(seconds: float) -> SimpleNamespace:
    """The time module as sam_local_cloud/cognito/people.py and sign_in_api.py use it, but later."""
    return SimpleNamespace(time=lambda: time.time() + seconds, perf_counter=time.perf_counter)


def tokens_of(server: PeopleServer, client: dict[str, Any], name: str) -> tuple[dict, dict, str]:
    status, body = sign_in(server, client, name)
    assert status == 200, body
    result = body["AuthenticationResult"]
    return server.claims(result["AccessToken"]), server.claims(result["IdToken"]), result["RefreshToken"]


# ---------------------------------------------------------------- the trigger's answer, as Cognito applies it


def test_the_trigger_gets_cognitos_v2_event_and_passing_groups_back_keeps_them(server, client):
    access, id_token, _ = tokens_of(server, client, "plain")

    assert id_token["trigger_source"] == "TokenGeneration_Authentication"
    assert id_token["trigger_version"] == "2"
    assert access["cognito:groups"] == id_token["cognito:groups"] == ["members"]
    assert access["scope"] == "aws.cognito.signin.user.admin"  # the sign-in API asks for nothing else
    assert id_token["email"] == "plain@example.com"
    assert id_token["email_verified"] is True


def test_added_and_suppressed_claims_and_scopes_suppression_wins_and_protected_claims_stay(server, client):
    access, id_token, _ = tokens_of(server, client, "claims")
    person = server.tokens._directory.find("claims")

    for token in (access, id_token):
        assert token["tier"] == "gold"
        assert "gone" not in token  # added and suppressed: suppressed
        assert token["sub"] == person.sub  # protected: neither overridden nor suppressed
        assert token["iss"].startswith("https://cognito-idp.")
        assert {"token_use", "exp"} <= token.keys()
        assert token["cognito:groups"] == ["overridden"]
    assert "email" not in id_token
    assert access["scope"] == "fixture/a"  # b added and suppressed; the sign-in scope suppressed


def test_an_answer_without_group_override_details_drops_the_groups(server, client):
    access, id_token, _ = tokens_of(server, client, "drops-groups")

    assert "cognito:groups" not in access
    assert "cognito:groups" not in id_token
    assert access["scope"] == "aws.cognito.signin.user.admin fixture/a"


# Cognito's own claims, which no trigger can change or suppress (docs/aws-behaviour.md §6).
COGNITOS_CLAIMS = (
    "sub", "iss", "aud", "exp", "iat", "jti", "auth_time", "token_use", "origin_jti", "event_id", "username",
    "cognito:username", "client_id", "version", "scope", "cognito:groups", "nonce", "at_hash",
)  # fmt: skip


@pytest.mark.parametrize("claim", COGNITOS_CLAIMS)
def test_a_trigger_can_neither_add_change_nor_suppress_a_claim_of_cognitos(server, client, claim):
    access, id_token, _ = tokens_of(server, client, "plain")

    for token in (access, id_token):
        changed = people.overridden(token, {claim: "the trigger's"}, set())
        suppressed = people.overridden(token, {}, {claim})

        assert changed == suppressed == token


@contextmanager
def trigger_config(server: PeopleServer, config: dict[str, Any]) -> Iterator[None]:
    """The pool's LambdaConfig replaced for the block, then put back."""
    idp = cognito()
    before = server.tokens._directory.lambda_config()
    idp.update_user_pool(UserPoolId=server.pool_id, LambdaConfig=config)
    try:
        yield
    finally:
        idp.update_user_pool(UserPoolId=server.pool_id, LambdaConfig=before)


def test_a_trigger_that_is_not_a_function_of_the_template_fails_the_sign_in(server, client):
    elsewhere = f"arn:aws:lambda:{REGION}:123456789012:function:not-in-the-template"
    config = {"PreTokenGenerationConfig": {"LambdaArn": elsewhere, "LambdaVersion": "V2_0"}}
    with trigger_config(server, config):
        status, body = sign_in(server, client, "plain")

    assert (status, body["__type"]) == (400, "UnexpectedLambdaException")


def test_a_v3_trigger_cannot_change_a_client_credentials_tokens_own_claims(server):
    machine = new_client(
        server.pool_id,
        ClientName="machine",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["fixture/a", "fixture/b"],
        CallbackURLs=[],
    )
    arn = server.tokens._directory.lambda_config()["PreTokenGenerationConfig"]["LambdaArn"]
    with trigger_config(server, {"PreTokenGenerationConfig": {"LambdaArn": arn, "LambdaVersion": "V3_0"}}):
        response = server.browser().post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            auth=(machine["ClientId"], machine["ClientSecret"]),
        )

    token = server.claims(response.get_json()["access_token"])
    assert token["machine"] == "yes"  # the trigger ran, and tried (tests/fixtures/functions/token_trigger.py)
    assert (token["sub"], token["client_id"], token["token_use"]) == (
        machine["ClientId"],
        machine["ClientId"],
        "access",
    )


def test_cognito_waits_five_seconds_for_the_trigger_whatever_its_timeout(monkeypatch):
    waited: list[float | None] = []

    class Unanswered(Future):
        def result(self, timeout: float | None = None) -> Any:
            waited.append(timeout)
            raise FutureTimeout

    class SilentRunner:
        def submit(self, function: str, event: dict[str, Any]) -> Future:
            return Unanswered()

    triggers = people.Triggers(directory=None, runner=SilentRunner())  # type: ignore[arg-type]
    event = {"triggerSource": people.SIGN_IN_API}

    with pytest.raises(people.TriggerFailed) as failed:
        triggers.run(people.PreTokenTrigger("TokenTriggerFunction", "2"), event)

    assert failed.value.kind == "UnexpectedLambdaException"
    assert waited == [5]


@pytest.mark.parametrize(
    ("name", "kind", "message"),
    [
        ("raises", "UserLambdaValidationException", "PreTokenGeneration failed with error not today."),
        ("garbage", "InvalidLambdaResponseException", "Unrecognizable lambda output"),
        ("bad-shape", "InvalidLambdaResponseException", "scopesToAdd must be a list of strings"),
    ],
)
def test_a_failing_trigger_fails_the_sign_in_with_cognitos_error(server, client, name, kind, message):
    status, body = sign_in(server, client, name)

    assert status == 400
    assert body["__type"] == kind
    assert message in body["message"]


def test_a_trigger_that_outlives_cognitos_wait_fails_the_sign_in(server, client, monkeypatch):
    monkeypatch.setattr(people, "TRIGGER_TIMEOUT_SECONDS", 0.5)  # the fixture sleeps 2 s

    status, body = sign_in(server, client, "slow")

    assert (status, body["__type"]) == (400, "UnexpectedLambdaException")
    assert "timeout" in body["message"].lower()


def test_version_1_changes_the_id_token_only(server, client):
    idp = cognito()
    arn = server.tokens._directory.lambda_config()["PreTokenGenerationConfig"]["LambdaArn"]
    idp.update_user_pool(UserPoolId=server.pool_id, LambdaConfig={"PreTokenGeneration": arn})
    try:
        access, id_token, _ = tokens_of(server, client, "plain")
    finally:
        idp.update_user_pool(
            UserPoolId=server.pool_id,
            LambdaConfig={"PreTokenGenerationConfig": {"LambdaArn": arn, "LambdaVersion": "V2_0"}},
        )

    assert id_token["trigger_version"] == "1"
    assert "trigger_version" not in access
    assert access["cognito:groups"] == ["members"]


def test_client_credentials_run_the_trigger_only_with_v3(server):
    machine = new_client(
        server.pool_id,
        ClientName="machine",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_REFRESH_TOKEN_AUTH"],
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["fixture/a", "fixture/b"],
        CallbackURLs=[],
    )
    idp = cognito()
    arn = server.tokens._directory.lambda_config()["PreTokenGenerationConfig"]["LambdaArn"]

    def request(**form: str) -> Any:
        return server.browser().post(
            "/oauth2/token",
            data={"grant_type": "client_credentials", **form},
            auth=(machine["ClientId"], machine["ClientSecret"]),
        )

    def token() -> dict[str, Any]:
        response = request()
        assert response.status_code == 200, response.get_data(as_text=True)
        return server.claims(response.get_json()["access_token"])

    v2 = token()
    idp.update_user_pool(
        UserPoolId=server.pool_id,
        LambdaConfig={"PreTokenGenerationConfig": {"LambdaArn": arn, "LambdaVersion": "V3_0"}},
    )
    try:
        v3 = token()
        refused = request(scope="fixture/b")  # the fixture's trigger raises for it
        _, id_token, _ = tokens_of(server, new_client(server.pool_id), "plain")
    finally:
        idp.update_user_pool(
            UserPoolId=server.pool_id,
            LambdaConfig={"PreTokenGenerationConfig": {"LambdaArn": arn, "LambdaVersion": "V2_0"}},
        )

    assert (v2["scope"], "machine" in v2) == ("fixture/a fixture/b", False)
    assert (v3["scope"], v3["machine"]) == ("fixture/a", "yes")
    assert (refused.status_code, refused.get_json()) == (
        400,
        {
            "error": "invalid_request",
            "error_description": "PreTokenGeneration failed with error no machine may ask for b alone.",
        },
    )
    assert id_token["trigger_version"] == "3"


def test_a_failing_trigger_on_the_hosted_sign_in_is_redirected_as_invalid_request(server, client):
    browser = server.browser()
    query = f"client_id={client['ClientId']}&response_type=code&redirect_uri={CALLBACK}&state=s1&scope=openid"
    page = browser.get(f"/login?{query}")
    csrf = page.get_data(as_text=True).split('name="_csrf" value="')[1].split('"')[0]

    answer = browser.post(f"/login?{query}", data={"_csrf": csrf, "username": "raises", "password": PASSWORD})

    assert answer.status_code == 302
    assert answer.location.startswith(CALLBACK + "?")
    assert query_of(answer.location) == {
        "error": "invalid_request",
        "error_description": "PreTokenGeneration failed with error not today.",
        "state": "s1",
    }


# ---------------------------------------------------------------- the sign-in API's answers


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(server, client):
    wrong = sign_in(server, client, "plain", "Wrong-Pass-123")
    unknown = sign_in(server, client, "nobody")

    assert (
        wrong
        == unknown
        == (400, {"__type": "NotAuthorizedException", "message": "Incorrect username or password."})
    )


def test_without_prevent_user_existence_errors_an_unknown_user_is_user_not_found(server):
    legacy = new_client(server.pool_id, PreventUserExistenceErrors="LEGACY")

    assert sign_in(server, legacy, "nobody") == (
        400,
        {"__type": "UserNotFoundException", "message": "User does not exist."},
    )


def test_errors_carry_cognitos_error_type_header(server, client):
    response = server.browser().post(
        "/",
        data=json.dumps(
            {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": client["ClientId"], "AuthParameters": {}}
        ),
        headers={"X-Amz-Target": "AWSCognitoIdentityProviderService.InitiateAuth"},
    )

    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"].startswith("InvalidParameterException")
    assert response.headers["Content-Type"] == "application/x-amz-json-1.1"
    assert response.get_json(force=True)["message"] == "Missing required parameter USERNAME"


def test_a_disabled_user_cannot_sign_in_from_the_next_sign_in(server, client):
    add_person(server.pool_id, "leaving")
    assert sign_in(server, client, "leaving")[0] == 200

    cognito().admin_disable_user(UserPoolId=server.pool_id, Username="leaving")

    assert sign_in(server, client, "leaving") == (
        400,
        {"__type": "NotAuthorizedException", "message": "User is disabled."},
    )


@pytest.mark.parametrize(
    ("flows", "flow", "message"),
    [
        (
            ["ALLOW_REFRESH_TOKEN_AUTH"],
            "USER_PASSWORD_AUTH",
            "USER_PASSWORD_AUTH flow not enabled for this client",
        ),
        (["ALLOW_USER_SRP_AUTH"], "USER_SRP_AUTH", "USER_SRP_AUTH is not served by the local cloud"),
        (["ALLOW_USER_PASSWORD_AUTH"], "PASSWORD", "Member must satisfy enum value set"),
        (
            ["ALLOW_USER_PASSWORD_AUTH"],
            "REFRESH_TOKEN_AUTH",
            "REFRESH_TOKEN_AUTH flow not enabled for this client",
        ),
        (
            ["ALLOW_ADMIN_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
            "ADMIN_USER_PASSWORD_AUTH",
            "Initiate Auth method not supported",
        ),
    ],
)
def test_the_client_must_allow_the_flow(server, flows, flow, message):
    narrow = new_client(server.pool_id, ExplicitAuthFlows=flows)

    status, body = server.call(
        "InitiateAuth",
        {
            "AuthFlow": flow,
            "ClientId": narrow["ClientId"],
            "AuthParameters": {"USERNAME": "plain", "PASSWORD": PASSWORD},
        },
    )

    assert (status, body["__type"]) == (400, "InvalidParameterException")
    assert message in body["message"]


def test_an_unknown_client_is_resource_not_found(server):
    status, body = sign_in(server, {"ClientId": "nosuchclient"}, "plain")

    assert (status, body) == (
        400,
        {"__type": "ResourceNotFoundException", "message": "User pool client nosuchclient does not exist."},
    )


def test_a_client_with_a_secret_needs_the_secret_hash(server):
    secret_client = new_client(server.pool_id, GenerateSecret=True)
    digest = hmac.new(
        secret_client["ClientSecret"].encode(), ("plain" + secret_client["ClientId"]).encode(), hashlib.sha256
    ).digest()
    parameters = {"USERNAME": "plain", "PASSWORD": PASSWORD}

    def call(extra: dict[str, str]) -> tuple[int, dict[str, Any]]:
        body = {"AuthFlow": "USER_PASSWORD_AUTH", "ClientId": secret_client["ClientId"]}
        return server.call("InitiateAuth", {**body, "AuthParameters": {**parameters, **extra}})

    without = call({})
    with_hash = call({"SECRET_HASH": base64.b64encode(digest).decode()})

    assert (without[0], without[1]["__type"]) == (400, "NotAuthorizedException")
    assert "secret hash" in without[1]["message"]
    assert with_hash[0] == 200


def test_a_temporary_password_gets_the_new_password_challenge_then_tokens(server, client):
    idp = cognito()
    idp.admin_create_user(
        UserPoolId=server.pool_id,
        Username="newcomer",
        TemporaryPassword="Temporary-Pass-1",
        MessageAction="SUPPRESS",
    )
    status, challenge = sign_in(server, client, "newcomer", "Temporary-Pass-1")
    assert (status, challenge["ChallengeName"]) == (200, "NEW_PASSWORD_REQUIRED")

    def respond(password: str, session: str) -> tuple[int, dict[str, Any]]:
        return server.call(
            "RespondToAuthChallenge",
            {
                "ClientId": client["ClientId"],
                "ChallengeName": "NEW_PASSWORD_REQUIRED",
                "Session": session,
                "ChallengeResponses": {"USERNAME": "newcomer", "NEW_PASSWORD": password},
            },
        )

    weak = respond("short", challenge["Session"])
    status, done = respond("Permanent-Pass-1", challenge["Session"])  # the session survives a weak one
    reused = respond("Permanent-Pass-2", challenge["Session"])

    assert (weak[0], weak[1]["__type"]) == (400, "InvalidPasswordException")
    assert status == 200
    id_token = server.claims(done["AuthenticationResult"]["IdToken"])
    assert id_token["trigger_source"] == "TokenGeneration_NewPasswordChallenge"
    assert sign_in(server, client, "newcomer", "Permanent-Pass-1")[0] == 200
    assert reused[1]["__type"] == "NotAuthorizedException"


def test_admin_initiate_auth_names_the_pool_and_another_is_not_found(server, client):
    status, body = server.call(
        "AdminInitiateAuth",
        {
            "UserPoolId": f"{REGION}_Other0000",
            "AuthFlow": "ADMIN_USER_PASSWORD_AUTH",
            "ClientId": client["ClientId"],
            "AuthParameters": {"USERNAME": "plain", "PASSWORD": PASSWORD},
        },
    )

    assert (status, body["__type"]) == (400, "ResourceNotFoundException")


@pytest.mark.parametrize("status", ["UNCONFIRMED", "RESET_REQUIRED"])
def test_a_person_not_confirmed_or_asked_to_reset_their_password_cannot_sign_in(server, client, status):
    name = f"status-{status.lower()}"
    if status == "UNCONFIRMED":
        cognito().sign_up(ClientId=client["ClientId"], Username=name, Password=PASSWORD)
    else:
        add_person(server.pool_id, name)
        cognito().admin_reset_user_password(UserPoolId=server.pool_id, Username=name)

    answer_status, body = sign_in(server, client, name)

    expected = {
        "UNCONFIRMED": "UserNotConfirmedException",
        "RESET_REQUIRED": "PasswordResetRequiredException",
    }
    assert (answer_status, body["__type"]) == (400, expected[status])


def new_password_challenge(server: PeopleServer, client: dict[str, Any], name: str, **parameters: str) -> str:
    """Creates `name` with a temporary password and signs in: the challenge's Session."""
    cognito().admin_create_user(
        UserPoolId=server.pool_id,
        Username=name,
        TemporaryPassword="Temporary-Pass-1",
        MessageAction="SUPPRESS",
    )
    status, body = server.call(
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client["ClientId"],
            "AuthParameters": {"USERNAME": name, "PASSWORD": "Temporary-Pass-1", **parameters},
        },
    )
    assert (status, body.get("ChallengeName")) == (200, "NEW_PASSWORD_REQUIRED"), body
    return body["Session"]


def respond_with_new_password(
    server: PeopleServer, client: dict[str, Any], name: str, session: str, **responses: str
) -> tuple[int, dict[str, Any]]:
    return server.call(
        "RespondToAuthChallenge",
        {
            "ClientId": client["ClientId"],
            "ChallengeName": "NEW_PASSWORD_REQUIRED",
            "Session": session,
            "ChallengeResponses": {"USERNAME": name, "NEW_PASSWORD": "Permanent-Pass-1", **responses},
        },
    )


def test_a_challenge_is_answered_only_through_the_client_that_asked(server, client):
    session = new_password_challenge(server, client, "challenged-elsewhere")
    other = new_client(server.pool_id)

    status, body = respond_with_new_password(server, other, "challenged-elsewhere", session)

    assert (status, body["__type"]) == (400, "NotAuthorizedException")


@pytest.mark.parametrize(
    ("seconds_later", "status"), [(3 * 60 - 5, 200), (3 * 60 + 1, 400)], ids=["within", "after"]
)
def test_a_challenge_session_lasts_three_minutes(server, client, monkeypatch, seconds_later, status):
    name = f"challenged-{seconds_later}"
    session = new_password_challenge(server, client, name)
    monkeypatch.setattr(sign_in_api, "time", clock_moved_by(seconds_later))

    answer_status, _ = respond_with_new_password(server, client, name, session)

    assert answer_status == status


def test_a_client_with_a_secret_answers_the_challenge_with_the_secret_hash(server):
    secret_client = new_client(server.pool_id, GenerateSecret=True)
    name = "challenged-with-secret"
    session = new_password_challenge(
        server, secret_client, name, SECRET_HASH=secret_hash(secret_client, name)
    )

    without = respond_with_new_password(server, secret_client, name, session)
    with_hash = respond_with_new_password(
        server, secret_client, name, session, SECRET_HASH=secret_hash(secret_client, name)
    )

    assert (without[0], without[1]["__type"]) == (400, "NotAuthorizedException")
    assert with_hash[0] == 200


def secret_hash(client: dict[str, Any], username: str) -> str:
    digest = hmac.new(
        client["ClientSecret"].encode(), (username + client["ClientId"]).encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


# ---------------------------------------------------------------- refresh and revocation


def refresh(server: PeopleServer, client: dict[str, Any], token: str) -> tuple[int, dict[str, Any]]:
    return server.call(
        "InitiateAuth",
        {
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "ClientId": client["ClientId"],
            "AuthParameters": {"REFRESH_TOKEN": token},
        },
    )


def test_a_refresh_reads_the_groups_again_and_keeps_the_sign_ins_identity(server, client):
    add_person(server.pool_id, "mover")
    first, _, refresh_token = tokens_of(server, client, "mover")
    cognito().admin_remove_user_from_group(UserPoolId=server.pool_id, Username="mover", GroupName="members")

    status, body = refresh(server, client, refresh_token)

    assert status == 200
    assert "RefreshToken" not in body["AuthenticationResult"]
    access = server.claims(body["AuthenticationResult"]["AccessToken"])
    id_token = server.claims(body["AuthenticationResult"]["IdToken"])
    assert first["cognito:groups"] == ["members"]
    assert "cognito:groups" not in access
    assert id_token["trigger_source"] == "TokenGeneration_RefreshTokens"
    assert (access["origin_jti"], access["auth_time"]) == (first["origin_jti"], first["auth_time"])
    assert access["jti"] != first["jti"]


def test_refresh_tokens_are_opaque_and_bound_to_their_client(server, client):
    _, _, refresh_token = tokens_of(server, client, "plain")
    other = new_client(server.pool_id)

    assert refresh_token.count(".") == 4  # shaped like Cognito's encrypted token, not a readable JWT
    assert refresh(server, other, refresh_token) == (
        400,
        {"__type": "NotAuthorizedException", "message": "Invalid Refresh Token"},
    )


def test_a_revoked_refresh_token_stops_working(server, client):
    access, _, refresh_token = tokens_of(server, client, "plain")
    access_token = sign_in(server, client, "plain")[1]["AuthenticationResult"]["AccessToken"]

    not_refresh = server.call("RevokeToken", {"ClientId": client["ClientId"], "Token": access_token})
    revoked = server.call("RevokeToken", {"ClientId": client["ClientId"], "Token": refresh_token})

    assert not_refresh[1]["__type"] == "UnsupportedTokenTypeException"
    assert revoked == (200, {})
    assert refresh(server, client, refresh_token) == (
        400,
        {"__type": "NotAuthorizedException", "message": "Refresh Token has been revoked"},
    )
    assert server.tokens.is_revoked(access["origin_jti"])


def test_a_disabled_user_cannot_refresh(server, client):
    add_person(server.pool_id, "refreshes-then-leaves")
    _, _, refresh_token = tokens_of(server, client, "refreshes-then-leaves")
    cognito().admin_disable_user(UserPoolId=server.pool_id, Username="refreshes-then-leaves")

    assert refresh(server, client, refresh_token) == (
        400,
        {"__type": "NotAuthorizedException", "message": "User is disabled."},
    )


def test_a_deleted_users_refresh_token_stops_working(server, client):
    add_person(server.pool_id, "refreshes-then-deleted")
    _, _, refresh_token = tokens_of(server, client, "refreshes-then-deleted")
    cognito().admin_delete_user(UserPoolId=server.pool_id, Username="refreshes-then-deleted")

    status, body = refresh(server, client, refresh_token)

    assert (status, body["__type"]) == (400, "NotAuthorizedException")


@pytest.mark.parametrize(
    ("validity", "lifetime"),
    [({"RefreshTokenValidity": 1, "TokenValidityUnits": {"RefreshToken": "days"}}, 86400), ({}, 30 * 86400)],
    ids=["one day", "Cognito's default: 30 days"],
)
@pytest.mark.parametrize(("margin", "status"), [(-60, 200), (1, 400)], ids=["within", "after"])
def test_a_refresh_token_lives_as_long_as_the_clients_refresh_token_validity(
    server, monkeypatch, validity, lifetime, margin, status
):
    refreshing = new_client(server.pool_id, **validity)
    _, _, refresh_token = tokens_of(server, refreshing, "plain")
    monkeypatch.setattr(people, "time", clock_moved_by(lifetime + margin))

    answer_status, body = refresh(server, refreshing, refresh_token)

    assert answer_status == status, body
    if status == 400:
        assert body == {"__type": "NotAuthorizedException", "message": "Refresh Token has expired"}


def test_another_client_cannot_revoke_a_refresh_token(server, client):
    _, _, refresh_token = tokens_of(server, client, "plain")

    server.call("RevokeToken", {"ClientId": new_client(server.pool_id)["ClientId"], "Token": refresh_token})

    assert refresh(server, client, refresh_token)[0] == 200


def signed_in_with_secret(server: PeopleServer, client: dict[str, Any], name: str) -> dict[str, Any]:
    """The AuthenticationResult of `name`'s sign-in through a client with a secret."""
    status, body = server.call(
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client["ClientId"],
            "AuthParameters": {
                "USERNAME": name,
                "PASSWORD": PASSWORD,
                "SECRET_HASH": secret_hash(client, name),
            },
        },
    )
    assert status == 200, body
    return body["AuthenticationResult"]


def test_a_client_with_a_secret_refreshes_with_the_secret_hash(server):
    secret_client = new_client(server.pool_id, GenerateSecret=True)
    refresh_token = signed_in_with_secret(server, secret_client, "plain")["RefreshToken"]

    def refresh_with(parameters: dict[str, str]) -> tuple[int, dict[str, Any]]:
        return server.call(
            "InitiateAuth",
            {
                "AuthFlow": "REFRESH_TOKEN_AUTH",
                "ClientId": secret_client["ClientId"],
                "AuthParameters": {"REFRESH_TOKEN": refresh_token, **parameters},
            },
        )

    without = refresh_with({})
    wrong = refresh_with({"SECRET_HASH": secret_hash(secret_client, "someone-else")})
    with_hash = refresh_with({"SECRET_HASH": secret_hash(secret_client, "plain")})

    for refused in (without, wrong):
        assert (refused[0], refused[1]["__type"]) == (400, "NotAuthorizedException")
        assert "secret hash" in refused[1]["message"]
    assert with_hash[0] == 200, with_hash


def test_revoke_token_needs_the_secret_of_a_client_with_one(server):
    secret_client = new_client(server.pool_id, GenerateSecret=True)
    result = signed_in_with_secret(server, secret_client, "plain")
    refresh_token = result["RefreshToken"]

    without = server.call("RevokeToken", {"ClientId": secret_client["ClientId"], "Token": refresh_token})

    assert (without[0], without[1]["__type"]) == (400, "NotAuthorizedException")
    assert not server.tokens.is_revoked(server.claims(result["AccessToken"])["origin_jti"])


def test_revoke_token_is_unsupported_when_the_client_does_not_enable_it(server):
    no_revocation = new_client(server.pool_id, EnableTokenRevocation=False)
    _, _, refresh_token = tokens_of(server, no_revocation, "plain")

    status, body = server.call("RevokeToken", {"ClientId": no_revocation["ClientId"], "Token": refresh_token})

    assert (status, body["__type"]) == (400, "UnsupportedOperationException")
    assert refresh(server, no_revocation, refresh_token)[0] == 200


# ---------------------------------------------------------------- users from a file


def test_the_default_users_cover_every_group_of_the_template_and_one_is_in_several(template):
    groups = {r["Properties"]["GroupName"] for r in template.of_type("AWS::Cognito::UserPoolGroup").values()}
    users = project_of(TEMPLATE_PATH).users

    assert {u.groups[0] for u in users if len(u.groups) == 1} == groups  # one person per group
    assert any(len(u.groups) > 1 for u in users)
    assert len({u.username for u in users}) == len(users)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        ("{}", "expected a JSON list"),
        ('[{"Username": "a"}]', "needs Username and Password"),
        ('[{"Username": "a", "Password": "b", "Group": ["x"]}]', "unknown keys ['Group']"),
        ('[{"Username": "a", "Password": "b", "Groups": "x"}]', "Groups must be a list"),
        ("not json", "cannot read it"),
    ],
)
def test_a_bad_users_file_stops_with_a_clear_message(tmp_path: Path, content: str, says: str):
    path = tmp_path / "users.json"
    path.write_text(content)

    with pytest.raises(SystemExit, match=says.replace("[", r"\[").replace("]", r"\]")):
        read_users(path)


def test_the_local_cloud_turns_password_sign_in_on_unless_told_otherwise():
    declared = load_source(TEMPLATE_PATH)["Parameters"]
    project = project_of(TEMPLATE_PATH)
    assert project.defaults_for(declared, {})["AllowUserPasswordAuth"] == "true"
    assert "AllowUserPasswordAuth" not in project.defaults_for(declared, {"AllowUserPasswordAuth": "false"})
    assert project.defaults_for(load_source(FIXTURE).get("Parameters") or {}, {}) == {}  # not declared
    assert project_of(FIXTURE) == project_of(FIXTURE).__class__()  # no settings file beside it: none


def test_the_console_names_the_projects_own_way_to_start_clean():
    """This project starts clean with make; a project with no settings is told the command's option."""
    assert project_of(TEMPLATE_PATH).fresh_command == "make local-clean"
    assert project_of(FIXTURE).fresh_command == "sam-local-cloud --fresh"


def test_the_local_cloud_lets_people_sign_in_on_its_api_page_at_its_own_port():
    declared = load_source(TEMPLATE_PATH)["Parameters"]
    project = project_of(TEMPLATE_PATH)

    callbacks = project.defaults_for(declared, {}, port=3917)["ApiPageCallbackUrls"]

    # localhost: Cognito takes plain http callback URLs there only.
    assert callbacks == f"http://localhost:3917{REDIRECT_PATH}"
    assert "ApiPageCallbackUrls" not in project.defaults_for(declared, {"ApiPageCallbackUrls": ""}, port=1)


@pytest.mark.parametrize(
    ("url", "taken"),
    [
        ("http://localhost:3000/docs/oauth2-redirect.html", True),
        ("https://shop.example.com/callback", True),
        ("https://127.0.0.1:8443/callback", True),
        ("myapp://signed-in", True),  # an app's own scheme
        ("http://127.0.0.1:3000/docs/oauth2-redirect.html", False),
        ("http://shop.example.com/callback", False),
    ],
)
def test_the_local_cloud_takes_plain_http_callback_urls_on_localhost_only_as_cognito(url: str, taken: bool):
    client = {"CallbackURLs": ["https://shop.example.com/first", url]}
    if taken:
        check_callback_urls("UserClient", client)
    else:
        with pytest.raises(SystemExit, match=re.escape(f"UserClient: CallbackURLs has {url}")):
            check_callback_urls("UserClient", client)
