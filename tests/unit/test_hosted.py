"""The user pool domain's endpoints for people (sam_local_cloud/cognito/hosted.py), over the template's own
pool, users (local-cloud.toml) and trigger, in moto in this process: authorize, the sign-in page, the code and
refresh grants, userInfo, revocation and logout (docs/aws-behaviour.md §5)."""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest

from sam_local_cloud.cloudformation.provision import Provisioned, Provisioner
from sam_local_cloud.cloudformation.spec import active, read_spec
from sam_local_cloud.cloudformation.template import TEMPLATE_PATH, translate
from sam_local_cloud.cognito import hosted
from sam_local_cloud.cognito.people import SampleUser, s256
from sam_local_cloud.cognito.tokens import SigningKey
from sam_local_cloud.lambda_.functions import function_configs
from sam_local_cloud.lambda_.runner import Runner
from sam_local_cloud.project import project_of
from tests.unit.people_support import REGION, PeopleServer, local_aws, query_of

PEOPLE = {u.username: u for u in project_of(TEMPLATE_PATH).users}


@pytest.fixture(scope="module")
def provisioned() -> Iterator[tuple[PeopleServer, Provisioned]]:
    with local_aws():
        template = active(translate({"AllowUserPasswordAuth": "true"}))
        made = Provisioner(
            lambda service: boto3.client(service, region_name=REGION), region=REGION, stack_name="product-api"
        ).provision(template, read_spec(template), users=project_of(TEMPLATE_PATH).users)
        runner = Runner(function_configs(template, made.resolver), region=REGION, endpoint_url=None)
        try:
            yield PeopleServer.over(made.user_pool_id, runner), made
        finally:
            runner.stop()


@pytest.fixture(scope="module")
def server(provisioned) -> PeopleServer:
    return provisioned[0]


@pytest.fixture(scope="module")
def client(provisioned) -> dict[str, Any]:
    (user_client,) = [c for c in provisioned[1].clients.values() if "code" in c.get("AllowedOAuthFlows", [])]
    return user_client


def person(groups: tuple[str, ...]) -> Any:
    return next(u for u in PEOPLE.values() if u.groups == groups)


def authorize_query(client: dict[str, Any], **overrides: str | None) -> str:
    parameters: dict[str, str | None] = {
        "client_id": client["ClientId"],
        "response_type": "code",
        "redirect_uri": client["CallbackURLs"][0],
        "state": "st4te",
        "scope": "openid email product-api/read_product product-api/delete_product",
        **overrides,
    }
    return urlencode({k: v for k, v in parameters.items() if v is not None})


def csrf_of(page: Any) -> str:
    return re.search(r'name="_csrf" value="([^"]+)"', page.get_data(as_text=True)).group(1)


def log_in(browser: Any, query: str, username: str, password: str, **extra: str) -> Any:
    page = browser.get(f"/login?{query}")
    assert page.status_code == 200
    return browser.post(
        f"/login?{query}", data={"_csrf": csrf_of(page), "username": username, "password": password, **extra}
    )


def code_flow(
    server: PeopleServer, client: dict[str, Any], user: Any, **overrides: str | None
) -> tuple[str, str]:
    """Signs `user` in on the page with a PKCE challenge; returns the code and the code verifier."""
    verifier = secrets.token_urlsafe(48)
    query = authorize_query(client, code_challenge=s256(verifier), code_challenge_method="S256", **overrides)
    answer = log_in(server.browser(), query, user.username, user.password)
    assert answer.status_code == 302, answer.get_data(as_text=True)
    return query_of(answer.location)["code"], verifier


def redeem(
    server: PeopleServer, client: dict[str, Any], code: str, verifier: str | None, **extra: str
) -> Any:
    data = {
        "grant_type": "authorization_code",
        "client_id": client["ClientId"],
        "code": code,
        "redirect_uri": client["CallbackURLs"][0],
        **({"code_verifier": verifier} if verifier else {}),
        **extra,
    }
    return server.browser().post("/oauth2/token", data=data)


