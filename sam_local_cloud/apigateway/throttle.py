"""Stage and usage-plan throttling, and usage-plan quotas, as API Gateway applies them.

Token buckets (docs/aws-behaviour.md §7): a bucket holds `burst` tokens and refills at `rate` a
second; a request that finds it empty is 429 "Too Many Requests". A quota counts requests per key
and period; once spent, 429 "Limit Exceeded". Each bucket is per method (stage MethodSettings) or per
API key (usage plan).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

from sam_local_cloud.apigateway.errors import QuotaExceeded, Throttled
from sam_local_cloud.cloudformation.spec import Quota, Throttle


class TokenBucket:
    def __init__(self, limits: Throttle, clock: Callable[[], float] = time.monotonic):
        self._rate, self._capacity = limits.rate, float(limits.burst)
        self._tokens = self._capacity
        self._clock = clock
        self._last = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self._capacity, self._tokens + (now - self._last) * self._rate)
            self._last = now
            if self._tokens < 1:
                return False
            self._tokens -= 1
            return True


class QuotaCounter:
    def __init__(self, quota: Quota, now: Callable[[], datetime] = lambda: datetime.now(UTC)):
        self.quota = quota
        self._now = now
        self._period: tuple[int, ...] | None = None
        self._used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            period = _period_of(self._now(), self.quota.period)
            if period != self._period:
                self._period, self._used = period, 0
            if self._used >= self.quota.limit:
                return False
            self._used += 1
            return True


def _period_of(moment: datetime, period: str) -> tuple[int, ...]:
    if period == "MONTH":
        return (moment.year, moment.month)
    if period == "WEEK":
        return tuple(moment.isocalendar()[:2])
    return (moment.year, moment.month, moment.day)


class Throttling:
    """Every limit of one API: per-method stage buckets, and per-key usage-plan buckets and quotas."""

    def __init__(self, method_limits: dict[tuple[str, str], Throttle]):
        self._method_limits = method_limits
        self._buckets: dict[object, TokenBucket] = {}
        self._quotas: dict[object, QuotaCounter] = {}
        self._lock = threading.Lock()

    def check_method(self, resource: str, method: str) -> None:
        limits = _most_specific(self._method_limits, resource, method)
        if limits is not None and not self._bucket(("method", resource, method), limits).take():
            raise Throttled

    def check_key(self, key_id: str, throttle: Throttle | None, quota: Quota | None) -> None:
        # By the limits too: a plan's throttle or quota changed through the API applies at once. The
        # quota's count so far is kept (docs/aws-behaviour.md §2.1, unsettled).
        if throttle is not None and not self._bucket(("key", key_id, throttle), throttle).take():
            raise Throttled
        if quota is not None:
            with self._lock:
                counter = self._quotas.setdefault(key_id, QuotaCounter(quota))
                counter.quota = quota
            if not counter.take():
                raise QuotaExceeded

    def _bucket(self, key: object, limits: Throttle) -> TokenBucket:
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket = self._buckets[key] = TokenBucket(limits)
            return bucket


def _most_specific(limits: dict[tuple[str, str], Throttle], resource: str, method: str) -> Throttle | None:
    for key in ((resource, method), (resource, "*"), ("/*", method), ("/*", "*")):
        if key in limits:
            return limits[key]
    return None
