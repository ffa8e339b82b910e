"""GET /products/{id}"""

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

from aws_lambda_powertools.event_handler import Response

from product_api import logic
from product_api.observability import tracer
from product_api.rest import bootstrap, json_response, lambda_handler_for

app, store = bootstrap()


@app.get("/products/<product_id>")
@tracer.capture_method
def get_product(product_id: str) -> Response:
    return json_response(200, logic.get_product(store, product_id).to_dict())


lambda_handler = lambda_handler_for(app)
