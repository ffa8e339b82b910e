"""The yardstick for the cold-start benchmark: the least a DynamoDB-backed function can do.

It imports boto3 and makes a DynamoDB client at module level (as any function must), and each
invocation does one GetItem. No Powertools, no pydantic: the functions are measured against this.
"""

import os

import boto3

_TABLE_NAME = os.environ["TABLE_NAME"]
_dynamodb = boto3.client("dynamodb")


def lambda_handler(event, context):
    product_id = (event.get("pathParameters") or {}).get("id", "bare")
    response = _dynamodb.get_item(TableName=_TABLE_NAME, Key={"id": {"S": product_id}})
    return {"statusCode": 200 if "Item" in response else 404, "body": ""}
