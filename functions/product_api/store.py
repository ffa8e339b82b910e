"""DynamoDB access for products. The only module that talks to boto3.

Writes are conditional so nothing is silently overwritten: creates with attribute_not_exists(id),
updates with the caller's version, deletes only what exists. Reads are strongly consistent so a
caller reads its own writes.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from product_api.errors import InvalidRequest, ProductAlreadyExists, ProductNotFound, VersionConflict
from product_api.models import UUID_PATTERN

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _to_item(values: dict[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in values.items() if v is not None}


def _from_item(item: dict[str, Any]) -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _failed_condition(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


def encode_page_token(last_key: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(last_key, separators=(",", ":")).encode()).decode()


PAGE_TOKEN_TEXT = re.compile(r"[A-Za-z0-9_-]{1,200}={0,2}")


def decode_page_token(token: str) -> dict[str, Any]:
    """The start key inside a next_token, if it is exactly one this API issues; anything else is a 400.

    A token is the table's own key, {"id": {"S": <product id>}}, in base64url: nothing else reaches
    the database, however well-formed.
    """
    invalid = InvalidRequest("is not a token this API issued", field="next_token")
    if not PAGE_TOKEN_TEXT.fullmatch(token):
        raise invalid
    try:
        key = json.loads(base64.urlsafe_b64decode(token))
        product_id = key["id"]["S"]
    except (binascii.Error, ValueError, TypeError, KeyError):  # not base64, not JSON, not a key
        raise invalid from None
    canonical = isinstance(product_id, str) and encode_page_token({"id": {"S": product_id}}) == token
    if not canonical or not UUID_PATTERN.fullmatch(product_id):
        raise invalid
    return key


class ProductStore:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self.table_name = table_name
        self.client = client or boto3.client("dynamodb")

    def get(self, product_id: str) -> dict[str, Any]:
        response = self.client.get_item(
            TableName=self.table_name, Key={"id": {"S": product_id}}, ConsistentRead=True
        )
        if "Item" not in response:
            raise ProductNotFound(product_id)
        return _from_item(response["Item"])

    def page(self, limit: int, start_key: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
        kwargs: dict[str, Any] = {"TableName": self.table_name, "Limit": limit, "ConsistentRead": True}
        if start_key:
            kwargs["ExclusiveStartKey"] = start_key
        response = self.client.scan(**kwargs)
        last_key = response.get("LastEvaluatedKey")
        items = [_from_item(item) for item in response.get("Items", [])]
        return items, encode_page_token(last_key) if last_key else None

    def create(self, values: dict[str, Any]) -> None:
        try:
            self.client.put_item(
                TableName=self.table_name,
                Item=_to_item(values),
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as error:
            if _failed_condition(error):
                raise ProductAlreadyExists(values["id"]) from None
            raise

    def update(self, product_id: str, expected_version: int, changes: dict[str, Any]) -> dict[str, Any]:
        """Apply `changes` if the stored version is `expected_version`; bump the version."""
        names = {"#version": "version"}
        values: dict[str, Any] = {":expected": {"N": str(expected_version)}, ":one": {"N": "1"}}
        sets = ["#version = #version + :one"]
        removes = []
        for i, (field, value) in enumerate(sorted(changes.items())):
            names[f"#f{i}"] = field
            if value is None:
                removes.append(f"#f{i}")
            else:
                values[f":v{i}"] = _serializer.serialize(value)
                sets.append(f"#f{i} = :v{i}")
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        try:
            response = self.client.update_item(
                TableName=self.table_name,
                Key={"id": {"S": product_id}},
                UpdateExpression=expression,
                ConditionExpression="attribute_exists(id) AND #version = :expected",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="ALL_NEW",
                ReturnValuesOnConditionCheckFailure="ALL_OLD",
            )
        except ClientError as error:
            if not _failed_condition(error):
                raise
            current: Any = error.response.get("Item")  # ALL_OLD: the item as it is now
            if not current:
                raise ProductNotFound(product_id) from None
            raise VersionConflict(product_id, expected_version, int(current["version"]["N"])) from None
        return _from_item(response["Attributes"])

    def delete(self, product_id: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table_name,
                Key={"id": {"S": product_id}},
                ConditionExpression="attribute_exists(id)",
            )
        except ClientError as error:
            if _failed_condition(error):
                raise ProductNotFound(product_id) from None
            raise
