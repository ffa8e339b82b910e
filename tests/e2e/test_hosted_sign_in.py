"""The code flow with PKCE, end to end through Authlib: the authorize URL, the hosted sign-in page,
the code at the token endpoint, then the API; Cognito's refusals of a wrong code verifier, a reused
code and an unregistered redirect URI; refresh, revocation and userInfo at the domain's endpoints
(docs/aws-behaviour.md §5). The tokens' calls go to both APIs (§9.1 for the HTTP API). Both targets."""

from __future__ import annotations

import pytest
import requests
from authlib.integrations.base_client.errors import OAuthError
from authlib.oauth2.rfc6749.errors import MismatchingStateException

from tests.e2e.sign_in import CodeFlow, claims, scopes
from tests.e2e.support import Api, Stack, answer_of
from tests.e2e.test_people import admin, editor, viewer

READ, CREATE = "product-api/read_product", "product-api/create_product"


def test_the_code_flow_with_pkce_gives_the_scopes_asked_for_that_the_groups_grant(
    api: Api, stack: Stack, people, template_groups
):
    person = viewer(people, template_groups)
    flow = CodeFlow(stack, scope=f"openid email {READ} {CREATE}")

    callback = flow.sign_in(person)
    token = flow.fetch_token(callback)

    assert flow.url.startswith(f"{stack.domain_url}/oauth2/authorize?")
    assert "code_challenge_method=S256" in flow.url
    assert callback.startswith(flow.redirect_uri + "?")
    assert scopes(token["access_token"]) == {"openid", "email", READ}  # create asked for, not granted
    assert api.call("GET", "/products", token=token["access_token"]).status_code == 200
    refused = api.call("POST", "/products", token=token["access_token"], json={})
    assert answer_of(refused) == api.kind.missing_scope
    me = api.call("GET", "/me", token=token["id_token"])
    assert me.status_code == 200, me.text
    assert me.json()["email"] == person.username
    assert claims(token["id_token"])["aud"] == stack.user_client_id


def test_asking_for_identity_scopes_only_gives_no_product_scope(
    api: Api, stack: Stack, people, template_groups
):
    flow = CodeFlow(stack, scope="openid email")

    token = flow.fetch_token(flow.sign_in(admin(people, template_groups)))

    assert scopes(token["access_token"]) == {"openid", "email"}
    assert answer_of(api.call("GET", "/products", token=token["access_token"])) == api.kind.missing_scope


def test_a_wrong_code_verifier_is_invalid_grant(stack: Stack, people, template_groups):
    flow = CodeFlow(stack, scope=f"openid {READ}")
    callback = flow.sign_in(viewer(people, template_groups))

    with pytest.raises(OAuthError) as refused:
        flow.fetch_token(callback, verifier="x" * 64)

    assert refused.value.error == "invalid_grant"


def test_a_code_is_single_use(stack: Stack, people, template_groups):
    flow = CodeFlow(stack, scope=f"openid {READ}")
    callback = flow.sign_in(viewer(people, template_groups))
    flow.fetch_token(callback)

    with pytest.raises(OAuthError) as refused:
        flow.fetch_token(callback)

    assert refused.value.error == "invalid_grant"


def test_an_unregistered_redirect_uri_gets_cognitos_error_page_and_no_redirect_to_it(stack: Stack):
    unregistered = "http://localhost:8080/not-registered"
    flow = CodeFlow(stack, scope="openid", redirect_uri=unregistered)

    page = requests.get(flow.url, timeout=30)

    visited = [r.headers.get("Location", "") for r in page.history] + [page.url]
    assert not any(url.startswith(unregistered) for url in visited)
    assert page.url.startswith(f"{stack.domain_url}/error?")
    assert "error=redirect_mismatch" in page.url
    assert "An error was encountered with the requested page." in page.text


def test_the_state_comes_back_and_authlib_refuses_another(stack: Stack, people, template_groups):
    flow = CodeFlow(stack, scope="openid")
    callback = flow.sign_in(viewer(people, template_groups))

    assert f"state={flow.state}" in callback
    with pytest.raises(MismatchingStateException):
        flow.fetch_token(callback.replace(f"state={flow.state}", "state=forged"))


def test_refresh_at_the_token_endpoint_then_revocation(api: Api, stack: Stack, people, template_groups):
    flow = CodeFlow(stack, scope=f"openid email {READ} {CREATE}")
    token = flow.fetch_token(flow.sign_in(editor(people, template_groups)))

    refreshed = flow.oauth.refresh_token(stack.token_url, refresh_token=token["refresh_token"])
    revoked = flow.oauth.revoke_token(
        f"{stack.domain_url}/oauth2/revoke", token["refresh_token"], token_type_hint="refresh_token"
    )

    assert (
        scopes(refreshed["access_token"])
        == scopes(token["access_token"])
        == {"openid", "email", READ, CREATE}
    )
    assert api.call("GET", "/products", token=refreshed["access_token"]).status_code == 200
    assert revoked.status_code == 200
    with pytest.raises(OAuthError) as refused:
        flow.oauth.refresh_token(stack.token_url, refresh_token=token["refresh_token"])
    assert refused.value.error == "invalid_grant"


def test_user_info_answers_for_a_code_flow_token(stack: Stack, people, template_groups):
    person = viewer(people, template_groups)
    flow = CodeFlow(stack, scope="openid email")
    token = flow.fetch_token(flow.sign_in(person))

    info = requests.get(
        f"{stack.domain_url}/oauth2/userInfo",
        headers={"Authorization": f"Bearer {token['access_token']}"},
        timeout=30,
    )

    assert info.status_code == 200, info.text
    assert info.json()["email"] == person.username
    assert info.json()["sub"] == claims(token["access_token"])["sub"]
