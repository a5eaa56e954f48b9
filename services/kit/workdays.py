"""Working days: Monday to Friday less the bank holidays of England and Wales (a 10-working-day offer).

The calendar ships as data, in the shape of GOV.UK's `bank-holidays.json`
feed (one division of it), so a council can replace the file with the feed's
own `england-and-wales` part when new holidays are announced. It covers the
years listed by `CALENDAR_YEARS`; beyond them only weekends are counted out.
"""

import json
from datetime import date, timedelta
from functools import cache
from pathlib import Path

CALENDAR = Path(__file__).parent / "data" / "bank-holidays-england-and-wales.json"


@cache
def bank_holidays() -> frozenset[date]:
    """The bank holidays (substitute days included) that fall on a weekday."""
    events = json.loads(CALENDAR.read_text())["events"]
    return frozenset(date.fromisoformat(event["date"]) for event in events)


def calendar_years() -> range:
    """The years the shipped calendar covers."""
    years = sorted({holiday.year for holiday in bank_holidays()})
    return range(years[0], years[-1] + 1)


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in bank_holidays()


def working_days_between(start: date, end: date) -> int:
    """Working days after `start` up to and including `end`: the next working day is 1."""
    if end <= start:
        return 0
    whole_weeks, rest = divmod((end - start).days, 7)
    tail = (start + timedelta(days=offset) for offset in range(1, rest + 1))
    weekdays = whole_weeks * 5 + sum(1 for day in tail if day.weekday() < 5)
    return weekdays - sum(1 for holiday in bank_holidays() if start < holiday <= end)


def add_working_days(start: date, days: int) -> date:
    """The day `days` working days after `start`: the inverse of `working_days_between`."""
    on = start
    while days:
        on += timedelta(days=1)
        if is_working_day(on):
            days -= 1
    return on
