"""Korean bank business days (영업일): when a payout instructed at a moment is paid.

A business day is a weekday that is neither a Korean public or bank holiday (the pinned
`holidays` package's `holidays.KR`, categories PUBLIC and BANK: 설날 and 추석 with their
eves and next days, substitute holidays 대체공휴일, election days, 근로자의날 where banks
close) nor one of the city's extra closures. `holidays` computes its tables in memory
(no I/O, no clock), so this stays pure; the moment is always passed in.

Times are Korean (UTC+9 all year, domain.calendar), and the cut-off is minutes after
local midnight. "Before the cut-off" is strictly before: at the cut-off minute exactly it
is already too late (as banks, and mock-bank, count it).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Final

import holidays

from localpay.domain.calendar import DAY_MS, KST_OFFSET_MS, day_key

#: The most business-day steps we ever take (a run of closures longer than this is a
#: broken closures table, not a calendar).
SEARCH_MAX_DAYS: Final = 60
#: Minutes in a day: a cut-off lies in [0, MINUTES_PER_DAY).
MINUTES_PER_DAY: Final = 24 * 60

_EPOCH: Final = dt.date(1970, 1, 1)
_NO_CLOSURES: frozenset[dt.date] = frozenset()


@functools.lru_cache(maxsize=256)
def _korean_holidays(year: int) -> dict[dt.date, str]:
    """holidays.KR for one year, in Korean, as a plain dict (cached; never mutated)."""
    found = holidays.country_holidays(
        "KR", years=year, categories=(holidays.PUBLIC, holidays.BANK), language="ko"
    )
    return dict(found.items())


def holiday_name(day: dt.date) -> str:
    """The holiday's Korean name (e.g. "설날 대체 휴일"), or "" on a day that is none."""
    return _korean_holidays(day.year).get(day, "")


def bank_holidays(year: int) -> frozenset[dt.date]:
    """Every Korean public and bank holiday of a year (weekends not included)."""
    return frozenset(_korean_holidays(year))


def is_business_day(day: dt.date, closures: frozenset[dt.date] = _NO_CLOSURES) -> bool:
    """Not Saturday or Sunday, not a holidays.KR day, not one of the city's closures."""
    return day.weekday() < 5 and day not in _korean_holidays(day.year) and day not in closures


def next_business_day(day: dt.date, closures: frozenset[dt.date] = _NO_CLOSURES) -> dt.date:
    """The first business day strictly after `day`."""
    for step in range(1, SEARCH_MAX_DAYS + 1):
        later = day + dt.timedelta(days=step)
        if is_business_day(later, closures):
            return later
    raise ValueError(f"no business day within {SEARCH_MAX_DAYS} days after {day}")


def kst_date(at_ms: int) -> dt.date:
    """The Korean calendar date of an instant."""
    return _EPOCH + dt.timedelta(days=day_key(at_ms))


def batch_cutoff_ms(day: dt.date, cutoff_minutes: int) -> int:
    """Epoch milliseconds of the cut-off on that Korean day."""
    _check_cutoff(cutoff_minutes)
    midnight_ms = (day - _EPOCH).days * DAY_MS - KST_OFFSET_MS
    return midnight_ms + cutoff_minutes * 60_000


def execution_day(
    at_ms: int, cutoff_minutes: int, closures: frozenset[dt.date] = _NO_CLOSURES
) -> dt.date:
    """The day the bank executes an instruction it receives at `at_ms`: that day if it
    is a business day and `at_ms` is before its cut-off, else the next business day.
    An instant payout is sent at once and paid on this day."""
    day = kst_date(at_ms)
    if is_business_day(day, closures) and at_ms < batch_cutoff_ms(day, cutoff_minutes):
        return day
    return next_business_day(day, closures)


def payout_day(
    at_ms: int, cutoff_minutes: int, closures: frozenset[dt.date] = _NO_CLOSURES
) -> dt.date:
    """The day a daily batch started at `at_ms` pays the shops: the business day after
    the day the bank takes it in (`execution_day`).

    - on a business day before the cut-off: the NEXT business day (Mon 14:59 -> Tue);
    - at or after the cut-off on a business day: the business day after the next
      (Mon 15:00 -> Wed), because the bank takes the file in only on the next day;
    - on a weekend, holiday or closure: likewise the business day after the next one
      (Sat -> Tue; Fri 13:00 before a Monday holiday -> Tue).

    So a batch is always paid one business day later than an instant payout sent at the
    same moment, and always on a business day strictly after the instruction's day.
    """
    return next_business_day(execution_day(at_ms, cutoff_minutes, closures), closures)


def _check_cutoff(cutoff_minutes: int) -> None:
    if not 0 <= cutoff_minutes < MINUTES_PER_DAY:
        raise ValueError(f"a cut-off is minutes after midnight, not {cutoff_minutes}")
