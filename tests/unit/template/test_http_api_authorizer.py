"""The HTTP API's JWT authorizer: one, reading the Authorization header, trusting the user pool's
issuer, with an audience of exactly the app clients that call the API. A client missing from the
audience gets 401 on every route; a client listed that should not call the API gets in."""

from __future__ import annotations

import re
from typing import Any

from sam_local_cloud.cloudformation.template import Template
from tests.unit.template.support import broken, http_api, http_routes, jwt_schemes, mentions, references

ISSUER = re.compile(r"^https://cognito-idp\.(?:\$\{AWS::Region\}|[a-z0-9-]+)\.amazonaws\.com/\$\{(\w+)\}$")


def calling_clients(template: Template) -> set[str]:
    """App clients whose tokens can carry a scope of some HTTP API route: the machine clients and the
    people's client."""
    route_scopes = {s for route in http_routes(template).values() for s in route.scopes}
    return {
        name
        for name, client in template.of_type("AWS::Cognito::UserPoolClient").items()
        if route_scopes & set(client["Properties"].get("AllowedOAuthScopes", []))
    }


def audience_of(authorizer: dict[str, Any]) -> list[Any]:
    return authorizer.get("jwtConfiguration", {}).get("audience", [])


def authorizer_problems(template: Template) -> list[str]:
    _, body = http_api(template)
    schemes = jwt_schemes(body)
    if len(schemes) != 1:
        return [f"expected one JWT authorizer, found {sorted(schemes)}"]
    ((name, authorizer),) = schemes.items()
    problems = []
    if authorizer.get("identitySource") != "$request.header.Authorization":
        problems.append(f"{name}: reads {authorizer.get('identitySource')!r}, not the Authorization header")
    issuer = authorizer.get("jwtConfiguration", {}).get("issuer")
    pool, _ = template.the_one("AWS::Cognito::UserPool")
    match = ISSUER.match(issuer) if isinstance(issuer, str) else None
    if not match or match.group(1) != pool:
        problems.append(f"{name}: issuer {issuer!r} is not {pool}'s")
    return problems


def audience_problems(template: Template) -> list[str]:
    _, body = http_api(template)
    problems = []
    wanted = calling_clients(template)
    for name, authorizer in jwt_schemes(body).items():
        audience = audience_of(authorizer)
        named = [references(entry) for entry in audience]
        listed = set().union(*named)
        for client in sorted(wanted - listed):
            problems.append(f"{name}: audience misses {client}, whose tokens would get 401")
        for entry, refs in zip(audience, named, strict=True):
            if not refs or not refs <= wanted:
                problems.append(f"{name}: audience lists {entry}, which is not a client that calls the API")
        if len(listed) != len(audience):
            problems.append(f"{name}: audience names a client twice: {audience}")
    return problems


def test_the_http_api_has_one_jwt_authorizer_on_the_pool_reading_authorization(transformed):
    assert authorizer_problems(transformed) == []


def test_the_audience_is_every_client_that_calls_the_api_and_nothing_else(transformed):
    clients = set(transformed.of_type("AWS::Cognito::UserPoolClient"))
    machines = {
        n
        for n, c in transformed.of_type("AWS::Cognito::UserPoolClient").items()
        if "client_credentials" in c["Properties"].get("AllowedOAuthFlows", [])
    }

    assert machines
    # The people's client calls it too; whatever else the pool has does not count.
    assert machines < calling_clients(transformed) <= clients
    assert audience_problems(transformed) == []


# ---------------------------------------------------------------- the checks catch drift


def jwt_configuration(source: dict[str, Any]) -> dict[str, Any]:
    authorizers = source["Resources"]["ProductsHttpApi"]["Properties"]["Auth"]["Authorizers"]
    (authorizer,) = authorizers.values()
    return authorizer["JwtConfiguration"]


def test_check_catches_a_calling_client_missing_from_the_audience():
    def drop_people(source):
        jwt_configuration(source)["audience"].remove({"Ref": "ProductUserClient"})

    assert mentions(audience_problems(broken(drop_people)), "misses ProductUserClient", "401")


def test_check_catches_a_stranger_in_the_audience():
    def stranger(source):
        jwt_configuration(source)["audience"].append("some-other-app")

    assert mentions(audience_problems(broken(stranger)), "some-other-app", "not a client that calls")


def test_check_catches_an_issuer_other_than_the_pool():
    def other_issuer(source):
        jwt_configuration(source)["issuer"] = "https://issuer.example.com"

    assert mentions(authorizer_problems(broken(other_issuer)), "issuer", "is not UserPool's")


def test_check_catches_an_identity_source_other_than_authorization():
    def query_token(source):
        authorizers = source["Resources"]["ProductsHttpApi"]["Properties"]["Auth"]["Authorizers"]
        (authorizer,) = authorizers.values()
        authorizer["IdentitySource"] = "$request.querystring.access_token"

    assert mentions(authorizer_problems(broken(query_token)), "not the Authorization header")
