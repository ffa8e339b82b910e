"""GET /me: the caller as the handler sees them. The route has no scopes, so it takes an ID token."""

from product_api.cold_start import pause_garbage_collection

pause_garbage_collection()  # before any other import: product_api/cold_start.py says why

import os

from aws_lambda_powertools.event_handler import Response

from product_api.observability import tracer
from product_api.rest import create_app, current_caller, json_response, lambda_handler_for
from product_api.settings import Settings

# No ProductStore: this route reads the token's claims, never the table.
app = create_app(Settings.from_env(os.environ))


@app.get("/me")
@tracer.capture_method
def get_me() -> Response:
    caller = current_caller(app)
    return json_response(
        200,
        {
            "username": caller.username,
            "email": caller.email,
            "groups": sorted(caller.groups),
            "token_use": caller.token_use,
            "auth_time": caller.auth_time,
        },
    )


lambda_handler = lambda_handler_for(app)
