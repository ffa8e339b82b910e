"""The API's resources, matched against request paths as API Gateway matches them.

Literal segments win over `{param}`, which wins over `{greedy+}`. Paths are matched as sent, still
percent-encoded, so `pathParameters` keep their encoding (docs/aws-behaviour.md §3), and a trailing
slash reaches the resource without it.
"""

from __future__ import annotations

import re

from sam_local_cloud.cloudformation.spec import Route


class RouteTable:
    def __init__(self, routes: tuple[Route, ...]):
        by_resource: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_resource.setdefault(route.resource, {})[route.method] = route
        self._table = sorted(
            ((_pattern(resource), methods) for resource, methods in by_resource.items()),
            key=lambda entry: entry[0][1],
        )

    def match(self, path: str, method: str) -> tuple[Route, dict[str, str]] | None:
        """The route for `method` on `path` and its path parameters, or None if the API defines none."""
        if len(path) > 1 and path.endswith("/"):
            path = path[:-1]
        for (regex, _), methods in self._table:
            found = regex.fullmatch(path)
            if found:
                route = methods.get(method) or methods.get("ANY")
                return (route, found.groupdict()) if route else None
        return None


def _pattern(resource: str) -> tuple[re.Pattern[str], tuple[int, ...]]:
    parts, rank = [], []
    for segment in resource.strip("/").split("/") if resource != "/" else []:
        if segment.startswith("{") and segment.endswith("+}"):
            parts.append(f"(?P<{segment[1:-2]}>.+)")
            rank.append(2)
        elif segment.startswith("{") and segment.endswith("}"):
            parts.append(f"(?P<{segment[1:-1]}>[^/]+)")
            rank.append(1)
        else:
            parts.append(re.escape(segment))
            rank.append(0)
    return re.compile("/" + "/".join(parts)), tuple(rank)
