"""Step 3 of `--steps`: step 2 plus the APIGatewayRestResolver (CORS, one route), no pydantic."""

import json
import os

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from boto3.dynamodb.types import TypeDeserializer

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=600))
_TABLE_NAME = os.environ["TABLE_NAME"]
_dynamodb = boto3.client("dynamodb")
_deserializer = TypeDeserializer()


@app.get("/products/<product_id>")
@tracer.capture_method
def get_product(product_id: str) -> Response:
    response = _dynamodb.get_item(TableName=_TABLE_NAME, Key={"id": {"S": product_id}})
    item = {k: _deserializer.deserialize(v) for k, v in response["Item"].items()}
    return Response(200, content_types.APPLICATION_JSON, json.dumps(item, default=str))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    return app.resolve(event, context)
