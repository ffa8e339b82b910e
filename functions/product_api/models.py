"""Pydantic models at the boundary: what callers send, what is stored, what callers get back."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, field_serializer

from product_api.currencies import ISO_4217

_UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
UUID_PATTERN = re.compile(_UUID)

ProductId = Annotated[str, StringConstraints(pattern=_UUID)]
Price = Annotated[Decimal, Field(ge=0, max_digits=14, decimal_places=2, allow_inf_nan=False)]


def _known_currency(code: str) -> str:
    if code not in ISO_4217:
        raise ValueError("must be an ISO 4217 currency code in use, such as EUR or USD")
    return code


Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_known_currency)]


class ProductInput(BaseModel):
    """The body of POST /products: the server makes the id."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    price: Price
    currency: Currency


class ProductUpdate(ProductInput):
    """The body of PUT /products/{id}: the whole product, with the version it was read at."""

    version: int = Field(ge=1, description="The version the caller last read; a stale one gives 409.")


class Product(BaseModel):
    """A stored product, as returned to callers (price as a decimal string, times in ISO 8601 UTC)."""

    model_config = ConfigDict(extra="ignore")

    id: ProductId
    name: str
    description: str | None = None
    price: Decimal
    currency: str
    version: int
    created_at: datetime
    updated_at: datetime
    created_by: str
    updated_by: str

    @field_serializer("price")
    def _two_places(self, price: Decimal) -> str:
        # DynamoDB keeps 19.90 as 19.9; callers always get money with two places, as a string.
        return f"{price.quantize(Decimal('0.01'))}"


class ProductPage(BaseModel):
    items: list[Product]
    next_token: str | None = None


class ListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    limit: int = Field(default=20, ge=1, le=100)
    next_token: str | None = Field(default=None, min_length=1)
