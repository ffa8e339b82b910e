"""Scan pages at a constant cost in the local DynamoDB (moto), with moto's own paging semantics.

moto's Table.scan sorts every item of the table and walks them from the first up to the page's
ExclusiveStartKey, on every page: a page of 20 cost 33 ms at 10^2 products and 1.9 s at 10^5. On
DynamoDB a page costs the same at any size. Here each table keeps its keys in order (a SortedDict,
kept up to date by Table.put_item and Table.delete_item, which every write goes through), and a scan
starts at its ExclusiveStartKey by bisection, then walks only the items it returns.

What a page holds is unchanged: the order (moto's: by the key attributes' values), Limit, the 1 MB
page size, ScanFilter and FilterExpression, ProjectionExpression, ScannedCount and LastEvaluatedKey
are moto's own, as tests/unit/cloud/test_ordered_scan.py checks against moto's scan. Index scans,
parallel scans (Segment) and start keys the index cannot place are left to moto's scan.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.models.table import RESULT_SIZE_LIMIT, Table
from sortedcontainers import SortedDict

_BATCH = 100  # keys taken from the index at a time, under its lock
_INDEX = "_local_ordered_keys"  # the table's attribute that holds its index
_making = threading.Lock()


class _KeyIndex:
    """The keys of one table's items in moto's scan order: sort key -> (hash key, range key)."""

    def __init__(self, table: Table):
        self.items = table.items  # the dict it was built from: a restored table gets a new one
        self.lock = threading.Lock()
        self.keys: SortedDict = SortedDict()
        for item in _all(table):
            self.keys[_sort_key(item.hash_key, item.range_key)] = (item.hash_key, item.range_key)

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        """None: a copy of the table (moto copies them to undo a failed transaction) makes its own."""

    def __reduce__(self) -> tuple[Any, ...]:
        """None: a table loaded from a snapshot (sam_local_cloud/aws_apis/snapshot.py) makes its own."""
        return (type(None), ())

    def add(self, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        with self.lock:
            self.keys[_sort_key(hash_key, range_key)] = (hash_key, range_key)

    def remove(self, hash_key: DynamoType, range_key: DynamoType | None) -> None:
        with self.lock:
            self.keys.pop(_sort_key(hash_key, range_key), None)

    def after(self, start: tuple[Any, ...] | None) -> Iterator[tuple[DynamoType, DynamoType | None]]:
        """Keys in order from just after `start` (from the first when None), a batch at a time."""
        while True:
            with self.lock:
                position = 0 if start is None else self.keys.bisect_right(start)
                batch = self.keys.items()[position : position + _BATCH]
            yield from (keys for _, keys in batch)
            if len(batch) < _BATCH:
                return
            start = batch[-1][0]


def _sort_key(hash_key: DynamoType, range_key: DynamoType | None) -> tuple[Any, ...]:
    """What moto sorts a table's items by: the key attributes' cast values (str, Decimal)."""
    return (hash_key.cast_value,) if range_key is None else (hash_key.cast_value, range_key.cast_value)


def _all(table: Table) -> Iterator[Any]:  # Items, as moto keeps them
    for entry in list(table.items.values()):
        if table.range_key_attr:
            yield from list(entry.values())
        else:
            yield entry


def _index(table: Table) -> _KeyIndex:
    """The table's index, made on its first write or scan (or anew when its items were replaced)."""
    index: _KeyIndex | None = table.__dict__.get(_INDEX)
    if index is None or index.items is not table.items:
        with _making:
            index = table.__dict__.get(_INDEX)
            if index is None or index.items is not table.items:
                index = table.__dict__[_INDEX] = _KeyIndex(table)
    return index