def sibling_client(server: PeopleServer, client: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """Another app client of the pool, made like the template's user client except for `changes`."""
    kept = (
        "AllowedOAuthFlowsUserPoolClient", "AllowedOAuthFlows", "AllowedOAuthScopes", "CallbackURLs",
        "LogoutURLs", "ExplicitAuthFlows", "PreventUserExistenceErrors", "EnableTokenRevocation",
    )  # fmt: skip
    settings = {name: client[name] for name in kept if name in client}
    return boto3.client("cognito-idp", region_name=REGION).create_user_pool_client(
        UserPoolId=server.pool_id, ClientName="sibling", **{**settings, **changes}
    )["UserPoolClient"]


def new_person(server: PeopleServer, email: str) -> SampleUser:
    """A confirmed person in no group, with a password that meets the pool's policy."""
    idp = boto3.client("cognito-idp", region_name=REGION)
    password = f"Pass-{secrets.token_urlsafe(9)}-9a"
    idp.admin_create_user(UserPoolId=server.pool_id, Username=email, MessageAction="SUPPRESS")
    idp.admin_set_user_password(UserPoolId=server.pool_id, Username=email, Password=password, Permanent=True)
    return SampleUser(email, password, (), {})


def disable(server: PeopleServer, user: SampleUser) -> None:
    boto3.client("cognito-idp", region_name=REGION).admin_disable_user(
        UserPoolId=server.pool_id, Username=user.username
    )


def clock_moved_by(seconds: float) -> SimpleNamespace:
    """A stand-in for the time module as sam_local_cloud/cognito/hosted.py uses it, `seconds` later than
    now."""
    return SimpleNamespace(time=lambda: time.time() + seconds)


# ---------------------------------------------------------------- /oauth2/authorize


def test_authorize_sends_the_browser_to_the_sign_in_page_with_the_same_parameters(server, client):
    query = authorize_query(client)

    answer = server.browser().get(f"/oauth2/authorize?{query}")

    assert (answer.status_code, answer.location) == (302, f"/login?{query}")


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"redirect_uri": "http://localhost:8080/elsewhere"}, "redirect_mismatch"),
        ({"redirect_uri": None}, "redirect_mismatch"),
        ({"client_id": "nosuchclient"}, "invalid_request"),
    ],
    ids=["unregistered redirect_uri", "no redirect_uri", "unknown client"],
)
def test_a_bad_client_or_redirect_uri_gets_cognitos_error_page_never_a_redirect_to_it(
    server, client, overrides, error
):
    browser = server.browser()

    answer = browser.get(f"/oauth2/authorize?{authorize_query(client, **overrides)}")
    page = browser.get(answer.location)

    assert answer.status_code == 302
    assert answer.location.startswith("/error?")
    assert query_of(answer.location)["error"] == error
    assert page.status_code == 400
    assert "An error was encountered with the requested page." in page.get_data(as_text=True)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"response_type": None}, "invalid_request"),
        ({"response_type": "id_token"}, "unsupported_response_type"),
        ({"response_type": "token"}, "unauthorized_client"),
        ({"scope": "openid product-api/export_everything"}, "invalid_scope"),
        ({"code_challenge": "abc", "code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge": "abc"}, "invalid_request"),
        ({"code_challenge_method": "S256"}, "invalid_request"),
    ],
    ids=[
        "no response_type",
        "other response_type",
        "implicit",
        "unknown scope",
        "plain PKCE",
        "no PKCE method",
        "PKCE method without a challenge",
    ],
)
def test_other_mistakes_are_redirected_to_the_client_with_the_state(server, client, overrides, error):
    answer = server.browser().get(f"/oauth2/authorize?{authorize_query(client, **overrides)}")

    assert answer.status_code == 302
    assert answer.location.startswith(client["CallbackURLs"][0] + "?")
    assert query_of(answer.location) == {"error": error, "state": "st4te"}


