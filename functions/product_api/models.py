"""The boundary: what callers send, what is stored, what callers get back.

Request bodies are checked against JSON Schema, compiled once by fastjsonschema (the engine of
Powertools' validation utility, shipped in the Powertools layer). Two rules JSON Schema cannot say
well, money and currency codes, follow in code. Why not pydantic: docs/decisions.md §10.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

import fastjsonschema

from product_api.currencies import ISO_4217
from product_api.errors import InvalidRequest

UUID_PATTERN = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CENT = Decimal("0.01")
MAX_PRICE = Decimal(10) ** 12  # twelve digits before the point, two after
PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX = 20, 100


class BodySchema:
    """A JSON Schema for a request body, compiled on first use: only functions that take a body pay."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self.schema = schema
        self._validate: Callable[[Any], Any] | None = None

    def check(self, body: str) -> dict[str, Any]:
        """The parsed body, valid against the schema, or InvalidRequest naming the first bad field."""
        try:
            # Decimal keeps 19.99 exact; NaN and Infinity are not JSON, whatever Python's json accepts.
            data = json.loads(body, parse_float=Decimal, parse_constant=_not_json)
        except ValueError:
            raise InvalidRequest("is not valid JSON", field="body") from None
        if isinstance(data, dict):
            # Surrounding blanks never count: "  " is an empty name.
            data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
        if self._validate is None:
            self._validate = fastjsonschema.compile(self.schema)
        try:
            return self._validate(data)
        except fastjsonschema.JsonSchemaValueException as error:
            raise self._invalid(error, data) from None

    def _invalid(self, error: fastjsonschema.JsonSchemaValueException, data: Any) -> InvalidRequest:
        # fastjsonschema stops at the first error and words it as `data.<field> must ...`.
        if error.name == "data" and error.rule == "type":
            return InvalidRequest("must be a JSON object", field="body")
        if error.rule == "additionalProperties":
            unknown = sorted(set(data) - set(self.schema["properties"]))
            return InvalidRequest("unknown field", field=unknown[0])
        if error.rule == "required":
            missing = [name for name in self.schema["required"] if name not in data]
            return InvalidRequest("required", field=missing[0])
        field = ".".join(str(part) for part in error.path[1:])
        return InvalidRequest(error.message.removeprefix(f"{error.name} "), field=field)


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


_PRODUCT_FIELDS: dict[str, Any] = {
    "name": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": {"type": ["string", "null"], "maxLength": 2000},
    "price": {"type": ["number", "string"]},  # then parse_price()
    "currency": {"type": "string"},  # then parse_currency()
}
PRODUCT_INPUT = BodySchema(
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "price", "currency"],
        "properties": _PRODUCT_FIELDS,
    }
)
PRODUCT_UPDATE = BodySchema(
    {
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "price", "currency", "version"],
        # version: the one the caller last read; a stale one gives 409.
        "properties": {**_PRODUCT_FIELDS, "version": {"type": "integer", "minimum": 1}},
    }
)


_DECIMAL_TEXT = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def parse_price(value: int | Decimal | str) -> Decimal:
    """A JSON number, or a string such as "19.90" (Decimal alone would also take "1_000" or "NaN")."""
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):
        raise InvalidRequest("must be a decimal number, such as 19.90", field="price")
    price = Decimal(value)
    if price < 0:
        raise InvalidRequest("must be greater than or equal to 0", field="price")
    if price >= MAX_PRICE:
        raise InvalidRequest(f"must be less than {MAX_PRICE:f}", field="price")
    if price != price.quantize(CENT):
        raise InvalidRequest("must have at most 2 decimal places", field="price")
    return price.copy_abs() if price.is_zero() else price  # -0.0 is 0


def parse_currency(code: str) -> str:
    if code not in ISO_4217:
        raise InvalidRequest("must be an ISO 4217 currency code in use, such as EUR or USD", field="currency")
    return code


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductInput:
    """The body of POST /products: the server makes the id."""

    name: str
    description: str | None
    price: Decimal
    currency: str

    @classmethod
    def from_json(cls, body: str) -> ProductInput:
        data = PRODUCT_INPUT.check(body)
        return cls(**_product_fields(data))

    def values(self) -> dict[str, Any]:
        """The product's own fields, to store; a version, if any, is the store's condition, not a value."""
        return {k: v for k, v in asdict(self).items() if k != "version"}


@dataclass(frozen=True, slots=True, kw_only=True)
class ProductUpdate(ProductInput):
    """The body of PUT /products/{id}: the whole product, with the version it was read at."""

    version: int

    @classmethod
    def from_json(cls, body: str) -> ProductUpdate:
        data = PRODUCT_UPDATE.check(body)
        return cls(**_product_fields(data), version=data["version"])


def _product_fields(data: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": data["name"],
        "description": data.get("description"),
        "price": parse_price(data["price"]),
        "currency": parse_currency(data["currency"]),
    }


@dataclass(frozen=True, slots=True, kw_only=True)
class Product:
    """A stored product, as returned to callers (price as a decimal string, times in ISO 8601 UTC)."""

    id: str
    name: str
    description: str | None = None
    price: Decimal
    currency: str
    version: int
    created_at: str
    updated_at: str
    created_by: str
    updated_by: str

    @classmethod
    def from_item(cls, item: Mapping[str, Any]) -> Product:
        """From a stored item (as the DynamoDB deserializer gives it); unknown attributes are left out."""
        return cls(
            id=item["id"],
            name=item["name"],
            description=item.get("description"),
            price=Decimal(item["price"]),
            currency=item["currency"],
            version=int(item["version"]),
            created_at=item["created_at"],
            updated_at=item["updated_at"],
            created_by=item["created_by"],
            updated_by=item["updated_by"],
        )

    def to_dict(self) -> dict[str, Any]:
        # DynamoDB keeps 19.90 as 19.9; callers always get money with two places, as a string.
        return {**asdict(self), "price": f"{self.price.quantize(CENT)}"}


@dataclass(frozen=True, slots=True)
class ProductPage:
    items: list[Product]
    next_token: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"items": [item.to_dict() for item in self.items], "next_token": self.next_token}


@dataclass(frozen=True, slots=True)
class ListQuery:
    limit: int = PAGE_SIZE_DEFAULT
    next_token: str | None = None

    @classmethod
    def from_query(cls, params: Mapping[str, str] | None) -> ListQuery:
        """From the query string; parameters it does not know are ignored, as API Gateway does."""
        params = params or {}
        limit = params.get("limit", str(PAGE_SIZE_DEFAULT))
        if not re.fullmatch(r"[0-9]{1,3}", limit) or not 1 <= int(limit) <= PAGE_SIZE_MAX:
            raise InvalidRequest(f"must be a whole number from 1 to {PAGE_SIZE_MAX}", field="limit")
        next_token = params.get("next_token")
        if next_token == "":
            raise InvalidRequest("must not be empty: leave it out for the first page", field="next_token")
        return cls(limit=int(limit), next_token=next_token)