def _start_key(table: Table, exclusive_start_key: dict[str, Any] | None) -> tuple[Any, ...] | None:
    """The sort key of ExclusiveStartKey; ValueError when it is not one of the table's keys."""
    if exclusive_start_key is None:
        return None
    key_types: dict[str, str | None] = {table.hash_key_attr: table.hash_key_type}
    if table.range_key_attr:
        key_types[table.range_key_attr] = table.range_key_type
    try:
        values = [DynamoType(exclusive_start_key[name]) for name in key_types]
        cast = tuple(value.cast_value for value in values)
    except Exception:  # moto's own scan decides what a malformed key gets
        raise ValueError("not a key of this table") from None
    expected = [(kind, Decimal if kind == "N" else str) for kind in key_types.values()]
    if [(v.type, type(c)) for v, c in zip(values, cast, strict=True)] != expected:
        raise ValueError("not a key of this table")
    return cast


def scan(
    self: Table,
    filters: dict[str, Any],
    limit: int,
    exclusive_start_key: dict[str, Any],
    filter_expression: Any = None,
    index_name: str | None = None,
    consistent_read: bool = False,
    projection_expression: list[list[str]] | None = None,
    segments: Any = (None, None),
) -> tuple[list[Item], int, dict[str, Any] | None]:
    """moto's Table.scan, walking from the start key in the ordered index; the loop is moto's."""
    arguments = (filters, limit, exclusive_start_key, filter_expression, index_name, consistent_read)
    if index_name or tuple(segments) != (None, None):
        return _moto_scan(self, *arguments, projection_expression, segments)
    try:
        start = _start_key(self, exclusive_start_key)
    except ValueError:
        return _moto_scan(self, *arguments, projection_expression, segments)

    results: list[Item] = []
    result_size = 0
    scanned_count = 0
    last_evaluated_key = None
    for item in _items(self, start):
        reached_length_limit = len(results) == limit
        reached_size_limit = (result_size + item.size()) > RESULT_SIZE_LIMIT
        if reached_length_limit or reached_size_limit:
            last_evaluated_key = self._get_last_evaluated_key(results[-1], None)
            break

        passes_all_conditions = True
        for attribute_name in filters:
            attribute = item.attrs.get(attribute_name)
            (comparison_operator, comparison_objs) = filters[attribute_name]
            if attribute:
                if not attribute.compare(comparison_operator, comparison_objs):
                    passes_all_conditions = False
                    break
            elif comparison_operator == "NULL":
                continue
            else:
                passes_all_conditions = False
                break

        if passes_all_conditions:
            results.append(copy.deepcopy(item))
            result_size += item.size()
        scanned_count += 1

    if filter_expression is not None:
        results = [item for item in results if filter_expression.expr(item)]
    if projection_expression:
        results = [r.project(projection_expression) for r in results]
    return results, scanned_count, last_evaluated_key


def _items(table: Table, start: tuple[Any, ...] | None) -> Iterator[Any]:  # Items, as moto keeps them
    """The table's items in scan order from after `start`; one deleted meanwhile is skipped."""
    for hash_key, range_key in _index(table).after(start):
        entry = table.items.get(hash_key)
        item = entry.get(range_key) if range_key is not None and entry is not None else entry
        if item is not None:
            yield item


def _put_item(self: Table, *args: Any, **kwargs: Any) -> Item:
    item = _moto_put_item(self, *args, **kwargs)
    _index(self).add(item.hash_key, item.range_key)
    return item


def _delete_item(self: Table, hash_key: DynamoType, range_key: DynamoType | None) -> Item | None:
    item = _moto_delete_item(self, hash_key, range_key)
    if item is not None:
        _index(self).remove(item.hash_key, item.range_key)
    return item


_moto_scan = Table.scan
_moto_put_item = Table.put_item
_moto_delete_item = Table.delete_item


def use_ordered_scans() -> None:
    """Put the ordered scan in place of moto's, once (the local cloud does it when it starts)."""
    if Table.scan is scan:
        return
    Table.scan = scan  # type: ignore[method-assign]
    Table.put_item = _put_item  # type: ignore[method-assign]
    Table.delete_item = _delete_item  # type: ignore[method-assign]
