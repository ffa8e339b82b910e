"""The IAM policy a Lambda authorizer returns, evaluated against one method (or route) ARN.

IAM's evaluation logic, as far as an authorizer's policy uses it (docs/aws-behaviour.md §11.2): a
statement applies when its `Action` (or `NotAction`) covers `execute-api:Invoke` and its `Resource`
(or `NotResource`) covers the ARN; `*` matches any run of characters, `/` included, `?` one
character; actions compare case-insensitively, resources case-sensitively. An applicable `Deny` wins
over every `Allow`; without an applicable `Allow` the answer is an implicit deny.

Conditions are not evaluated locally: a statement with a `Condition` never allows, and a `Deny` with
one always applies, so a policy the local cloud cannot judge never lets a request through.

moto's evaluator (`moto.iam.access_control`) is not used: it reads `?` and `.` as regular-expression
syntax, so `$default` (an HTTP API's stage) and `?` would not match as IAM matches them.
"""

from __future__ import annotations

import enum
import functools
import re
from collections.abc import Mapping
from typing import Any

INVOKE = "execute-api:Invoke"


class Malformed(ValueError):
    """Not a policy document API Gateway accepts (its answer is a 500)."""


class Decision(enum.Enum):
    ALLOW = "allow"
    EXPLICIT_DENY = "explicit deny"  # a Deny statement applies
    IMPLICIT_DENY = "implicit deny"  # no Allow statement applies


def decide(document: Any, resource: str, action: str = INVOKE) -> Decision:
    """What the policy says of `action` on `resource`; Malformed when it is not a policy."""
    allowed = False
    for statement in statements(document):
        if not _applies(statement, action, resource):
            continue
        if statement["Effect"] == "Deny":
            return Decision.EXPLICIT_DENY
        if "Condition" not in statement:  # a condition is not evaluated here: it grants nothing
            allowed = True
    return Decision.ALLOW if allowed else Decision.IMPLICIT_DENY


def statements(document: Any) -> list[Mapping[str, Any]]:
    """The document's statements, each checked for the elements IAM requires."""
    if not isinstance(document, Mapping) or "Statement" not in document:
        raise Malformed("policyDocument must be an object with a Statement")
    found = document["Statement"]
    found = [found] if isinstance(found, Mapping) else found
    if not isinstance(found, list) or not found:
        raise Malformed("Statement must be a statement or a non-empty list of them")
    for statement in found:
        if not isinstance(statement, Mapping):
            raise Malformed("each statement must be an object")
        if statement.get("Effect") not in ("Allow", "Deny"):
            raise Malformed(f"Effect must be Allow or Deny, got {statement.get('Effect')!r}")
        for element in ("Action", "Resource"):
            if (element in statement) == (f"Not{element}" in statement):
                raise Malformed(f"a statement needs exactly one of {element} and Not{element}")
            _patterns(statement.get(element, statement.get(f"Not{element}")))
    return list(found)


def _applies(statement: Mapping[str, Any], action: str, resource: str) -> bool:
    if "Action" in statement:
        action_matches = _any_matches(statement["Action"], action, ignore_case=True)
    else:
        action_matches = not _any_matches(statement["NotAction"], action, ignore_case=True)
    if "Resource" in statement:
        resource_matches = _any_matches(statement["Resource"], resource, ignore_case=False)
    else:
        resource_matches = not _any_matches(statement["NotResource"], resource, ignore_case=False)
    return action_matches and resource_matches


def _any_matches(patterns: Any, value: str, *, ignore_case: bool) -> bool:
    return any(_wildcard(pattern, ignore_case).fullmatch(value) for pattern in _patterns(patterns))


def _patterns(value: Any) -> list[str]:
    patterns = [value] if isinstance(value, str) else value
    if not isinstance(patterns, list) or not patterns or not all(isinstance(p, str) for p in patterns):
        raise Malformed("Action and Resource must be a string or a non-empty list of strings")
    return patterns


@functools.lru_cache(maxsize=1024)  # the same few patterns come back with every cached answer
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    """IAM's wildcards as a regular expression: `*` any run of characters, `?` exactly one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)
