"""The road not taken, against step 4: step 3 plus one pydantic model validating and serialising the item."""

import os
from datetime import datetime
from decimal import Decimal
from typing import Annotated

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from boto3.dynamodb.types import TypeDeserializer
from pydantic import BaseModel, ConfigDict, StringConstraints

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
ProductId = Annotated[str, StringConstraints(pattern=_UUID)]


class Product(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: ProductId
    name: str
    description: str | None = None
    price: Decimal
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime


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
    return Response(200, content_types.APPLICATION_JSON, Product.model_validate(item).model_dump_json())


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event, context):
    return app.resolve(event, context)