@pytest.mark.parametrize("endpoint", ["/oauth2/authorize", "/login"])
@pytest.mark.parametrize(
    "near_miss",
    [
        lambda url: url + "x",
        lambda url: url + "/deeper",
        lambda url: url + "?next=https://example.org/",
        lambda url: url[:-1],
        lambda url: url.rsplit("/", 1)[0] + "/",
        lambda url: url[:-1] + url[-1].swapcase(),
    ],
    ids=["longer", "a path below", "with a query", "a prefix of it", "its parent", "another case"],
)
def test_a_redirect_uri_that_is_not_exactly_a_callback_url_gets_the_error_page(
    server, client, endpoint, near_miss
):
    redirect_uri = near_miss(client["CallbackURLs"][0])

    answer = server.browser().get(f"{endpoint}?{authorize_query(client, redirect_uri=redirect_uri)}")

    assert answer.status_code == 302
    assert answer.location.startswith("/error?")
    assert query_of(answer.location)["error"] == "redirect_mismatch"


def test_a_client_whose_oauth_flows_are_off_is_unauthorized_client(server, client):
    off = sibling_client(server, client, AllowedOAuthFlowsUserPoolClient=False)

    answer = server.browser().get(f"/oauth2/authorize?{authorize_query(off)}")

    assert answer.location.startswith(off["CallbackURLs"][0] + "?")
    assert query_of(answer.location) == {"error": "unauthorized_client", "state": "st4te"}


# ---------------------------------------------------------------- /login


def test_the_sign_in_page_is_a_form_posting_back_with_a_csrf_token(server, client):
    query = authorize_query(client)

    page = server.browser().get(f"/login?{query}")

    text = page.get_data(as_text=True)
    assert page.status_code == 200
    assert page.headers["Content-Type"].startswith("text/html")
    assert 'method="post"' in text
    assert f'action="/login?{query.replace("&", "&amp;")}"' in text
    assert csrf_of(page) in page.headers["Set-Cookie"]


@pytest.mark.parametrize(
    ("username", "password"),
    [("viewer@example.com", "Wrong-Password-1"), ("nobody@example.com", "Wrong-Password-1")],
    ids=["wrong password", "unknown user"],
)
def test_a_wrong_password_or_unknown_user_stays_on_the_page_with_cognitos_message(
    server, client, username, password
):
    answer = log_in(server.browser(), authorize_query(client), username, password)

    assert answer.status_code == 200
    assert "Incorrect username or password." in answer.get_data(as_text=True)


def test_a_post_without_the_csrf_cookie_is_refused(server, client):
    user = person(("product-viewers",))
    query = authorize_query(client)

    answer = server.browser().post(
        f"/login?{query}", data={"_csrf": "forged", "username": user.username, "password": user.password}
    )

    assert answer.status_code == 302
    assert answer.location.startswith("/error?")


def test_a_disabled_person_cannot_sign_in_on_the_page(server, client, provisioned):
    idp = boto3.client("cognito-idp", region_name=REGION)
    idp.admin_create_user(UserPoolId=server.pool_id, Username="gone@example.com", MessageAction="SUPPRESS")
    idp.admin_set_user_password(
        UserPoolId=server.pool_id, Username="gone@example.com", Password="Gone-Password-123", Permanent=True
    )
    idp.admin_disable_user(UserPoolId=server.pool_id, Username="gone@example.com")

    answer = log_in(server.browser(), authorize_query(client), "gone@example.com", "Gone-Password-123")

    assert "User is disabled." in answer.get_data(as_text=True)


def test_a_temporary_password_is_changed_on_the_page_then_signs_in(server, client):
    idp = boto3.client("cognito-idp", region_name=REGION)
    idp.admin_create_user(
        UserPoolId=server.pool_id,
        Username="new@example.com",
        TemporaryPassword="Temporary-Pass-123",
        MessageAction="SUPPRESS",
    )
    browser, query = server.browser(), authorize_query(client)

    asked = log_in(browser, query, "new@example.com", "Temporary-Pass-123")
    weak = log_in(browser, query, "new@example.com", "Temporary-Pass-123", new_password="weak")
    done = log_in(browser, query, "new@example.com", "Temporary-Pass-123", new_password="Chosen-Password-123")

    assert 'name="new_password"' in asked.get_data(as_text=True)
    assert "Password does not conform to policy" in weak.get_data(as_text=True)
    assert done.status_code == 302
    assert "code" in query_of(done.location)


