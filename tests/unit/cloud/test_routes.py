"""sam_local_cloud/apigateway/routes.py: request paths matched to the API's resources as API Gateway matches
them."""

from __future__ import annotations

import pytest

from sam_local_cloud.apigateway.routes import RouteTable
from sam_local_cloud.cloudformation.spec import Route


def route(resource: str, method: str = "GET") -> Route:
    return Route(
        resource=resource,
        method=method,
        function=f"{method} {resource}",
        mock=None,
        authorizer=None,
        scopes=(),
        api_key=False,
    )


def matched(table: RouteTable, path: str, method: str = "GET") -> tuple[str, str, dict[str, str]] | None:
    found = table.match(path, method)
    if found is None:
        return None
    chosen, parameters = found
    return chosen.resource, chosen.method, parameters


SPECIFICITY = [
    route("/files/{proxy+}"),
    route("/files/{name}"),
    route("/files/readme"),
    route("/files/{name}/meta"),
]


@pytest.mark.parametrize("routes", [SPECIFICITY, SPECIFICITY[::-1]], ids=["declared", "reversed"])
@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/files/readme", ("/files/readme", "GET", {})),
        ("/files/report.pdf", ("/files/{name}", "GET", {"name": "report.pdf"})),
        ("/files/report.pdf/meta", ("/files/{name}/meta", "GET", {"name": "report.pdf"})),
        ("/files/a/b/c", ("/files/{proxy+}", "GET", {"proxy": "a/b/c"})),
    ],
)
def test_literal_wins_over_parameter_which_wins_over_greedy(
    routes: list[Route], path: str, expected: tuple[str, str, dict[str, str]]
) -> None:
    assert matched(RouteTable(tuple(routes)), path) == expected


def test_any_method_serves_every_method() -> None:
    table = RouteTable((route("/items", "ANY"),))
    assert [matched(table, "/items", m) for m in ("GET", "DELETE", "PATCH")] == [
        ("/items", "ANY", {}),
        ("/items", "ANY", {}),
        ("/items", "ANY", {}),
    ]


def test_a_declared_method_wins_over_any_on_the_same_resource() -> None:
    table = RouteTable((route("/items", "ANY"), route("/items", "POST")))
    assert (matched(table, "/items", "POST"), matched(table, "/items", "GET")) == (
        ("/items", "POST", {}),
        ("/items", "ANY", {}),
    )


def test_method_the_resource_does_not_define_is_none() -> None:
    table = RouteTable((route("/items", "GET"), route("/items/{id}", "DELETE")))
    assert table.match("/items", "POST") is None
    assert table.match("/items/7", "GET") is None


def test_path_no_resource_matches_is_none() -> None:
    table = RouteTable((route("/items"), route("/items/{id}")))
    assert [table.match(p, "GET") for p in ("/other", "/items/7/more", "/itemsx", "/")] == [None] * 4


@pytest.mark.parametrize(
    ("path", "expected"),
    [("/items/", ("/items", "GET", {})), ("/items/7/", ("/items/{id}", "GET", {"id": "7"}))],
)
def test_trailing_slash_reaches_the_resource(path: str, expected: tuple[str, str, dict[str, str]]) -> None:
    assert matched(RouteTable((route("/items"), route("/items/{id}"))), path) == expected


def test_root_resource_matches_only_the_root() -> None:
    table = RouteTable((route("/"), route("/items")))
    assert matched(table, "/") == ("/", "GET", {})
    assert matched(table, "/items") == ("/items", "GET", {})
    assert table.match("/nothing", "GET") is None


@pytest.mark.parametrize("segment", ["a%2Fb", "caf%C3%A9", "two%20words", "100%25"])
def test_percent_encoded_segment_is_one_parameter_kept_encoded(segment: str) -> None:
    table = RouteTable((route("/items/{id}"), route("/items/{id}/{part}")))
    assert matched(table, f"/items/{segment}") == ("/items/{id}", "GET", {"id": segment})


def test_greedy_parameter_keeps_slashes_and_encoding() -> None:
    table = RouteTable((route("/{proxy+}", "ANY"),))
    assert matched(table, "/a/b%2Fc/d", "PUT") == ("/{proxy+}", "ANY", {"proxy": "a/b%2Fc/d"})
