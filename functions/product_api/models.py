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

# Always used with fullmatch: `$` would let a trailing newline through.
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
ID_FORMAT = "must be a product id (a lowercase UUID)"
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
            data = json.loads(
                body, parse_float=_json_number, parse_constant=_not_json, object_pairs_hook=_checked_object
            )
        except RecursionError:
            raise InvalidRequest("is nested too deeply", field="body") from None
        except ValueError:
            raise InvalidRequest("is not valid JSON", field="body") from None
        if isinstance(data, dict):
            # Surrounding blanks never count: "  " is an empty name. Only blanks: other control
            # characters are refused, wherever they are.
            data = {k: v.strip(" \t\r\n") if isinstance(v, str) else v for k, v in data.items()}
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
        if error.rule == "pattern":
            return InvalidRequest("must not contain control characters", field=field)
        return InvalidRequest(error.message.removeprefix(f"{error.name} "), field=field)


def _json_number(text: str) -> int | Decimal:
    """A number written with a fraction or exponent: exact, as a Decimal. A whole one (2.0, 1e2) is an
    int, as JSON Schema's "integer" counts it; a huge one stays a Decimal rather than become a huge int."""
    number = Decimal(text)
    if number == number.to_integral_value() and number.adjusted() < 20:
        return int(number)
    return number


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON")


def _checked_object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose keys are unique and whose text can be stored.

    Python's json keeps the last of duplicate keys, so what the caller meant would be a guess. A lone
    surrogate (`"\\ud800"`) is valid JSON but not Unicode: the DynamoDB client cannot encode it.
    """
    data: dict[str, Any] = {}
    for key, value in pairs:
        if key in data:
            raise InvalidRequest("appears more than once", field=key)
        for text in (key, value) if isinstance(value, str) else (key,):
            try:
                text.encode()
            except UnicodeEncodeError:
                raise InvalidRequest("must not contain unpaired surrogates", field=key) from None
        data[key] = value
    return data


# Stored text has no control characters (C0, DEL, C1); a description may have tabs and line breaks.
NAME_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
DESCRIPTION_PATTERN = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]*$"
# `examples` are annotations (no validator reads them): the OpenAPI document shows them, and the API
# page fills its sample bodies with them (price and currency: scripts/openapi.py).
_PRODUCT_FIELDS: dict[str, Any] = {
    "name": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "pattern": NAME_PATTERN,
        "examples": ["Kettle"],
    },
    "description": {
        "type": ["string", "null"],
        "maxLength": 2000,
        "pattern": DESCRIPTION_PATTERN,
        "examples": ["Stainless steel, 1.7 litres"],
    },
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
        # The maximum keeps it exact in every JSON client (2**53 - 1) and within DynamoDB's numbers.
        "properties": {
            **_PRODUCT_FIELDS,
            "version": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1, "examples": [1]},
        },
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


# What callers get back: Product.to_dict() and ProductPage.to_dict(). The OpenAPI document
# (docs/openapi.json) takes them from here, and the handler tests check each response against them.
PRODUCT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": [
        "id",
        "name",
        "description",
        "price",
        "currency",
        "version",
        "created_at",
        "updated_at",
        "created_by",
        "updated_by",
    ],
    "properties": {
        "id": {
            "type": "string",
            "format": "uuid",
            "pattern": f"^{UUID_PATTERN.pattern}$",
            "examples": ["3f0c2a4e-8b1d-4c6a-9e2f-7d5b1a0c9e84"],
        },
        "name": _PRODUCT_FIELDS["name"],
        "description": _PRODUCT_FIELDS["description"],
        "price": {"type": "string", "pattern": r"^[0-9]{1,12}\.[0-9]{2}$", "examples": ["19.90"]},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$", "examples": ["EUR"]},
        "version": PRODUCT_UPDATE.schema["properties"]["version"],
        "created_at": {"type": "string", "format": "date-time", "examples": ["2026-03-02T09:15:27.481Z"]},
        "updated_at": {"type": "string", "format": "date-time", "examples": ["2026-03-02T09:15:27.481Z"]},
        "created_by": {
            "type": "string",
            "description": "the username of a person, the client id of a machine",
            "examples": ["editor@example.com"],
        },
        "updated_by": {
            "type": "string",
            "description": "the username of a person, the client id of a machine",
            "examples": ["editor@example.com"],
        },
    },
}
PRODUCT_PAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["items", "next_token"],
    "properties": {
        "items": {"type": "array", "items": PRODUCT_SCHEMA, "maxItems": PAGE_SIZE_MAX},
        "next_token": {
            "type": ["string", "null"],
            "description": "pass it as next_token for the next page; null on the last page",
            "examples": [None],
        },
    },
}

# The bodies of error responses (product_api/rest.py makes them).
CALLER_SCHEMA: dict[str, Any] = {
    "description": "GET /me: the caller as the handler sees them, from their ID token's claims",
    "type": "object",
    "additionalProperties": False,
    "required": ["username", "email", "groups", "token_use", "auth_time"],
    "properties": {
        "username": {"type": ["string", "null"], "examples": ["editor@example.com"]},
        "email": {"type": ["string", "null"], "examples": ["editor@example.com"]},
        "groups": {"type": "array", "items": {"type": "string"}, "examples": [["product-editors"]]},
        "token_use": {"type": "string", "enum": ["id"]},
        "auth_time": {"type": ["integer", "null"], "description": "epoch seconds", "examples": [1772442927]},
    },
}
MESSAGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "what is wrong"},
        "current_version": {"type": "integer", "description": "409 on PUT: the version stored now"},
        "request_id": {
            "type": ["string", "null"],
            "description": "500: the request id in the function's logs",
        },
    },
}
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["message", "errors"],
    "properties": {
        "message": {"type": "string", "examples": ["invalid request"]},
        "errors": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["field", "message"],
                "properties": {
                    "field": {
                        "type": "string",
                        "description": "a body field, a header, a query or path parameter",
                        "examples": ["currency"],
                    },
                    "message": {
                        "type": "string",
                        "examples": ["must be an ISO 4217 currency code in use, such as EUR or USD"],
                    },
                },
            },
        },
    },
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