def test_signing_in_redirects_with_a_code_and_the_state(server, client):
    user = person(("product-viewers",))

    answer = log_in(server.browser(), authorize_query(client), user.username, user.password)

    assert answer.status_code == 302
    assert answer.location.startswith(client["CallbackURLs"][0] + "?")
    assert query_of(answer.location).keys() == {"code", "state"}
    assert query_of(answer.location)["state"] == "st4te"


# ---------------------------------------------------------------- the code grant


def test_the_code_gives_tokens_whose_product_scopes_are_those_asked_for_that_the_groups_grant(server, client):
    viewer = person(("product-viewers",))
    code, verifier = code_flow(server, client, viewer, nonce="n0nce")

    answer = redeem(server, client, code, verifier)

    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body.keys() == {"id_token", "access_token", "refresh_token", "expires_in", "token_type"}
    access, id_token = server.claims(body["access_token"]), server.claims(body["id_token"])
    assert access["scope"].split() == ["openid", "email", "product-api/read_product"]  # delete suppressed
    assert access["cognito:groups"] == ["product-viewers"]
    assert (id_token["email"], id_token["nonce"], id_token["aud"]) == (
        viewer.username,
        "n0nce",
        client["ClientId"],
    )
    assert id_token["at_hash"]


def test_without_openid_there_is_no_id_token_and_no_product_scope_unless_asked(server, client):
    admin = person(("product-admins",))
    code, verifier = code_flow(server, client, admin, scope="product-api/read_product")

    body = redeem(server, client, code, verifier).get_json()

    assert "id_token" not in body
    assert server.claims(body["access_token"])["scope"] == "product-api/read_product"


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"code_verifier": "wrong-verifier-0123456789012345678901234567890123"}, "invalid_grant"),
        ({"code_verifier": None}, "invalid_request"),
        ({"redirect_uri": "http://localhost:8080/elsewhere"}, "invalid_grant"),
        ({"code": "00000000-0000-4000-8000-000000000000"}, "invalid_grant"),
        ({"redirect_uri": ""}, "invalid_request"),
    ],
    ids=["wrong verifier", "no verifier", "other redirect_uri", "unknown code", "no redirect_uri"],
)
def test_a_code_is_refused_with_cognitos_errors(server, client, change, error):
    code, verifier = code_flow(server, client, person(("product-viewers",)))
    verifier = change.pop("code_verifier", verifier)
    code = change.pop("code", code)

    answer = redeem(server, client, code, verifier, **change)

    assert (answer.status_code, answer.get_json()) == (400, {"error": error})


def test_a_code_is_single_use(server, client):
    code, verifier = code_flow(server, client, person(("product-viewers",)))

    first = redeem(server, client, code, verifier)
    second = redeem(server, client, code, verifier)

    assert first.status_code == 200
    assert (second.status_code, second.get_json()) == (400, {"error": "invalid_grant"})


@pytest.mark.parametrize(
    ("seconds_later", "status"), [(5 * 60 - 5, 200), (5 * 60 + 1, 400)], ids=["within", "after"]
)
def test_a_code_expires_after_five_minutes(server, client, monkeypatch, seconds_later, status):
    code, verifier = code_flow(server, client, person(("product-viewers",)))
    monkeypatch.setattr(hosted, "time", clock_moved_by(seconds_later))

    answer = redeem(server, client, code, verifier)

    assert answer.status_code == status
    if status == 400:
        assert answer.get_json() == {"error": "invalid_grant"}


def test_token_refuses_the_code_challenge_itself_as_the_code_verifier(server, client):
    # The challenge travels in the authorize URL: taking it as a verifier (plain PKCE) would let
    # whoever saw the URL and the code redeem it.
    code, verifier = code_flow(server, client, person(("product-viewers",)))

    answer = redeem(server, client, code, s256(verifier))

    assert (answer.status_code, answer.get_json()) == (400, {"error": "invalid_grant"})


