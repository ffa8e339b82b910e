"""EventBridge's schedule expressions: rate(), cron() and (EventBridge Scheduler's) at(), and when each
fires next.

AWS's cron is not Unix cron: six fields (minutes, hours, day of month, month, day of week, year), one
of the two day fields must be `?`, days of the week count 1-7 from Sunday, and `L`, `W` and `#` pick
the last day, the nearest weekday and the nth weekday of a month
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html). Rules fire
in UTC; a Scheduler schedule in its ScheduleExpressionTimezone.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from zoneinfo import ZoneInfo

_MONTHS = {name: i for i, name in enumerate(calendar.month_abbr) if name}  # JAN..DEC -> 1..12
_MONTHS = {k.upper(): v for k, v in _MONTHS.items()}
_DAYS = {"SUN": 1, "MON": 2, "TUE": 3, "WED": 4, "THU": 5, "FRI": 6, "SAT": 7}
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_SEARCH_YEARS = 30  # an expression with no time within this many years never fires


class InvalidExpression(ValueError):
    """What EventBridge answers: "Parameter ScheduleExpression is not valid."."""


@dataclass(frozen=True)
class Rate:
    seconds: int

    def next_after(self, moment: datetime, started: datetime) -> datetime:
        """The first run is a period after the schedule starts, then one each period."""
        periods = int((moment - started).total_seconds() // self.seconds) + 1
        return started + timedelta(seconds=periods * self.seconds)


@dataclass(frozen=True)
class At:
    when: datetime

    def next_after(self, moment: datetime, started: datetime) -> datetime | None:
        return self.when if self.when > moment else None


@dataclass(frozen=True)
class Cron:
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: tuple[str, ...]  # items as written ("?" alone: any), read by _day_matches
    months: frozenset[int]
    days_of_week: tuple[str, ...]
    years: frozenset[int]
    zone: tzinfo = UTC

    def next_after(self, moment: datetime, started: datetime | None = None) -> datetime | None:
        """The first time after `moment` (aware) that the expression names, or None within 30 years."""
        local = moment.astimezone(self.zone)
        day = local.date()
        last = date(min(local.year + _SEARCH_YEARS, 9999), 12, 31)
        while day <= last:
            if day.year not in self.years:
                day = date(day.year + 1, 1, 1)
                continue
            if day.month not in self.months:
                day = _first_of_next_month(day)
                continue
            if self._day_matches(day):
                for hour in sorted(self.hours):
                    for minute in sorted(self.minutes):
                        candidate = datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.zone)
                        if candidate > local:
                            return candidate.astimezone(UTC)
            day += timedelta(days=1)
        return None

    def _day_matches(self, day: date) -> bool:
        if self.days_of_month != ("?",):
            return any(_day_of_month_matches(item, day) for item in self.days_of_month)
        return any(_day_of_week_matches(item, day) for item in self.days_of_week)


Expression = Rate | Cron | At


def parse(expression: str, timezone: str | None = None) -> Expression:
    text = expression.strip()
    rate = _RATE.match(text)
    if rate:
        value, unit = int(rate.group(1)), rate.group(2)
        if value < 1 or (value == 1) != (not unit.endswith("s")):
            raise InvalidExpression(f"{expression}: rate(1 unit) is singular, any other value plural")
        return Rate(value * _UNIT_SECONDS[unit.rstrip("s")])
    zone: tzinfo = ZoneInfo(timezone) if timezone else UTC
    if text.startswith("at(") and text.endswith(")"):
        try:
            when = datetime.strptime(text[3:-1], "%Y-%m-%dT%H:%M:%S")
        except ValueError:
            raise InvalidExpression(f"{expression}: at(yyyy-mm-ddThh:mm:ss)") from None
        return At(when.replace(tzinfo=zone).astimezone(UTC))
    if text.startswith("cron(") and text.endswith(")"):
        return _cron(expression, text[5:-1].split(), zone)
    raise InvalidExpression(f"{expression}: expected rate(...), cron(...) or at(...)")


def _cron(expression: str, fields: list[str], zone: tzinfo) -> Cron:
    if len(fields) != 6:
        raise InvalidExpression(f"{expression}: cron() takes six fields")
    minutes, hours, dom, month, dow, year = (f.upper() for f in fields)
    if (dom == "?") == (dow == "?"):
        raise InvalidExpression(f"{expression}: one of day-of-month and day-of-week must be '?'")
    try:
        return Cron(
            minutes=_values(minutes, 0, 59),
            hours=_values(hours, 0, 23),
            days_of_month=_day_items(dom, 1, 31, {}, special=re.compile(r"^(L|LW|L-\d+|\d+W)$")),
            months=_values(month, 1, 12, _MONTHS),
            days_of_week=_day_items(dow, 1, 7, _DAYS, special=re.compile(r"^(\w+L|L|\w+#[1-5])$")),
            years=_values(year, 1970, 2199),
            zone=zone,
        )
    except ValueError as error:
        raise InvalidExpression(f"{expression}: {error}") from None


def _values(field: str, low: int, high: int, names: dict[str, int] | None = None) -> frozenset[int]:
    """The numbers a field names: `*`, `a`, `a-b`, `a/n`, `*/n`, `a-b/n`, comma-separated."""
    names = names or {}
    found: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, _, second = span.partition("-")
            start, end = _number(first, names), _number(second, names)
        else:
            start = _number(span, names)
            end = high if step_text else start
        if not (low <= start <= high and low <= end <= high) or step < 1:
            raise ValueError(f"{item!r} is outside {low}-{high}")
        if start <= end:
            found.update(range(start, end + 1, step))
        else:  # a range across the end wraps, as FRI-MON does
            found.update(
                v for i, v in enumerate([*range(start, high + 1), *range(low, end + 1)]) if i % step == 0
            )
    return frozenset(found)


def _number(text: str, names: dict[str, int]) -> int:
    if text in names:
        return names[text]
    if not text.isdigit():
        raise ValueError(f"{text!r} is not a value of this field")
    return int(text)


def _day_items(
    field: str, low: int, high: int, names: dict[str, int], special: re.Pattern[str]
) -> tuple[str, ...]:
    if field == "?":
        return ("?",)
    items = []
    for item in field.split(","):
        if special.match(item):
            items.append(_normalised_special(item, names))
        else:
            items.extend(str(v) for v in sorted(_values(item, low, high, names)))
    return tuple(items)


def _normalised_special(item: str, names: dict[str, int]) -> str:
    for name, value in names.items():
        item = item.replace(name, str(value))
    return item


def _day_of_month_matches(item: str, day: date) -> bool:
    last = calendar.monthrange(day.year, day.month)[1]
    if item == "L":
        return day.day == last
    if item.startswith("L-"):
        return day.day == last - int(item[2:])
    if item == "LW":
        return day == _nearest_weekday(date(day.year, day.month, last))
    if item.endswith("W"):
        wanted = min(int(item[:-1]), last)
        return day == _nearest_weekday(date(day.year, day.month, wanted))
    return day.day == int(item)


def _nearest_weekday(day: date) -> date:
    """The weekday nearest to `day` within its month (the `W` of cron)."""
    if day.weekday() < 5:
        return day
    if day.weekday() == 5:  # Saturday: the Friday before, unless that is last month
        return day - timedelta(days=1) if day.day > 1 else day + timedelta(days=2)
    last = calendar.monthrange(day.year, day.month)[1]
    return day + timedelta(days=1) if day.day < last else day - timedelta(days=2)


def _aws_weekday(day: date) -> int:
    return (day.isoweekday() % 7) + 1  # Sunday 1 ... Saturday 7


def _day_of_week_matches(item: str, day: date) -> bool:
    weekday = _aws_weekday(day)
    if item == "L":
        item = "7L"  # alone, L is the week's last day: Saturday
    if item.endswith("L"):
        last = calendar.monthrange(day.year, day.month)[1]
        return weekday == int(item[:-1]) and day.day + 7 > last
    if "#" in item:
        wanted, _, nth = item.partition("#")
        return weekday == int(wanted) and (day.day - 1) // 7 + 1 == int(nth)
    return weekday == int(item)


def _first_of_next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)
