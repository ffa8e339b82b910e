"""sam_local_cloud/apigateway/throttle.py: stage and usage-plan token buckets, and usage-plan quotas
(docs/aws-behaviour.md §7)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from sam_local_cloud.apigateway.errors import QuotaExceeded, Throttled
from sam_local_cloud.apigateway.throttle import QuotaCounter, Throttling, TokenBucket
from sam_local_cloud.cloudformation.spec import Quota, Throttle

# Refills one token every ~3 hours: no refill during a test, whatever the machine's speed.
NO_REFILL = 0.0001


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


def granted(take: Callable[[], bool], attempts: int = 50) -> int:
    return sum(take() for _ in range(attempts))


def passes(check: Callable[[], None], attempts: int = 50) -> int:
    """How many calls pass before the first one is refused."""
    for passed in range(attempts):
        try:
            check()
        except (Throttled, QuotaExceeded):
            return passed
    return attempts


# ---------------------------------------------------------------- TokenBucket


def test_bucket_grants_its_burst_at_once_then_refuses() -> None:
    bucket = TokenBucket(Throttle(rate=2, burst=3), clock=Clock())
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]


def test_bucket_refills_at_its_rate() -> None:
    clock = Clock()
    bucket = TokenBucket(Throttle(rate=2, burst=3), clock=clock)
    granted(bucket.take)
    clock.now += 0.5  # one token at 2 a second
    assert [bucket.take(), bucket.take()] == [True, False]
    clock.now += 1.0  # two more
    assert granted(bucket.take) == 2


def test_bucket_never_holds_more_than_its_burst() -> None:
    clock = Clock()
    bucket = TokenBucket(Throttle(rate=100, burst=3), clock=clock)
    clock.now += 3600
    assert granted(bucket.take) == 3


def test_refused_request_spends_no_token() -> None:
    clock = Clock()
    bucket = TokenBucket(Throttle(rate=1, burst=1), clock=clock)
    assert [bucket.take(), bucket.take(), bucket.take()] == [True, False, False]
    clock.now += 1.0
    assert bucket.take() is True


# ---------------------------------------------------------------- QuotaCounter


class Calendar:
    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


@pytest.mark.parametrize(
    ("period", "start", "same_period", "next_period"),
    [
        ("DAY", datetime(2026, 3, 10, 0, 0, tzinfo=UTC), timedelta(hours=23, minutes=59), timedelta(days=1)),
        # 2026-03-09 is a Monday: the ISO week runs to Sunday 2026-03-15.
        ("WEEK", datetime(2026, 3, 9, 8, 0, tzinfo=UTC), timedelta(days=6), timedelta(days=7)),
        ("MONTH", datetime(2026, 1, 1, 0, 0, tzinfo=UTC), timedelta(days=30, hours=23), timedelta(days=31)),
    ],
)
def test_quota_allows_its_limit_per_period_and_resets_in_the_next(
    period: str, start: datetime, same_period: timedelta, next_period: timedelta
) -> None:
    calendar = Calendar(start)
    counter = QuotaCounter(Quota(limit=3, period=period), now=calendar)
    assert granted(counter.take) == 3
    calendar.now = start + same_period
    assert counter.take() is False
    calendar.now = start + next_period
    assert granted(counter.take) == 3


# ---------------------------------------------------------------- Throttling: stage MethodSettings


@pytest.fixture
def method_throttling() -> Throttling:
    # Each key allows a different burst, so the number of calls that pass tells which key applied.
    return Throttling(
        {
            ("/items/{id}", "GET"): Throttle(NO_REFILL, 1),
            ("/items/{id}", "*"): Throttle(NO_REFILL, 2),
            ("/*", "DELETE"): Throttle(NO_REFILL, 3),
            ("/*", "*"): Throttle(NO_REFILL, 4),
        }
    )


@pytest.mark.parametrize(
    ("resource", "method", "burst"),
    [
        ("/items/{id}", "GET", 1),  # exact
        ("/items/{id}", "PUT", 2),  # the resource, any method
        ("/items/{id}", "DELETE", 2),  # the resource wins over the method
        ("/items", "DELETE", 3),  # any resource, the method
        ("/items", "GET", 4),  # the stage default
    ],
)
def test_most_specific_method_setting_applies(
    method_throttling: Throttling, resource: str, method: str, burst: int
) -> None:
    assert passes(lambda: method_throttling.check_method(resource, method)) == burst


def test_each_method_has_its_own_bucket(method_throttling: Throttling) -> None:
    assert passes(lambda: method_throttling.check_method("/a", "GET")) == 4
    assert passes(lambda: method_throttling.check_method("/b", "GET")) == 4


def test_without_method_settings_nothing_is_throttled() -> None:
    throttling = Throttling({})
    assert passes(lambda: throttling.check_method("/items", "GET"), attempts=200) == 200


def test_throttled_method_raises_throttled_429() -> None:
    throttling = Throttling({("/*", "*"): Throttle(NO_REFILL, 1)})
    throttling.check_method("/items", "GET")
    with pytest.raises(Throttled) as refused:
        throttling.check_method("/items", "GET")
    assert (refused.value.status, refused.value.message) == (429, "Too Many Requests")


# ---------------------------------------------------------------- Throttling: usage plans


def test_key_throttle_is_per_key() -> None:
    throttling = Throttling({})
    limits = Throttle(NO_REFILL, 2)
    assert passes(lambda: throttling.check_key("key-a", limits, None)) == 2
    assert passes(lambda: throttling.check_key("key-b", limits, None)) == 2


def test_spent_quota_raises_quota_exceeded_429() -> None:
    throttling = Throttling({})
    quota = Quota(limit=3, period="MONTH")
    for _ in range(3):
        throttling.check_key("key-a", None, quota)
    with pytest.raises(QuotaExceeded) as refused:
        throttling.check_key("key-a", None, quota)
    assert (refused.value.status, refused.value.message) == (429, "Limit Exceeded")
    throttling.check_key("key-b", None, quota)  # another key has its own quota


def test_a_plans_limits_changed_at_run_time_apply_at_once_and_the_quota_keeps_its_count() -> None:
    """A usage plan updated through the API (docs/aws-behaviour.md §2.1): the key's new throttle is a
    fresh bucket; its quota's new limit counts the requests already made in the period."""
    throttling = Throttling({})
    assert passes(lambda: throttling.check_key("key-a", Throttle(NO_REFILL, 2), None)) == 2
    assert passes(lambda: throttling.check_key("key-a", Throttle(NO_REFILL, 5), None)) == 5
    assert passes(lambda: throttling.check_key("key-a", None, Quota(limit=3, period="DAY"))) == 3
    assert passes(lambda: throttling.check_key("key-a", None, Quota(limit=5, period="DAY"))) == 2


def test_key_throttle_is_checked_before_its_quota() -> None:
    throttling = Throttling({})
    throttle, quota = Throttle(NO_REFILL, 1), Quota(limit=100, period="DAY")
    throttling.check_key("key-a", throttle, quota)
    with pytest.raises(Throttled):
        throttling.check_key("key-a", throttle, quota)


def test_key_without_throttle_or_quota_is_never_refused() -> None:
    throttling = Throttling({})
    assert passes(lambda: throttling.check_key("key-a", None, None), attempts=200) == 200
