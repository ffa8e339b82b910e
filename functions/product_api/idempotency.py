"""Idempotent creates: a retried `POST /products` with the same Idempotency-Key gets the first response.

Powertools' idempotency utility keeps one record per caller and key in the idempotency table: first
a hash of the request (the product as validated) and "in progress", then the response. A retry with
the same key and product returns that response and creates nothing; with another product it is 422;
while the first request still runs it is 409. A record counts for EXPIRES_AFTER_SECONDS; the table's
TTL deletes it some time after. Keys are per caller: two clients may use the same key.

Only the function that creates imports this module (and so the utility).
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)

from product_api.errors import IdempotencyKeyInProgress, IdempotencyKeyReused, InvalidRequest
from product_api.models import CENT, ProductInput
from product_api.settings import SettingsError

HEADER = "Idempotency-Key"
EXPIRES_AFTER_SECONDS = 24 * 60 * 60
KEY_TEXT = re.compile(r"[\x21-\x7e]{1,255}")  # visible ASCII: a UUID, a hash, an order number


def idempotency_key(headers: Mapping[str, str]) -> str | None:
    """The request's Idempotency-Key (headers looked up without regard to case), if it sent one."""
    key = headers.get(HEADER)
    if key is not None and not KEY_TEXT.fullmatch(key):
        raise InvalidRequest("must be 1 to 255 visible ASCII characters, such as a UUID", field=HEADER)
    return key


def _create(request: dict[str, Any], create: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """What the utility runs once: `request` is what it hashes, `create` what it calls. The product is
    kept as the JSON text the caller got: the utility stores a response as JSON with its keys sorted,
    so a replay of the product itself would be the same JSON but not the same bytes."""
    return {STORED: json.dumps(create())}


STORED = "product_json"


class Replayed(dict):
    """A response stored by an earlier request with the same key, returned again."""


def _replayed(response: Any, idempotent_data: Any) -> Replayed:
    # Records stored before the product was kept as text hold the product itself (sorted keys).
    return Replayed(json.loads(response[STORED]) if STORED in response else response)


class IdempotentCreates:
    """Runs a create at most once per caller and Idempotency-Key."""

    def __init__(self, table_name: str | None, dynamodb_client: Any) -> None:
        if not table_name:
            raise SettingsError("missing environment variable: IDEMPOTENCY_TABLE_NAME")
        self._config = IdempotencyConfig(
            event_key_jmespath="[caller, key]",
            payload_validation_jmespath="product",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=EXPIRES_AFTER_SECONDS,
            hash_function="sha256",
            response_hook=_replayed,
        )
        self._once = idempotent_function(
            _create,
            data_keyword_argument="request",
            config=self._config,
            persistence_store=DynamoDBPersistenceLayer(table_name=table_name, boto3_client=dynamodb_client),
        )

    def run(
        self,
        create: Callable[[], dict[str, Any]],
        *,
        caller: str,
        key: str,
        product: ProductInput,
        lambda_context: Any,
    ) -> dict[str, Any]:
        """`create()`'s response, or the one stored for this caller and key (then a Replayed)."""
        self._config.register_lambda_context(lambda_context)  # an in-progress record ends with the call
        # The product as it would be stored: 19.9 and "19.90" are the same request.
        fingerprint = {**product.values(), "price": f"{product.price.quantize(CENT)}"}
        created: list[dict[str, Any]] = []

        def create_once() -> dict[str, Any]:
            created.append(create())
            return created[0]

        try:
            request = {"caller": caller, "key": key, "product": fingerprint}
            answer = self._once(request=request, create=create_once)
        except IdempotencyValidationError:
            raise IdempotencyKeyReused from None
        except IdempotencyAlreadyInProgressError:
            raise IdempotencyKeyInProgress from None
        return created[0] if created else answer
