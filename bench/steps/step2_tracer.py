"""Step 2 of `--steps`: step 1 plus Powertools Tracer, patching botocore only (as the functions do)."""

import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging import correlation_paths

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
_TABLE_NAME = os.environ["TABLE_NAME"]
_dynamodb = boto3.client("dynamodb")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    product_id = event["pathParameters"]["id"]
    response = _dynamodb.get_item(TableName=_TABLE_NAME, Key={"id": {"S": product_id}})
    return {"statusCode": 200 if "Item" in response else 404, "body": ""}
