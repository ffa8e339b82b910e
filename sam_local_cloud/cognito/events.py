"""Cognito's pre token generation event, in the shape Cognito sends it (docs/aws-behaviour.md §6).

One builder for the local cloud, the tests and the sample events.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

SDK_VERSION = "aws-sdk-unknown-unknown"  # what Cognito sends when it cannot tell the caller's SDK


def event_attributes(attributes: Mapping[str, str], status: str) -> dict[str, str]:
    """A user's attributes as Cognito's trigger events show them: `sub`, then the user's status."""
    return {"sub": attributes["sub"], "cognito:user_status": status, **attributes}


def pre_token_generation_event(
    *,
    trigger_source: str,
    region: str,
    user_pool_id: str,
    username: str,
    client_id: str,
    user_attributes: Mapping[str, str],
    groups: Iterable[str],
    scopes: Iterable[str],
    iam_roles: Iterable[str] = (),
    version: str = "2",
    client_metadata: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Cognito's pre token generation event (docs/aws-behaviour.md §6), for LambdaVersion V1_0 ("1"),
    V2_0 ("2") or V3_0 ("3").

    `scopes` are the scopes asked for: `aws.cognito.signin.user.admin` alone from the sign-in API,
    those of the authorize request from the hosted sign-in, the sign-in's own at a refresh. Version 1
    has no scopes, and answers in `claimsOverrideDetails` instead of `claimsAndScopeOverrideDetails`.
    """
    request: dict[str, Any] = {
        "userAttributes": dict(user_attributes),
        "groupConfiguration": {"groupsToOverride": list(groups), "iamRolesToOverride": list(iam_roles)},
    }
    if version != "1":
        request["scopes"] = list(scopes)
    if client_metadata:  # the caller's ClientMetadata, when the operation took some
        request["clientMetadata"] = dict(client_metadata)
    answer = "claimsOverrideDetails" if version == "1" else "claimsAndScopeOverrideDetails"
    return {
        "version": version,
        "triggerSource": trigger_source,
        "region": region,
        "userPoolId": user_pool_id,
        "userName": username,
        "callerContext": {"awsSdkVersion": SDK_VERSION, "clientId": client_id},
        "request": request,
        "response": {answer: None},
    }
