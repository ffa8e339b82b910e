"""DynamoDB answers that are already their own wire JSON, written as they are (moto's serializer skipped).

moto's serializer walks every attribute value through its picker of aliases, which was most of what a
20-item Scan page cost (docs/performance.md). Items are already wire JSON: `_as_is` checks that, and
anything else still goes to moto's serializer.
"""

from __future__ import annotations

from typing import Any

from moto import settings
from moto.dynamodb.responses import DynamoResult


def _as_is(value: Any, shape: Any) -> bool:
    """Whether moto's JSON serializer would write `value` for `shape` unchanged (JSON-equal).

    True for dicts, lists, strings, booleans and numbers that already have the shape's members and
    types; False (so moto serializes it) for anything it would convert: blobs, timestamps, Decimals,
    objects, names it would alias, members set to None.
    """
    kind = shape.type_name
    if kind == "structure":
        return isinstance(value, dict) and all(
            name in shape.members and member is not None and _as_is(member, shape.members[name])
            for name, member in value.items()
        )
    if kind == "map":
        return isinstance(value, dict) and all(
            isinstance(key, str) and _as_is(member, shape.value) for key, member in value.items()
        )
    if kind == "list":
        return isinstance(value, list) and all(_as_is(member, shape.member) for member in value)
    if kind == "string":
        return isinstance(value, str) and not shape.serialization.get("jsonvalue")
    if kind == "boolean":
        return isinstance(value, bool)
    if kind in ("integer", "long"):
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("float", "double"):
        return isinstance(value, float)
    return False


def _dynamodb_result(self: Any, context: Any) -> Any:
    """A DynamoDB answer that is already its wire JSON (items are) is written as it is.

    moto's serializer walks every attribute value through its picker of aliases, which was most of
    what a 20-item Scan page cost (docs/performance.md). Anything else goes to moto's serializer.
    """
    shape = context.operation_model.output_shape
    if isinstance(self.result, Exception) or shape is None or not _as_is(self.result, shape):
        return _moto_dynamodb_result(self, context)
    serializer = context.serializer_class(
        operation_model=context.operation_model, pretty_print=settings.PRETTIFY_RESPONSES
    )
    response = serializer._serialized_result_to_response(
        serializer._create_default_response(), self.result, shape, self.result
    )
    return response["status_code"], response["headers"], response["body"]


_moto_dynamodb_result = DynamoResult.execute_result


def use_plain_dynamodb_results() -> None:
    """DynamoDB answers written without moto's serializer when they need no conversion (once)."""
    DynamoResult.execute_result = _dynamodb_result  # type: ignore[method-assign]
