"""DELETE /products/{id}"""

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from product_api import logic
from product_api.observability import metrics, tracer
from product_api.rest import bootstrap, json_response, lambda_handler_for

app, store = bootstrap()


@app.delete("/products/<product_id>")
@tracer.capture_method
def delete_product(product_id: str) -> Response:
    logic.delete_product(store, product_id)
    metrics.add_metric(name="ProductDeleted", unit=MetricUnit.Count, value=1)
    return json_response(204)


lambda_handler = lambda_handler_for(app)
