"""POST /products, idempotent with an Idempotency-Key header (product_api/idempotency.py)"""

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

import os

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from product_api import logic
from product_api.idempotency import IdempotentCreates, Replayed, idempotency_key
from product_api.models import ProductInput
from product_api.observability import metrics, tracer
from product_api.rest import (
    body_of,
    bootstrap,
    current_caller,
    json_response,
    lambda_handler_for,
    request_path,
)
from product_api.settings import Settings

settings = Settings.from_env(os.environ)
app, store = bootstrap(settings)
creates = IdempotentCreates(settings.idempotency_table_name, store.client)


@app.post("/products")
@tracer.capture_method
def create_product() -> Response:
    data = ProductInput.from_json(body_of(app))
    caller = current_caller(app)
    key = idempotency_key(app.current_event.headers)

    def create() -> dict:
        product = logic.create_product(store, caller, data).to_dict()
        metrics.add_metric(name="ProductCreated", unit=MetricUnit.Count, value=1)
        return product

    if key is None:
        product = create()
    else:
        product = creates.run(
            create, caller=caller.principal, key=key, product=data, lambda_context=app.lambda_context
        )
    location = f"{request_path(app).rstrip('/')}/{product['id']}"
    replayed = {"Idempotent-Replayed": "true"} if isinstance(product, Replayed) else {}
    return json_response(201, product, Location=location, **replayed)


lambda_handler = lambda_handler_for(app)
