"""GET /products?limit=&next_token="""

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

from aws_lambda_powertools.event_handler import Response

from product_api import logic
from product_api.models import ListQuery
from product_api.observability import tracer
from product_api.rest import bootstrap, json_response, lambda_handler_for

app, store = bootstrap()


@app.get("/products")
@tracer.capture_method
def list_products() -> Response:
    query = ListQuery.from_query(app.current_event.query_string_parameters)
    return json_response(200, logic.list_products(store, query).to_dict())


lambda_handler = lambda_handler_for(app)
