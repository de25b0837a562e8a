"""Korean business days for payouts: holidays.KR (설날, 추석, 대체공휴일), city closures,
the cut-off minute, and the day a batch or an instant payout is paid.

The holiday dates are what the pinned holidays.KR 0.109 says (checked by printing it),
not what we remember."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localpay.domain.business_days import (
    bank_holidays,
    batch_cutoff_ms,
    execution_day,
    holiday_name,
    is_business_day,
    kst_date,
    next_business_day,
    payout_day,
)
from localpay.domain.calendar import KST

CUTOFF = 15 * 60  # 15:00 KST
D = dt.date


def kst_ms(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    return int(dt.datetime(year, month, day, hour, minute, tzinfo=KST).timestamp() * 1000)


def test_seollal_2027_is_three_days_and_a_substitute_tuesday() -> None:
    # 설날 2027 falls Sat 6 – Mon 8 Feb; Sunday's overlap gives 대체공휴일 on Tue 9.
    assert [holiday_name(D(2027, 2, d)) for d in (6, 7, 8, 9)] == [
        "설날 전날",
        "설날",
        "설날 다음날",
        "설날 대체 휴일",
    ]
    assert not any(is_business_day(D(2027, 2, d)) for d in (6, 7, 8, 9))
    assert is_business_day(D(2027, 2, 5)) and is_business_day(D(2027, 2, 10))
    assert next_business_day(D(2027, 2, 5)) == D(2027, 2, 10)


def test_chuseok_2026_thursday_to_saturday_and_2027_tuesday_to_thursday() -> None:
    assert [holiday_name(D(2026, 9, d)) for d in (24, 25, 26)] == [
        "추석 전날",
        "추석",
        "추석 다음날",
    ]
    # Wed 23 Sep 2026 -> the next business day is Mon 28 (Thu–Sat 추석, then Sunday).
    assert next_business_day(D(2026, 9, 23)) == D(2026, 9, 28)
    assert {D(2027, 9, 14), D(2027, 9, 15), D(2027, 9, 16)} <= bank_holidays(2027)
    assert next_business_day(D(2027, 9, 13)) == D(2027, 9, 17)


def test_a_substitute_holiday_is_no_business_day() -> None:
    # 개천절 2026 is a Saturday: Monday 5 October is its 대체공휴일.
    assert holiday_name(D(2026, 10, 5)) == "개천절 대체 휴일"
    assert not is_business_day(D(2026, 10, 5))
    assert next_business_day(D(2026, 10, 2)) == D(2026, 10, 6)


def test_an_ordinary_weekday_and_a_weekend() -> None:
    assert is_business_day(D(2026, 6, 10)) and holiday_name(D(2026, 6, 10)) == ""
    assert not is_business_day(D(2026, 6, 13)) and not is_business_day(D(2026, 6, 14))


def test_a_city_closure_is_no_business_day_and_is_skipped() -> None:
    closures = frozenset({D(2026, 6, 11)})  # a Thursday the city closes its counter
    assert is_business_day(D(2026, 6, 11))
    assert not is_business_day(D(2026, 6, 11), closures)
    assert next_business_day(D(2026, 6, 10), closures) == D(2026, 6, 12)
    assert payout_day(kst_ms(2026, 6, 10, 9), CUTOFF, closures) == D(2026, 6, 12)


def test_friday_before_a_monday_holiday_pays_on_tuesday() -> None:
    # Fri 14 Aug 2026, 광복절 Sat 15 with its substitute Mon 17: a batch before the
    # cut-off is paid Tue 18; after it, the bank takes the file Tue and pays Wed 19.
    assert holiday_name(D(2026, 8, 17)) == "광복절 대체 휴일"
    assert payout_day(kst_ms(2026, 8, 14, 13), CUTOFF) == D(2026, 8, 18)
    assert payout_day(kst_ms(2026, 8, 14, 16), CUTOFF) == D(2026, 8, 19)
    assert execution_day(kst_ms(2026, 8, 14, 16), CUTOFF) == D(2026, 8, 18)


def test_the_cutoff_minute_itself_is_already_too_late() -> None:
    monday = D(2026, 6, 8)
    at = batch_cutoff_ms(monday, CUTOFF)
    assert at == kst_ms(2026, 6, 8, 15, 0)
    assert payout_day(at - 1, CUTOFF) == D(2026, 6, 9)  # 14:59:59.999: next business day
    assert payout_day(at, CUTOFF) == D(2026, 6, 10)  # 15:00:00.000: the day after that
    assert payout_day(at + 60_000, CUTOFF) == D(2026, 6, 10)
    # An instant payout at the same moments: today, then tomorrow.
    assert execution_day(at - 1, CUTOFF) == monday
    assert execution_day(at, CUTOFF) == D(2026, 6, 9)


def test_a_batch_on_a_weekend_pays_the_business_day_after_the_next() -> None:
    assert payout_day(kst_ms(2026, 6, 13, 10), CUTOFF) == D(2026, 6, 16)  # Sat -> Tue
    assert execution_day(kst_ms(2026, 6, 13, 10), CUTOFF) == D(2026, 6, 15)


def test_the_korean_day_turns_at_midnight_kst() -> None:
    # 23:59 KST Monday is still Monday (14:59 UTC), and past Monday's cut-off.
    late = kst_ms(2026, 6, 8, 23, 59)
    assert kst_date(late) == D(2026, 6, 8)
    assert kst_date(late + 60_000) == D(2026, 6, 9)
    assert payout_day(late, CUTOFF) == D(2026, 6, 10)


def test_a_cutoff_outside_the_day_is_refused() -> None:
    with pytest.raises(ValueError):
        batch_cutoff_ms(D(2026, 6, 8), 24 * 60)
    with pytest.raises(ValueError):
        payout_day(kst_ms(2026, 6, 8, 9), -1)


instants = st.integers(kst_ms(2024, 1, 1), kst_ms(2030, 12, 31, 23, 59))
closure_sets = st.frozensets(st.dates(D(2024, 1, 1), D(2031, 1, 31)), max_size=12)


@settings(max_examples=300, deadline=None)
@given(at_ms=instants, cutoff=st.integers(0, 24 * 60 - 1), closures=closure_sets)
def test_payout_day_is_a_business_day_after_the_instruction_day(
    at_ms: int, cutoff: int, closures: frozenset[dt.date]
) -> None:
    day = kst_date(at_ms)
    paid = payout_day(at_ms, cutoff, closures)
    executed = execution_day(at_ms, cutoff, closures)
    assert is_business_day(paid, closures) and is_business_day(executed, closures)
    assert paid > day and executed >= day
    # A batch pays exactly one business day after the bank takes it in.
    assert paid == next_business_day(executed, closures)
    assert all(
        not is_business_day(executed + dt.timedelta(days=n), closures)
        for n in range(1, (paid - executed).days)
    )


def test_workers_day_2025_closes_the_banks_though_it_was_no_public_holiday() -> None:
    # 근로자의날 (Thu 1 May 2025) is holidays.KR's BANK category that year, not PUBLIC.
    assert holiday_name(D(2025, 5, 1)) == "근로자의날"
    assert not is_business_day(D(2025, 5, 1))
    assert next_business_day(D(2025, 4, 30)) == D(2025, 5, 2)
