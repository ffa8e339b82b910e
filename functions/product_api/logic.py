"""What the API does, with no HTTP in it: each function takes a caller and models, and product ids
the HTTP edge has checked (product_api/rest.py, `check_path_parameters`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from product_api.caller import Caller
from product_api.models import (
    ListQuery,
    Product,
    ProductInput,
    ProductPage,
    ProductUpdate,
)
from product_api.store import ProductStore, decode_page_token


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def get_product(store: ProductStore, product_id: str) -> Product:
    return Product.from_item(store.get(product_id))


def list_products(store: ProductStore, query: ListQuery) -> ProductPage:
    start_key = decode_page_token(query.next_token) if query.next_token else None
    items, next_token = store.page(query.limit, start_key)
    return ProductPage([Product.from_item(i) for i in items], next_token)


def create_product(store: ProductStore, caller: Caller, data: ProductInput) -> Product:
    now = _now()
    values = {
        **data.values(),
        "id": str(uuid.uuid4()),
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "created_by": caller.principal,
        "updated_by": caller.principal,
    }
    store.create(values)
    return Product.from_item(values)


def update_product(store: ProductStore, caller: Caller, product_id: str, data: ProductUpdate) -> Product:
    changes = data.values()
    changes.update(updated_at=_now(), updated_by=caller.principal)
    return Product.from_item(store.update(product_id, data.version, changes))


def delete_product(store: ProductStore, product_id: str) -> None:
    store.delete(product_id)
