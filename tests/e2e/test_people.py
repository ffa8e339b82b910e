"""People signed in with unchanged boto3 code (InitiateAuth, USER_PASSWORD_AUTH) reach exactly the
routes their groups allow, on both APIs; GET /me takes their ID token; refresh, revocation and group
changes behave as in Cognito (docs/aws-behaviour.md §1, §4, §5, §6, and §9.1 for the HTTP API). Both
targets: the local cloud's sample users, or people made with the admin API on a deployed stack."""

from __future__ import annotations

import pytest

from tests.e2e.sign_in import SIGN_IN_API_SCOPE, claims, refresh, scopes, sign_in
from tests.e2e.support import Api, Person, Stack, answer_of, new_product

pytestmark = pytest.mark.usefixtures("password_sign_in")


def viewer(people: dict[tuple[str, ...], Person], template_groups) -> Person:
    """The person of the group with the fewest scopes (it reads, and nothing more)."""
    group = min(template_groups, key=lambda g: len(template_groups[g]))
    return people[(group,)]


def editor(people, template_groups) -> Person:
    """The person of the group that may create and update but not delete."""
    group = next(
        g
        for g, s in template_groups.items()
        if {"product-api/create_product", "product-api/update_product"} <= s
        and "product-api/delete_product" not in s
    )
    return people[(group,)]


def admin(people, template_groups) -> Person:
    """The person of the group that may delete."""
    group = min(
        (g for g, s in template_groups.items() if "product-api/delete_product" in s),
        key=lambda g: len(template_groups[g]),
    )
    return people[(group,)]


# ---------------------------------------------------------------- exactly the routes their groups allow


def test_a_viewer_reads_but_cannot_create(api: Api, stack: Stack, people, template_groups):
    tokens = sign_in(stack, viewer(people, template_groups))

    read = api.call("GET", "/products", token=tokens.access_token)
    create = api.call("POST", "/products", token=tokens.access_token, json=new_product())

    assert read.status_code == 200, read.text
    assert answer_of(create) == api.kind.missing_scope


def test_an_editor_creates_and_updates_but_cannot_delete(api: Api, stack: Stack, people, template_groups):
    tokens = sign_in(stack, editor(people, template_groups))

    created = api.call("POST", "/products", token=tokens.access_token, json=new_product())
    product = created.json()
    updated = api.call(
        "PUT",
        f"/products/{product['id']}",
        token=tokens.access_token,
        json={**new_product(name="renamed"), "version": product["version"]},
    )
    deleted = api.call("DELETE", f"/products/{product['id']}", token=tokens.access_token)

    assert created.status_code == 201, created.text
    assert updated.status_code == 200, updated.text
    assert updated.json()["name"] == "renamed"
    assert answer_of(deleted) == api.kind.missing_scope
    remover = sign_in(stack, admin(people, template_groups))
    assert api.call("DELETE", f"/products/{product['id']}", token=remover.access_token).status_code == 204


def test_an_admin_deletes(api: Api, stack: Stack, people, template_groups):
    tokens = sign_in(stack, admin(people, template_groups))
    product = api.call("POST", "/products", token=tokens.access_token, json=new_product()).json()

    deleted = api.call("DELETE", f"/products/{product['id']}", token=tokens.access_token)
    after = api.call("GET", f"/products/{product['id']}", token=tokens.access_token)

    assert deleted.status_code == 204
    assert after.status_code == 404


def test_created_by_and_updated_by_are_the_person(api: Api, stack: Stack, people, template_groups):
    tokens = sign_in(stack, editor(people, template_groups))
    username = claims(tokens.access_token)["username"]

    product = api.call("POST", "/products", token=tokens.access_token, json=new_product()).json()
    updated = api.call(
        "PUT",
        f"/products/{product['id']}",
        token=tokens.access_token,
        json={**new_product(), "version": product["version"]},
    ).json()

    # People sign in with their email; Cognito's username (the token's `username`) is their sub.
    assert product["created_by"] == updated["updated_by"] == username == claims(tokens.id_token)["sub"]
    remover = sign_in(stack, admin(people, template_groups))
    api.call("DELETE", f"/products/{product['id']}", token=remover.access_token)


def test_sign_in_api_tokens_carry_the_admin_scope_and_every_scope_the_group_grants(
    stack: Stack, people, template_groups
):
    for groups, person in people.items():
        tokens = sign_in(stack, person)
        granted = frozenset().union(*(template_groups[g] for g in groups))

        assert scopes(tokens.access_token) == {SIGN_IN_API_SCOPE, *granted}, groups
        assert sorted(claims(tokens.access_token)["cognito:groups"]) == sorted(groups)