def test_a_code_is_spent_by_a_failed_redemption(server, client):
    code, verifier = code_flow(server, client, person(("product-viewers",)))

    wrong = redeem(server, client, code, "wrong-verifier-0123456789012345678901234567890123")
    right = redeem(server, client, code, verifier)

    assert wrong.get_json() == right.get_json() == {"error": "invalid_grant"}


def test_token_refuses_another_callback_url_of_the_client_than_the_authorize_requests(server, client):
    first = client["CallbackURLs"][0]
    two_callbacks = sibling_client(server, client, CallbackURLs=[first, first + "/second"])
    code, verifier = code_flow(server, two_callbacks, person(("product-viewers",)))

    answer = redeem(server, two_callbacks, code, verifier, redirect_uri=first + "/second")

    assert (answer.status_code, answer.get_json()) == (400, {"error": "invalid_grant"})


def test_a_code_belongs_to_its_client(server, client, provisioned):
    code, _ = code_flow(server, client, person(("product-viewers",)))
    machine = provisioned[1].clients["ProductAdminClient"]

    answer = server.browser().post(
        "/oauth2/token",
        data={"grant_type": "authorization_code", "code": code, "redirect_uri": client["CallbackURLs"][0]},
        auth=(machine["ClientId"], machine["ClientSecret"]),
    )

    assert answer.get_json() == {"error": "unauthorized_client"}


def test_a_code_is_refused_to_another_code_flow_client_and_stays_its_clients(server, client):
    code, verifier = code_flow(server, client, person(("product-viewers",)))
    other = sibling_client(server, client)

    stolen = redeem(server, other, code, verifier)
    rightful = redeem(server, client, code, verifier)

    assert (stolen.status_code, stolen.get_json()) == (400, {"error": "invalid_grant"})
    assert rightful.status_code == 200


def test_a_client_with_a_secret_redeems_its_code_only_with_its_secret(server, client):
    confidential = sibling_client(server, client, GenerateSecret=True)
    user = person(("product-viewers",))
    code, verifier = code_flow(server, confidential, user)
    second_code, second_verifier = code_flow(server, confidential, user)

    without = redeem(server, confidential, code, verifier)
    with_secret = redeem(
        server, confidential, second_code, second_verifier, client_secret=confidential["ClientSecret"]
    )

    assert (without.status_code, without.get_json()) == (400, {"error": "invalid_client"})
    assert with_secret.status_code == 200


# ---------------------------------------------------------------- the browser's session and /logout


def test_a_signed_in_browser_gets_a_code_at_once_until_it_logs_out(server, client):
    user = person(("product-editors",))
    browser = server.browser()
    query = authorize_query(client)
    log_in(browser, query, user.username, user.password)

    again = browser.get(f"/oauth2/authorize?{query}")
    forced = browser.get(f"/oauth2/authorize?{query}&prompt=login")
    logout_uri = client["LogoutURLs"][0]
    out = browser.get(f"/logout?{urlencode({'client_id': client['ClientId'], 'logout_uri': logout_uri})}")
    after = browser.get(f"/oauth2/authorize?{query}")

    assert "code" in query_of(again.location)
    assert forced.location.startswith("/login?")
    assert (out.status_code, out.location) == (302, logout_uri)
    assert after.location.startswith("/login?")


def test_logout_to_an_unregistered_url_is_an_error_page(server, client):
    query = urlencode({"client_id": client["ClientId"], "logout_uri": "http://localhost:8080/elsewhere"})

    answer = server.browser().get(f"/logout?{query}")

    assert answer.location.startswith("/error?")


