"""PUT /products/{id}: replaces the product if `version` is the stored one (else 409)."""

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from product_api import logic
from product_api.models import ProductUpdate
from product_api.observability import metrics, tracer
from product_api.rest import body_of, bootstrap, current_caller, json_response, lambda_handler_for

app, store = bootstrap()


@app.put("/products/<product_id>")
@tracer.capture_method
def update_product(product_id: str) -> Response:
    data = ProductUpdate.from_json(body_of(app))
    product = logic.update_product(store, current_caller(app), product_id, data)
    metrics.add_metric(name="ProductUpdated", unit=MetricUnit.Count, value=1)
    return json_response(200, product.to_dict())


lambda_handler = lambda_handler_for(app)
