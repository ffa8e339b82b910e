"""Cognito pre token generation trigger (LambdaVersion V2_0): a person's groups become product scopes.

Cognito calls it before it issues a person's tokens: sign-in through the API or the hosted sign-in,
and every refresh. It answers with the scopes to add to and suppress from the access token
(product_api/group_scopes.py says which); Cognito applies them, suppression first. It needs no AWS
call, so it imports no boto3 and no Tracer: Cognito waits at most 5 s for it, cold start included.
"""

from __future__ import annotations

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

import os
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.data_classes import event_source
from aws_lambda_powertools.utilities.data_classes.cognito_user_pool_event import (
    PreTokenGenerationV2TriggerEvent,
)

from product_api.cold_start import resume_garbage_collection
from product_api.group_scopes import GroupScopes, decide

logger = Logger()
GROUP_SCOPES = GroupScopes.from_env(os.environ)


@logger.inject_lambda_context
@event_source(data_class=PreTokenGenerationV2TriggerEvent)
def lambda_handler(event: PreTokenGenerationV2TriggerEvent, context: Any) -> dict[str, Any]:
    request = event.request
    groups = request.group_configuration.groups_to_override
    decision = decide(GROUP_SCOPES, event.trigger_source, groups, request.scopes)
    logger.info(
        "product scopes decided",
        extra={
            "trigger_source": event.trigger_source,
            "client_id": event.caller_context.client_id,
            "groups": sorted(groups),
            "requested": sorted(request.scopes),
            "scopes": sorted(decision.scopes),
        },
    )
    # Written into the raw event: Powertools' response wrappers copy a null or empty
    # claimsAndScopeOverrideDetails (what Cognito sends) instead of writing into it.
    response = event.raw_event.setdefault("response", {})
    response["claimsAndScopeOverrideDetails"] = decision.override_details(
        request.group_configuration.raw_event
    )
    return event.raw_event


resume_garbage_collection()
