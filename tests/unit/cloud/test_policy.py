"""sam_local_cloud/apigateway/policy.py: a Lambda authorizer's IAM policy against a method ARN
(docs/aws-behaviour.md §11.2): IAM's wildcards, Deny over Allow, resources case-sensitive and actions not,
malformed documents."""

from __future__ import annotations

from typing import Any

import pytest

from sam_local_cloud.apigateway.policy import Decision, Malformed, decide

STAGE = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5/v1"
GET_PRODUCT = f"{STAGE}/GET/products/42"


def document(*statements: dict[str, Any]) -> dict[str, Any]:
    return {"Version": "2012-10-17", "Statement": list(statements)}


def allow(resource: Any, action: Any = "execute-api:Invoke", **more: Any) -> dict[str, Any]:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(resource: Any, action: Any = "execute-api:Invoke", **more: Any) -> dict[str, Any]:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


@pytest.mark.parametrize(
    ("resource", "decision"),
    [
        (GET_PRODUCT, Decision.ALLOW),
        (f"{STAGE}/GET/products/*", Decision.ALLOW),
        (f"{STAGE}/*", Decision.ALLOW),  # `*` runs across `/`
        (f"{STAGE}/*/products/42", Decision.ALLOW),
        ("arn:aws:execute-api:*", Decision.ALLOW),
        ("*", Decision.ALLOW),
        (f"{STAGE}/GET/products/4?", Decision.ALLOW),  # `?` is one character
        (f"{STAGE}/GET/products/?", Decision.IMPLICIT_DENY),  # ... exactly one
        (f"{STAGE}/POST/products/42", Decision.IMPLICIT_DENY),
        (f"{STAGE}/GET/products", Decision.IMPLICIT_DENY),  # no prefix match without `*`
        (f"{STAGE}/get/products/42", Decision.IMPLICIT_DENY),  # resources are case-sensitive
        (f"{STAGE}/GET/products/4.", Decision.IMPLICIT_DENY),  # `.` is a dot, not any character
        (f"{STAGE}/GET/products/[0-9]+", Decision.IMPLICIT_DENY),  # no regular expressions
    ],
)
def test_resource_wildcards_match_as_iam_matches_them(resource: str, decision: Decision) -> None:
    assert decide(document(allow(resource)), GET_PRODUCT) is decision


def test_dollar_in_an_http_api_stage_is_literal() -> None:
    route = "arn:aws:execute-api:us-east-1:123456789012:abc/$default/GET/whoami"
    assert decide(document(allow("arn:aws:execute-api:us-east-1:123456789012:abc/$default/*")), route) is (
        Decision.ALLOW
    )


@pytest.mark.parametrize(
    ("action", "decision"),
    [
        ("execute-api:Invoke", Decision.ALLOW),
        ("EXECUTE-API:invoke", Decision.ALLOW),  # actions are case-insensitive
        ("execute-api:*", Decision.ALLOW),
        ("*", Decision.ALLOW),
        (["s3:GetObject", "execute-api:Invoke"], Decision.ALLOW),
        ("execute-api:ManageConnections", Decision.IMPLICIT_DENY),
        ("s3:*", Decision.IMPLICIT_DENY),
    ],
)
def test_action_must_cover_execute_api_invoke(action: Any, decision: Decision) -> None:
    assert decide(document(allow(GET_PRODUCT, action)), GET_PRODUCT) is decision


def test_deny_wins_over_allow_in_any_order() -> None:
    both = [allow(f"{STAGE}/*"), deny(f"{STAGE}/GET/products/*")]
    assert decide(document(*both), GET_PRODUCT) is Decision.EXPLICIT_DENY
    assert decide(document(*reversed(both)), GET_PRODUCT) is Decision.EXPLICIT_DENY
    # The Deny covers only its resources: other methods stay allowed.
    assert decide(document(*both), f"{STAGE}/POST/products") is Decision.ALLOW


def test_a_deny_alone_and_no_statement_that_applies_are_told_apart() -> None:
    assert decide(document(deny(GET_PRODUCT)), GET_PRODUCT) is Decision.EXPLICIT_DENY
    assert decide(document(deny(f"{STAGE}/POST/*")), GET_PRODUCT) is Decision.IMPLICIT_DENY


def test_not_resource_and_not_action() -> None:
    everything_but_delete = {
        "Effect": "Allow",
        "Action": "execute-api:Invoke",
        "NotResource": f"{STAGE}/DELETE/*",
    }
    assert decide(document(everything_but_delete), GET_PRODUCT) is Decision.ALLOW
    assert decide(document(everything_but_delete), f"{STAGE}/DELETE/products/42") is Decision.IMPLICIT_DENY
    not_invoke = {"Effect": "Allow", "NotAction": "execute-api:Invoke", "Resource": "*"}
    assert decide(document(not_invoke), GET_PRODUCT) is Decision.IMPLICIT_DENY


def test_a_single_statement_object_and_a_resource_list_are_read() -> None:
    single = {"Version": "2012-10-17", "Statement": allow([f"{STAGE}/POST/*", f"{STAGE}/GET/*"])}
    assert decide(single, GET_PRODUCT) is Decision.ALLOW


def test_conditions_are_not_evaluated_and_fail_closed() -> None:
    condition = {"IpAddress": {"aws:SourceIp": "203.0.113.0/24"}}
    assert decide(document(allow("*", Condition=condition)), GET_PRODUCT) is Decision.IMPLICIT_DENY
    assert decide(document(allow("*"), deny("*", Condition=condition)), GET_PRODUCT) is Decision.EXPLICIT_DENY


@pytest.mark.parametrize(
    "bad",
    [
        None,
        "Allow",
        {"Version": "2012-10-17"},
        document(),
        {"Statement": "not a statement"},
        document({"Effect": "allow", "Action": "*", "Resource": "*"}),  # Effect is case-sensitive
        document({"Effect": "Allow", "Resource": "*"}),
        document({"Effect": "Allow", "Action": "*"}),
        document({"Effect": "Allow", "Action": "*", "Resource": "*", "NotResource": "x"}),
        document({"Effect": "Allow", "Action": "*", "Resource": []}),
        document({"Effect": "Allow", "Action": 7, "Resource": "*"}),
    ],
)
def test_a_malformed_document_is_refused(bad: Any) -> None:
    with pytest.raises(Malformed):
        decide(bad, GET_PRODUCT)