@pytest.mark.parametrize(
    ("seconds_later", "goes_to"), [(60 * 60 - 5, "a code"), (60 * 60 + 1, "/login")], ids=["within", "after"]
)
def test_a_browser_session_lasts_an_hour(server, client, monkeypatch, seconds_later, goes_to):
    user = person(("product-viewers",))
    browser, query = server.browser(), authorize_query(client)
    log_in(browser, query, user.username, user.password)
    monkeypatch.setattr(hosted, "time", clock_moved_by(seconds_later))

    again = browser.get(f"/oauth2/authorize?{query}")

    assert ("code" in query_of(again.location)) == (goes_to == "a code")
    assert again.location.startswith("/login?") == (goes_to == "/login")


def test_logout_ends_the_session_on_the_server_not_only_in_the_browser(server, client):
    user = person(("product-viewers",))
    browser, query = server.browser(), authorize_query(client)
    log_in(browser, query, user.username, user.password)
    session = browser.get_cookie(hosted.SESSION_COOKIE).value
    logout = {"client_id": client["ClientId"], "logout_uri": client["LogoutURLs"][0]}
    browser.get(f"/logout?{urlencode(logout)}")
    browser.set_cookie(hosted.SESSION_COOKIE, session)  # the cookie, replayed

    again = browser.get(f"/oauth2/authorize?{query}")

    assert again.location.startswith("/login?")


def test_a_disabled_persons_browser_session_gets_no_code(server, client):
    user = new_person(server, "session-then-disabled@example.com")
    browser, query = server.browser(), authorize_query(client)
    assert log_in(browser, query, user.username, user.password).status_code == 302
    disable(server, user)

    again = browser.get(f"/oauth2/authorize?{query}")

    assert again.location.startswith("/login?")


# ---------------------------------------------------------------- refresh, userInfo, revocation


def tokens_by_code(server: PeopleServer, client: dict[str, Any], groups: tuple[str, ...]) -> dict[str, Any]:
    code, verifier = code_flow(server, client, person(groups))
    return redeem(server, client, code, verifier).get_json()


def test_the_refresh_grant_gives_new_tokens_and_no_new_refresh_token(server, client):
    first = tokens_by_code(server, client, ("product-editors",))

    answer = server.browser().post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client["ClientId"],
            "refresh_token": first["refresh_token"],
        },
    )

    body = answer.get_json()
    assert answer.status_code == 200, body
    assert body.keys() == {"id_token", "access_token", "expires_in", "token_type"}
    assert server.claims(body["access_token"])["scope"] == server.claims(first["access_token"])["scope"]


def test_user_info_answers_with_the_attributes_the_scopes_release(server, client):
    tokens = tokens_by_code(server, client, ("product-viewers",))

    answer = server.browser().get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    username = server.claims(tokens["access_token"])["username"]
    assert answer.status_code == 200
    assert answer.get_json() == {
        "sub": username,
        "email": "viewer@example.com",
        "email_verified": "true",
        "username": username,
    }


def test_user_info_refuses_sign_in_api_tokens_and_missing_ones(server, client):
    viewer = person(("product-viewers",))
    _, body = server.call(
        "InitiateAuth",
        {
            "AuthFlow": "USER_PASSWORD_AUTH",
            "ClientId": client["ClientId"],
            "AuthParameters": {"USERNAME": viewer.username, "PASSWORD": viewer.password},
        },
    )
    api_token = body["AuthenticationResult"]["AccessToken"]

    refused = server.browser().get("/oauth2/userInfo", headers={"Authorization": f"Bearer {api_token}"})
    missing = server.browser().get("/oauth2/userInfo")

    assert (refused.status_code, refused.get_json()["error"]) == (401, "invalid_token")
    assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
    assert (missing.status_code, missing.get_json()["error"]) == (400, "invalid_request")


def test_revoking_a_refresh_token_stops_it_and_its_access_tokens_at_user_info(server, client):
    tokens = tokens_by_code(server, client, ("product-viewers",))
    browser = server.browser()

    revoked = browser.post(
        "/oauth2/revoke", data={"token": tokens["refresh_token"], "client_id": client["ClientId"]}
    )
    refreshed = browser.post(
        "/oauth2/token",
        data={
            "grant_type": "refresh_token",
            "client_id": client["ClientId"],
            "refresh_token": tokens["refresh_token"],
        },
    )
    info = browser.get("/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"})

    assert (revoked.status_code, revoked.get_data()) == (200, b"")
    assert refreshed.get_json() == {"error": "invalid_grant"}
    assert info.status_code == 401


