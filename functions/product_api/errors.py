"""Domain errors. The data and logic layers raise them; rest.py maps each to HTTP once."""

from __future__ import annotations


class ProductError(Exception):
    """Base of the errors a caller can cause."""


class InvalidRequest(ProductError):
    """The request is malformed (400): `field` says where (`body` for the body as a whole)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(f"{field}: {message}")
        self.message = message
        self.field = field


class UnsupportedMediaType(InvalidRequest):
    """The body is not JSON by its Content-Type (415)."""

    def __init__(self) -> None:
        super().__init__("must be application/json", field="Content-Type")


class IdempotencyKeyReused(InvalidRequest):
    """The Idempotency-Key was sent before with another body (422)."""

    def __init__(self) -> None:
        super().__init__(
            "was already used with a different body: send a new key for a new product",
            field="Idempotency-Key",
        )


class IdempotencyKeyInProgress(ProductError):
    """A request with the same Idempotency-Key is still running (409)."""

    def __init__(self) -> None:
        super().__init__("a request with this Idempotency-Key is still in progress: retry in a moment")


class ProductNotFound(ProductError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id} not found")
        self.product_id = product_id


class ProductAlreadyExists(ProductError):
    def __init__(self, product_id: str) -> None:
        super().__init__(f"product {product_id} already exists")
        self.product_id = product_id


class VersionConflict(ProductError):
    def __init__(self, product_id: str, expected: int, current: int) -> None:
        super().__init__(
            f"product {product_id} is at version {current}, not {expected}: read it again and retry"
        )
        self.product_id = product_id
        self.expected = expected
        self.current = current


class WrongTokenUse(ProductError):
    """An access token on a route without scopes, or an ID token on a scoped one (403; the gateway
    should have said 401 first)."""

    def __init__(self, expected: str) -> None:
        super().__init__(f"this route takes an {expected} token")
        self.expected = expected


class MissingScope(ProductError):
    """The caller's token lacks the route's scope (403; the gateway should have said 401 first)."""

    def __init__(self, required: frozenset[str]) -> None:
        super().__init__(f"the token lacks the scope this route needs: one of {', '.join(sorted(required))}")
        self.required = required
