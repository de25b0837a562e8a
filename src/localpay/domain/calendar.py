"""Korean calendar arithmetic for limits and expiry, on epoch milliseconds.

Korea keeps UTC+9 all year (no daylight saving), so the local day is a fixed
offset away and this stays pure: no time zone database, no clock.
"""

from __future__ import annotations

import datetime as dt
import functools

KST_OFFSET_MS = 9 * 3600 * 1000
DAY_MS = 24 * 3600 * 1000
KST = dt.timezone(dt.timedelta(hours=9), "KST")


def day_key(at_ms: int) -> int:
    """Days since 1970-01-01 in Korean local time."""
    return (at_ms + KST_OFFSET_MS) // DAY_MS


def month_key(at_ms: int) -> int:
    """Year * 12 + month index, in Korean local time."""
    return _month_of_day(day_key(at_ms))


@functools.lru_cache(maxsize=4096)
def _month_of_day(day: int) -> int:
    date = dt.date.fromordinal(_EPOCH_ORDINAL + day)
    return date.year * 12 + date.month - 1


_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()


def end_of_day_ms(date_iso: str) -> int:
    """First millisecond after the given Korean calendar day (money valid 'until' it)."""
    day = dt.date.fromisoformat(date_iso)
    start = dt.datetime(day.year, day.month, day.day, tzinfo=KST)
    return int(start.timestamp() * 1000) + DAY_MS


def days_later_end_ms(at_ms: int, days: int) -> int:
    """End of the Korean day `days` days after the day of `at_ms`."""
    return (day_key(at_ms) + days + 1) * DAY_MS - KST_OFFSET_MS


def iso_date(at_ms: int) -> str:
    """Korean calendar date of an instant, e.g. for showing an expiry."""
    return dt.datetime.fromtimestamp(at_ms / 1000, KST).date().isoformat()
