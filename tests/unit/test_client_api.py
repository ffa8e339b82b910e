"""sam_local_cloud/cognito/client_api.py on a user pool whose trigger misbehaves on request
(tests/fixtures/functions/token_trigger.py): GetClientToken's token is /oauth2/token's, through the
pool's trigger as AWS runs it for machines (V3_0 only), and a rotating client's refresh at
/oauth2/token rotates too (docs/aws-behaviour.md §4.2, §6). The e2e suite covers the rest
(tests/e2e/test_client_tokens.py).
"""

from __future__ import annotations

from typing import Any

from tests.unit import test_people
from tests.unit.people_support import PeopleServer, cognito
from tests.unit.test_people import new_client, sign_in, trigger_config

# The people tests' fixtures: their pool, with the misbehaving trigger, and its Lambda runner.
runner = test_people.runner
server = test_people.server

UNIQUE = {"jti", "iat", "exp", "auth_time"}  # differ between any two tokens


def _machine(server: PeopleServer) -> dict[str, Any]:
    return new_client(
        server.pool_id,
        ClientName="machine-api",
        GenerateSecret=True,
        ExplicitAuthFlows=["ALLOW_CLIENT_TOKEN_AUTH"],
        AllowedOAuthFlows=["client_credentials"],
        AllowedOAuthScopes=["fixture/a", "fixture/b"],
        CallbackURLs=[],
    )


def _both_tokens(server: PeopleServer, machine: dict[str, Any], **api: Any) -> tuple[dict, dict]:
    endpoint = server.browser().post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(machine["ClientId"], machine["ClientSecret"]),
    )
    status, body = server.call(
        "GetClientToken", {"ClientId": machine["ClientId"], "Secret": machine["ClientSecret"], **api}
    )
    assert endpoint.status_code == 200, endpoint.get_data(as_text=True)
    assert status == 200, body
    token = body["ClientAuthenticationResult"]["AccessToken"]
    return server.claims(endpoint.get_json()["access_token"]), server.claims(token)


def _without(claims: dict[str, Any], names: set[str]) -> dict[str, Any]:
    return {k: v for k, v in claims.items() if k not in names}


def test_get_client_token_is_the_token_endpoints_token_through_the_v3_trigger_only(server):
    machine = _machine(server)
    arn = server.tokens._directory.lambda_config()["PreTokenGenerationConfig"]["LambdaArn"]

    v2_endpoint, v2_api = _both_tokens(server, machine)
    with trigger_config(server, {"PreTokenGenerationConfig": {"LambdaArn": arn, "LambdaVersion": "V3_0"}}):
        v3_endpoint, v3_api = _both_tokens(server, machine, ClientMetadata={"tag": "from-the-api"})
        status, refused = server.call(
            "GetClientToken",
            {"ClientId": machine["ClientId"], "Secret": machine["ClientSecret"], "Scopes": ["fixture/b"]},
        )

    assert _without(v2_api, UNIQUE) == _without(v2_endpoint, UNIQUE)
    assert "machine" not in v2_api  # V2_0: Cognito runs no trigger for machines
    assert _without(v3_api, UNIQUE | {"tag"}) == _without(v3_endpoint, UNIQUE | {"tag"})
    assert (v3_api["machine"], v3_api["scope"], v3_api["sub"]) == ("yes", "fixture/a", machine["ClientId"])
    assert (v3_api["tag"], v3_endpoint["tag"]) == ("from-the-api", "none")  # ClientMetadata reached it
    assert (status, refused["__type"]) == (400, "UserLambdaValidationException")
    assert refused["message"] == "PreTokenGeneration failed with error no machine may ask for b alone."


def test_a_rotating_clients_refresh_at_the_token_endpoint_returns_a_new_refresh_token(server):
    rotating = new_client(
        server.pool_id,
        ClientName="rotating",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH"],  # no ALLOW_REFRESH_TOKEN_AUTH, as AWS's console asks
        RefreshTokenRotation={"Feature": "ENABLED", "RetryGracePeriodSeconds": 0},
    )
    status, body = sign_in(server, rotating, "plain")
    assert status == 200, body
    old = body["AuthenticationResult"]["RefreshToken"]

    def refresh(token: str) -> Any:
        return server.browser().post(
            "/oauth2/token",
            data={"grant_type": "refresh_token", "client_id": rotating["ClientId"], "refresh_token": token},
        )

    first, reused = refresh(old), refresh(old)
    new = first.get_json()["refresh_token"]
    initiate_status, initiate = server.call(
        "InitiateAuth",
        {
            "AuthFlow": "REFRESH_TOKEN_AUTH",
            "ClientId": rotating["ClientId"],
            "AuthParameters": {"REFRESH_TOKEN": new},
        },
    )
    status, api = server.call(
        "GetTokensFromRefreshToken",
        {"ClientId": rotating["ClientId"], "RefreshToken": new, "ClientMetadata": {"k": "v"}},
    )
    cognito().delete_user_pool_client(UserPoolId=server.pool_id, ClientId=rotating["ClientId"])

    assert first.status_code == 200, first.get_data(as_text=True)
    assert new != old
    assert (reused.status_code, reused.get_json()["error"]) == (400, "invalid_grant")  # no grace: gone
    assert (initiate_status, initiate["__type"]) == (400, "InvalidParameterException")
    assert status == 200, api
    assert server.claims(api["AuthenticationResult"]["IdToken"])["trigger_source"] == (
        "TokenGeneration_RefreshTokens"
    )
    assert api["AuthenticationResult"]["RefreshToken"] not in (old, new)
