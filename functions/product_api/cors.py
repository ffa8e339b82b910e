"""The request headers a browser on another origin may send, and the response headers it may read.

The handlers' CORS configuration (product_api/rest.py) uses them. The HTTP API's gateway ignores the
functions' CORS headers and sends its CorsConfiguration's instead, so template.yaml repeats them
there; a contract test keeps the two equal. Kept apart from rest.py so the tests can read them
without building the Powertools objects that module builds at import.
"""

ALLOW_HEADERS = ("Authorization", "Content-Type", "X-Api-Key", "Idempotency-Key")
# A browser reads Idempotent-Replayed only if it is exposed.
EXPOSE_HEADERS = ("Idempotent-Replayed",)
