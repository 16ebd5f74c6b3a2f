"""Service times are counted in working days: weekends and Turkish public holidays are skipped."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays

ISTANBUL = ZoneInfo("Europe/Istanbul")


@lru_cache(maxsize=8)
def _turkish_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("TR", years=[year, year + 1])


def is_working_day(day: date) -> bool:
    return day.weekday() < 5 and day not in _turkish_holidays(day.year)


def add_working_days(start: datetime, days: int) -> datetime:
    """The same local time of day, `days` working days after start (0: start itself)."""
    local = start.astimezone(ISTANBUL)
    day = local.date()
    remaining = days
    while remaining > 0:
        day += timedelta(days=1)
        if is_working_day(day):
            remaining -= 1
    return datetime.combine(day, local.timetz()).astimezone(ISTANBUL)
