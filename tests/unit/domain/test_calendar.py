"""Korean calendar arithmetic: days and months turn at midnight KST, which is 15:00 UTC."""

from __future__ import annotations

import datetime as dt

import pytest

from localpay.domain.calendar import (
    DAY_MS,
    KST,
    day_key,
    days_later_end_ms,
    end_of_day_ms,
    iso_date,
    month_key,
)


def utc_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=dt.UTC).timestamp() * 1000)  # type: ignore[misc]


def kst_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=KST).timestamp() * 1000)  # type: ignore[misc]


# 2026-05-30 00:00 KST is 2026-05-29 15:00 UTC.
MIDNIGHT = utc_ms(2026, 5, 29, 15)


def test_kst_midnight_is_fifteen_hundred_utc() -> None:
    assert kst_ms(2026, 5, 30) == MIDNIGHT == 1_780_066_800_000


def test_the_korean_day_turns_at_fifteen_hundred_utc_not_at_utc_midnight() -> None:
    assert day_key(MIDNIGHT) == day_key(MIDNIGHT - 1) + 1
    assert day_key(utc_ms(2026, 5, 29, 0)) == day_key(MIDNIGHT - 1)


def test_day_key_counts_korean_days_since_the_epoch() -> None:
    # 1970-01-01 00:00 KST is 1969-12-31 15:00 UTC: day 0 starts nine hours before the epoch.
    assert day_key(0) == 0
    assert day_key(-9 * 3600 * 1000) == 0
    assert day_key(-9 * 3600 * 1000 - 1) == -1
    assert day_key(MIDNIGHT) == (dt.date(2026, 5, 30) - dt.date(1970, 1, 1)).days


def test_month_key_turns_at_kst_midnight_on_the_first() -> None:
    first_of_june = kst_ms(2026, 6, 1)
    assert month_key(first_of_june) == 2026 * 12 + 5
    assert month_key(first_of_june - 1) == 2026 * 12 + 4
    assert first_of_june == utc_ms(2026, 5, 31, 15)


def test_month_key_rolls_the_year_at_kst_new_year() -> None:
    new_year = utc_ms(2026, 12, 31, 15)
    assert month_key(new_year) == 2027 * 12
    assert month_key(new_year - 1) == 2026 * 12 + 11


def test_month_key_handles_leap_february() -> None:
    assert month_key(kst_ms(2028, 2, 29, 23, 59)) == 2028 * 12 + 1
    assert month_key(kst_ms(2028, 3, 1)) == 2028 * 12 + 2


def test_end_of_day_is_the_first_millisecond_of_the_next_korean_day() -> None:
    assert end_of_day_ms("2026-12-31") == kst_ms(2027, 1, 1) == utc_ms(2026, 12, 31, 15)
    assert end_of_day_ms("2026-12-31") == 1_798_729_200_000
    assert end_of_day_ms("2028-02-29") == kst_ms(2028, 3, 1)


def test_end_of_day_refuses_a_non_date() -> None:
    with pytest.raises(ValueError):
        end_of_day_ms("2026-02-30")


@pytest.mark.parametrize(
    "at",
    [kst_ms(2026, 5, 30), kst_ms(2026, 5, 30, 12), kst_ms(2026, 5, 31) - 1],
    ids=["midnight", "noon", "last-ms"],
)
def test_days_later_zero_is_the_end_of_the_same_korean_day(at: int) -> None:
    assert days_later_end_ms(at, 0) == kst_ms(2026, 5, 31)


def test_days_later_counts_whole_korean_days_after_the_day_of_credit() -> None:
    late_evening = kst_ms(2026, 5, 30, 23, 59, 59)
    assert days_later_end_ms(late_evening, 1) == kst_ms(2026, 6, 1)
    assert days_later_end_ms(late_evening, 90) == kst_ms(2026, 5, 31) + 90 * DAY_MS
    # Credited one millisecond later, it is already the next day.
    assert days_later_end_ms(late_evening + 1000, 1) == kst_ms(2026, 6, 2)


def test_days_later_agrees_with_end_of_day_of_the_iso_date() -> None:
    at = kst_ms(2026, 5, 30, 8)
    assert days_later_end_ms(at, 0) == end_of_day_ms(iso_date(at))


def test_iso_date_is_the_korean_calendar_date() -> None:
    assert iso_date(MIDNIGHT - 1) == "2026-05-29"
    assert iso_date(MIDNIGHT) == "2026-05-30"
    assert iso_date(utc_ms(2026, 12, 31, 15)) == "2027-01-01"
    assert iso_date(end_of_day_ms("2026-12-31") - 1) == "2026-12-31"
