"""sam_local_cloud/aws_apis/ordered_scan.py: Scan pages from an ordered index, page for
page what moto's own scan returns.

Each test builds tables in moto (in process) and compares the ordered scan with moto's scan, which
the module keeps as `_moto_scan`, on the same table: items, ScannedCount and LastEvaluatedKey.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.dynamodb.models import dynamodb_backends
from moto.dynamodb.models.table import Table

from sam_local_cloud.aws_apis import ordered_scan
from tests.offline_aws import offline_aws
from tests.unit.cloud.support import REGION

ACCOUNT = "123456789012"


@pytest.fixture
def dynamodb(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    # The ordered scan in place for this test only, as use_ordered_scans() puts it for the cloud.
    monkeypatch.setattr(Table, "scan", ordered_scan.scan)
    monkeypatch.setattr(Table, "put_item", ordered_scan._put_item)
    monkeypatch.setattr(Table, "delete_item", ordered_scan._delete_item)
    with offline_aws(REGION):
        yield boto3.client("dynamodb", region_name=REGION)


def make_table(dynamodb: Any, name: str, hash_type: str, range_type: str | None = None) -> Table:
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    attributes = [{"AttributeName": "pk", "AttributeType": hash_type}]
    if range_type:
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        attributes.append({"AttributeName": "sk", "AttributeType": range_type})
    dynamodb.create_table(
        TableName=name, KeySchema=keys, AttributeDefinitions=attributes, BillingMode="PAY_PER_REQUEST"
    )
    return dynamodb_backends[ACCOUNT][REGION].get_table(name)


def key_value(kind: str, rng: random.Random) -> dict[str, str]:
    if kind == "N":
        return {"N": str(Decimal(rng.randint(-10_000, 10_000)) / rng.choice((1, 10, 100)))}
    return {"S": "".join(rng.choice("abcXYZ019-é") for _ in range(rng.randint(1, 8)))}


def fill(dynamodb: Any, table: Table, count: int, rng: random.Random, padding: int = 10) -> None:
    for _ in range(count):
        item = {"pk": key_value(table.hash_key_type, rng), "colour": {"S": rng.choice(["red", "blue"])}}
        if table.range_key_attr:
            item["sk"] = key_value(table.range_key_type, rng)
        item["padding"] = {"S": "x" * padding}
        dynamodb.put_item(TableName=table.name, Item=item)


def both_scans(table: Table, **arguments: Any) -> tuple[Any, Any]:
    """The ordered scan's page and moto's, for the same arguments (the ordered one never falls back)."""
    defaults: dict[str, Any] = {"filters": {}, "limit": None, "exclusive_start_key": None}
    call = {**defaults, **arguments}
    if call["exclusive_start_key"] is not None and not arguments.get("segments"):
        assert ordered_scan._start_key(table, call["exclusive_start_key"]) is not None
    ours = ordered_scan.scan(table, **call)
    theirs = ordered_scan._moto_scan(table, **copy.deepcopy(call))
    return ours, theirs


def assert_same_page(ours: Any, theirs: Any) -> None:
    (items, scanned, last), (moto_items, moto_scanned, moto_last) = ours, theirs
    assert [i.to_json() for i in items] == [i.to_json() for i in moto_items]
    assert (scanned, last) == (moto_scanned, moto_last)


def wire(last_evaluated_key: dict[str, Any] | None) -> dict[str, Any] | None:
    """LastEvaluatedKey as the client gets it and sends it back as ExclusiveStartKey."""
    if last_evaluated_key is None:
        return None
    return {name: value.to_json() for name, value in last_evaluated_key.items()}


def walk(table: Table, limit: int | None, **arguments: Any) -> list[Any]:
    """Every page from the first, each checked against moto's; the pages' items."""
    pages, start = [], None
    while True:
        ours, theirs = both_scans(table, limit=limit, exclusive_start_key=start, **arguments)
        assert_same_page(ours, theirs)
        pages.append(ours[0])
        start = wire(ours[2])
        if start is None:
            return pages


@pytest.mark.parametrize(("hash_type", "range_type"), [("S", None), ("N", None), ("S", "N"), ("N", "S")])
@pytest.mark.parametrize("limit", [1, 7, 50, None])
def test_every_page_is_motos_page(dynamodb: Any, hash_type: str, range_type: str | None, limit: int) -> None:
    rng = random.Random(f"{hash_type}{range_type}{limit}")
    table = make_table(dynamodb, "t", hash_type, range_type)
    fill(dynamodb, table, 120, rng)
    pages = walk(table, limit)
    keys = [(i.hash_key, i.range_key) for page in pages for i in page]
    assert len(keys) == len(set(keys)) == len(list(table.all_items()))


def test_a_page_ends_at_one_megabyte_as_motos_does(dynamodb: Any) -> None:
    table = make_table(dynamodb, "big", "S")
    fill(dynamodb, table, 40, random.Random(1), padding=100_000)
    pages = walk(table, limit=100)
    assert len(pages) > 3  # ten 100 KB items to a page


def test_filters_and_projections_give_motos_pages(dynamodb: Any) -> None:
    table = make_table(dynamodb, "filtered", "S")
    fill(dynamodb, table, 80, random.Random(2))
    walk(table, 9, filters={"colour": ("EQ", [ordered_scan.DynamoType({"S": "red"})])})
    responses = []
    for scan in (ordered_scan.scan, ordered_scan._moto_scan):
        Table.scan = scan  # type: ignore[method-assign] # the fixture puts the ordered scan back
        responses.append(
            dynamodb.scan(
                TableName="filtered",
                Limit=11,
                FilterExpression="colour = :c",
                ProjectionExpression="pk, colour",
                ExpressionAttributeValues={":c": {"S": "blue"}},
            )
        )
    for response in responses:
        response.pop("ResponseMetadata")
    assert responses[0] == responses[1]


def test_writes_between_pages_are_seen_as_moto_sees_them(dynamodb: Any) -> None:
    rng = random.Random(3)
    table = make_table(dynamodb, "busy", "S", "N")
    fill(dynamodb, table, 60, rng)
    ours, _ = both_scans(table, limit=10)
    start = wire(ours[2])
    fill(dynamodb, table, 30, rng)  # before and after the page's end
    for item in list(table.all_items())[::3]:
        dynamodb.delete_item(
            TableName="busy", Key={"pk": item.hash_key.to_json(), "sk": item.range_key.to_json()}
        )
    assert_same_page(*both_scans(table, limit=10, exclusive_start_key=start))
    walk(table, 10)


def test_a_start_key_no_longer_in_the_table_starts_after_where_it_was(dynamodb: Any) -> None:
    table = make_table(dynamodb, "gone", "S")
    fill(dynamodb, table, 30, random.Random(4))
    ours, _ = both_scans(table, limit=5)
    start = wire(ours[2])
    dynamodb.delete_item(TableName="gone", Key=start)
    assert_same_page(*both_scans(table, limit=5, exclusive_start_key=start))


def test_a_table_whose_items_were_replaced_is_indexed_anew(dynamodb: Any) -> None:
    table = make_table(dynamodb, "restored", "S")
    fill(dynamodb, table, 20, random.Random(5))
    walk(table, 6)
    table.items = copy.deepcopy(table.items)  # as moto's restore from a backup does
    fill(dynamodb, table, 5, random.Random(6))
    walk(table, 6)


def test_a_failed_transaction_is_undone_and_the_table_still_scans_in_order(dynamodb: Any) -> None:
    table = make_table(dynamodb, "undone", "S")
    fill(dynamodb, table, 12, random.Random(7))
    walk(table, 5)  # the table has its index now, which moto's undo copies with the table
    failing = [
        {"Put": {"TableName": "undone", "Item": {"pk": {"S": "added"}}}},
        {
            "ConditionCheck": {
                "TableName": "undone",
                "Key": {"pk": {"S": "absent"}},
                "ConditionExpression": "attribute_exists(pk)",
            }
        },
    ]
    with pytest.raises(ClientError, match="TransactionCanceledException"):
        dynamodb.transact_write_items(TransactItems=failing)
    table = dynamodb_backends[ACCOUNT][REGION].get_table("undone")
    pages = walk(table, 5)
    assert "added" not in [item.hash_key.value for page in pages for item in page]


def test_start_keys_it_cannot_place_and_index_scans_are_left_to_moto(
    dynamodb: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    table = make_table(dynamodb, "odd", "S")
    fill(dynamodb, table, 10, random.Random(7))
    calls = []
    monkeypatch.setattr(ordered_scan, "_moto_scan", lambda *a, **k: calls.append(a) or ([], 0, None))
    ordered_scan.scan(table, {}, 5, {"pk": {"N": "1"}})  # another type than the table's key
    ordered_scan.scan(table, {}, 5, {"other": {"S": "a"}})
    ordered_scan.scan(table, {}, 5, None, segments=(0, 2))
    assert len(calls) == 3


def test_a_page_reads_the_index_not_the_whole_table(dynamodb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """What makes a page's cost constant: moto's scan sorts all items (all_items) on every page."""
    table = make_table(dynamodb, "large", "S")
    fill(dynamodb, table, 2_000, random.Random(8), padding=1)
    ordered_scan.scan(table, {}, 20, None)  # builds the index
    monkeypatch.setattr(Table, "all_items", lambda self: pytest.fail("the whole table was read"))
    walked: list[int] = []  # items walked per page
    items = ordered_scan._items

    def counted(table: Table, start: Any) -> Iterator[Any]:
        walked.append(0)
        for item in items(table, start):
            walked[-1] += 1
            yield item

    monkeypatch.setattr(ordered_scan, "_items", counted)
    seen: set[Any] = set()
    start = None
    while True:
        page, _, last = ordered_scan.scan(table, {}, 20, start)
        seen |= {i.hash_key for i in page}
        start = wire(last)
        if start is None:
            break
    assert len(seen) == len(table.items) > 1_500
    assert max(walked) == 21  # the page's 20, and the next one, which tells moto's loop to stop


def test_use_ordered_scans_puts_the_scan_in_place_once(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("scan", "put_item", "delete_item"):
        monkeypatch.setattr(Table, name, getattr(Table, name))
    ordered_scan.use_ordered_scans()
    ordered_scan.use_ordered_scans()
    assert Table.scan is ordered_scan.scan
    assert Table.put_item is ordered_scan._put_item
