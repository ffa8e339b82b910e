"""POST /products"""

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.metrics import MetricUnit

from product_api import logic
from product_api.models import ProductInput
from product_api.observability import metrics, tracer
from product_api.rest import body_of, bootstrap, current_caller, json_response, lambda_handler_for

app, store = bootstrap()


@app.post("/products")
@tracer.capture_method
def create_product() -> Response:
    data = ProductInput.from_json(body_of(app))
    product = logic.create_product(store, current_caller(app), data)
    metrics.add_metric(name="ProductCreated", unit=MetricUnit.Count, value=1)
    # requestContext.path is the path the caller used, stage (or base path) included.
    location = f"{app.current_event.request_context.path.rstrip('/')}/{product.id}"
    return json_response(201, product.to_dict(), Location=location)


lambda_handler = lambda_handler_for(app)
