"""Step 4 of `--steps`: step 3 plus a JSON Schema check (fastjsonschema, compiled once) of the item."""

import json
import os

import boto3
import fastjsonschema
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from boto3.dynamodb.types import TypeDeserializer

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PRODUCT_SCHEMA = {
    "type": "object",
    "required": ["id", "name", "price", "currency", "version", "created_at", "updated_at"],
    "properties": {
        "id": {"type": "string", "pattern": _UUID},
        "name": {"type": "string", "minLength": 1, "maxLength": 200},
        "description": {"type": ["string", "null"], "maxLength": 2000},
        "price": {"type": ["number", "string"]},
        "currency": {"type": "string"},
        "version": {"type": "number", "minimum": 1},
        "created_at": {"type": "string"},
        "updated_at": {"type": "string"},
    },
}

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=("botocore",))
app = APIGatewayRestResolver(cors=CORSConfig(allow_origin="*", max_age=600))
_TABLE_NAME = os.environ["TABLE_NAME"]
_dynamodb = boto3.client("dynamodb")
_deserializer = TypeDeserializer()
_validate = fastjsonschema.compile(PRODUCT_SCHEMA)


@app.get("/products/<product_id>")
@tracer.capture_method
def get_product(product_id: str) -> Response:
    response = _dynamodb.get_item(TableName=_TABLE_NAME, Key={"id": {"S": product_id}})
    item = _validate({k: _deserializer.deserialize(v) for k, v in response["Item"].items()})
    return Response(200, content_types.APPLICATION_JSON, json.dumps(item, default=str))


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    return app.resolve(event, context)