def test_a_person_in_several_groups_gets_the_union(api: Api, stack: Stack, people, template_groups):
    groups, person = next((g, p) for g, p in people.items() if len(g) > 1)
    tokens = sign_in(stack, person)
    union = frozenset().union(*(template_groups[g] for g in groups))

    created = api.call("POST", "/products", token=tokens.access_token, json=new_product())

    assert scopes(tokens.access_token) - {SIGN_IN_API_SCOPE} == union
    assert created.status_code == (
        201 if "product-api/create_product" in union else api.kind.missing_scope.status
    )
    remover = sign_in(stack, admin(people, template_groups))
    api.call("DELETE", f"/products/{created.json().get('id', 'none')}", token=remover.access_token)


# ---------------------------------------------------------------- ID token or access token


def test_me_takes_the_id_token_and_refuses_the_access_token(api: Api, stack: Stack, people, template_groups):
    person = editor(people, template_groups)
    tokens = sign_in(stack, person)

    with_id = api.call("GET", "/me", token=tokens.id_token)
    with_access = api.call("GET", "/me", token=tokens.access_token)

    assert with_id.status_code == 200, with_id.text
    me = with_id.json()
    assert me["email"] == person.username
    assert me["username"] == claims(tokens.id_token)["cognito:username"]
    assert me["groups"] == sorted(person.groups)
    assert me["token_use"] == "id"
    assert answer_of(with_access) == api.kind.access_token_on_unscoped_route


def test_an_id_token_is_refused_on_a_scoped_route(api: Api, stack: Stack, people, template_groups):
    tokens = sign_in(stack, admin(people, template_groups))

    assert answer_of(api.call("GET", "/products", token=tokens.id_token)) == api.kind.missing_scope


# ---------------------------------------------------------------- refresh, revocation, group changes


def test_refresh_gives_working_tokens(api: Api, stack: Stack, people, template_groups):
    first = sign_in(stack, viewer(people, template_groups))

    again = refresh(stack, first.refresh_token)

    assert api.call("GET", "/products", token=again.access_token).status_code == 200
    assert api.call("GET", "/me", token=again.id_token).status_code == 200
    assert claims(again.access_token)["origin_jti"] == claims(first.access_token)["origin_jti"]


def test_a_revoked_refresh_token_does_not_refresh(stack: Stack, people, template_groups):
    tokens = sign_in(stack, viewer(people, template_groups))
    cognito = stack.cognito()

    cognito.revoke_token(Token=tokens.refresh_token, ClientId=stack.user_client_id)

    with pytest.raises(cognito.exceptions.NotAuthorizedException, match="revoked"):
        refresh(stack, tokens.refresh_token)


def test_removing_a_person_from_a_group_takes_effect_on_their_next_refresh(
    api: Api, stack: Stack, new_person, template_groups, people
):
    editors = editor(people, template_groups).groups[0]
    viewers = viewer(people, template_groups).groups[0]
    person = new_person((editors,))
    tokens = sign_in(stack, person)
    assert "product-api/create_product" in scopes(tokens.access_token)

    cognito = stack.cognito()
    cognito.admin_remove_user_from_group(
        UserPoolId=stack.user_pool_id, Username=person.username, GroupName=editors
    )
    cognito.admin_add_user_to_group(
        UserPoolId=stack.user_pool_id, Username=person.username, GroupName=viewers
    )
    refreshed = refresh(stack, tokens.refresh_token)

    # Tokens already issued keep their scopes until they expire; the refresh reads the groups again.
    assert "product-api/create_product" in scopes(tokens.access_token)
    assert scopes(refreshed.access_token) == {SIGN_IN_API_SCOPE, *template_groups[viewers]}
    assert claims(refreshed.access_token)["cognito:groups"] == [viewers]
    create = api.call("POST", "/products", token=refreshed.access_token, json=new_product())
    assert answer_of(create) == api.kind.missing_scope
    assert api.call("GET", "/products", token=refreshed.access_token).status_code == 200


# ---------------------------------------------------------------- refusals


def test_a_wrong_password_and_an_unknown_user_get_the_same_answer(stack: Stack, people, template_groups):
    person = viewer(people, template_groups)
    cognito = stack.cognito()
    answers = []

    for username, password in (
        (person.username, "Wrong-Password-123"),
        ("nobody-e2e@example.com", person.password),
    ):
        with pytest.raises(cognito.exceptions.NotAuthorizedException) as refused:
            sign_in(stack, Person(username, password, ()))
        answers.append(refused.value.response["Error"]["Message"])

    assert answers == ["Incorrect username or password."] * 2


def test_a_disabled_person_cannot_sign_in_from_the_next_sign_in(stack: Stack, new_person, template_groups):
    person = new_person((min(template_groups),))
    sign_in(stack, person)
    cognito = stack.cognito()

    cognito.admin_disable_user(UserPoolId=stack.user_pool_id, Username=person.username)

    with pytest.raises(cognito.exceptions.NotAuthorizedException, match=r"User is disabled\."):
        sign_in(stack, person)