@pytest.mark.parametrize(
    ("data", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"token": "access"}, 400, "unsupported_token_type"),
        ({"client_id": "nosuchclient", "token": "x"}, 401, "invalid_client"),
    ],
    ids=["no token", "an access token", "unknown client"],
)
def test_revocation_errors(server, client, data, status, error):
    tokens = tokens_by_code(server, client, ("product-viewers",))
    if data.get("token") == "access":
        data = {**data, "token": tokens["access_token"]}

    answer = server.browser().post("/oauth2/revoke", data={"client_id": client["ClientId"], **data})

    assert (answer.status_code, answer.get_json()) == (status, {"error": error})


def refresh_grant(server: PeopleServer, client: dict[str, Any], refresh_token: str) -> Any:
    return server.browser().post(
        "/oauth2/token",
        data={"grant_type": "refresh_token", "client_id": client["ClientId"], "refresh_token": refresh_token},
    )


def test_a_disabled_person_cannot_refresh_at_the_token_endpoint(server, client):
    user = new_person(server, "refresh-then-disabled@example.com")
    code, verifier = code_flow(server, client, user)
    tokens = redeem(server, client, code, verifier).get_json()
    disable(server, user)

    answer = refresh_grant(server, client, tokens["refresh_token"])

    assert (answer.status_code, answer.get_json()["error"]) == (400, "invalid_grant")


def test_a_client_without_allow_refresh_token_auth_cannot_refresh(server, client):
    flows = [f for f in client["ExplicitAuthFlows"] if f != "ALLOW_REFRESH_TOKEN_AUTH"]
    no_refresh = sibling_client(server, client, ExplicitAuthFlows=flows)
    code, verifier = code_flow(server, no_refresh, person(("product-viewers",)))
    tokens = redeem(server, no_refresh, code, verifier).get_json()

    answer = refresh_grant(server, no_refresh, tokens["refresh_token"])

    assert (answer.status_code, answer.get_json()) == (400, {"error": "unauthorized_client"})


@pytest.mark.parametrize("flaw", ["signed by another key", "expired"])
def test_user_info_refuses_a_forged_or_expired_token(server, client, flaw):
    tokens = tokens_by_code(server, client, ("product-viewers",))
    claims = server.claims(tokens["access_token"])
    if flaw == "expired":
        token = server.key.sign({**claims, "iat": claims["iat"] - 7200, "exp": claims["iat"] - 3600})
    else:
        forger = SigningKey.generate()
        token = SigningKey(server.key.kid, forger.private_key).sign(claims)

    answer = server.browser().get("/oauth2/userInfo", headers={"Authorization": f"Bearer {token}"})

    assert (answer.status_code, answer.get_json()["error"]) == (401, "invalid_token")


def test_user_info_refuses_the_token_of_a_person_disabled_since(server, client):
    user = new_person(server, "info-then-disabled@example.com")
    code, verifier = code_flow(server, client, user)
    tokens = redeem(server, client, code, verifier).get_json()
    disable(server, user)

    answer = server.browser().get(
        "/oauth2/userInfo", headers={"Authorization": f"Bearer {tokens['access_token']}"}
    )

    assert (answer.status_code, answer.get_json()["error"]) == (401, "invalid_token")


def test_revocation_is_refused_when_the_client_does_not_enable_it(server, client):
    no_revocation = sibling_client(server, client, EnableTokenRevocation=False)
    code, verifier = code_flow(server, no_revocation, person(("product-viewers",)))
    tokens = redeem(server, no_revocation, code, verifier).get_json()

    answer = server.browser().post(
        "/oauth2/revoke", data={"client_id": no_revocation["ClientId"], "token": tokens["refresh_token"]}
    )

    assert answer.status_code == 400
    assert refresh_grant(server, no_revocation, tokens["refresh_token"]).status_code == 200
