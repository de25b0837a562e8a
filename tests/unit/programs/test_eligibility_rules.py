"""Eligibility rules at their edges: 만 나이 on the birthday, 29 February in common
years, 3 years continuous against 10 years in total, and the salted evidence hash."""

from __future__ import annotations

from datetime import date

from localpay.services.programs import eligibility as rules
from localpay.services.programs.eligibility import Evidence, Stay
from localpay.sim import gimpo

YOUTH = gimpo.programs(365)["youth"].grant
assert YOUTH is not None


def resident_since(start: date) -> tuple[Stay, ...]:
    return (Stay(start),)


def test_age_turns_on_the_birthday_not_the_day_before() -> None:
    birth = date(2002, 12, 1)
    assert rules.age_on(birth, date(2026, 11, 30)) == 23
    assert rules.age_on(birth, date(2026, 12, 1)) == 24


def test_a_29_february_birthday_counts_on_1_march_in_common_years() -> None:
    birth = date(2004, 2, 29)
    assert rules.age_on(birth, date(2027, 2, 28)) == 22
    assert rules.age_on(birth, date(2027, 3, 1)) == 23
    assert rules.age_on(birth, date(2028, 2, 29)) == 24  # a leap year: the day itself


def test_the_youth_dividend_on_the_24th_birthday_itself() -> None:
    today = date(2026, 12, 1)
    stays = resident_since(date(2010, 1, 1))
    on_birthday = Evidence("w-1", date(2002, 12, 1), stays)
    day_after = Evidence("w-2", date(2002, 12, 2), stays)
    assert rules.judge(YOUTH, on_birthday, today).eligible
    late = rules.judge(YOUTH, day_after, today)
    assert not late.eligible and late.reasons == (rules.TOO_YOUNG,)
    turned_25 = Evidence("w-3", date(2001, 12, 1), stays)
    assert rules.judge(YOUTH, turned_25, today).reasons == (rules.TOO_OLD,)


def test_three_years_continuous_up_to_the_decision_date() -> None:
    today = date(2026, 12, 1)
    birth = date(2002, 6, 1)
    three = Evidence("w-1", birth, resident_since(date(2023, 12, 1)))
    short = Evidence("w-2", birth, resident_since(date(2023, 12, 2)))
    assert rules.judge(YOUTH, three, today).eligible
    assert rules.judge(YOUTH, short, today).reasons == (rules.RESIDENCE,)
    # Moved away last month: the years before do not count as continuous.
    left = Evidence("w-3", birth, (Stay(date(2015, 1, 1), date(2026, 10, 31)),))
    assert rules.continuous_years(left.stays, today) == 0


def test_adjoining_stays_are_one_continuous_residence() -> None:
    stays = (Stay(date(2020, 1, 1), date(2021, 12, 31)), Stay(date(2022, 1, 1)))
    assert rules.continuous_years(stays, date(2026, 1, 1)) == 6


def test_ten_years_in_total_stand_in_for_three_continuous() -> None:
    today = date(2026, 12, 1)
    birth = date(2002, 6, 1)
    # 2005-2014 away and back a year ago: 10 years in all (3,653 days), 1 continuous.
    ten = (Stay(date(2004, 1, 1), date(2013, 1, 1)), Stay(date(2025, 12, 1)))
    nine = (Stay(date(2004, 1, 1), date(2012, 1, 1)), Stay(date(2025, 12, 1)))
    assert rules.total_years(ten, today) == 10
    assert rules.judge(YOUTH, Evidence("w-1", birth, ten), today).eligible
    assert rules.total_years(nine, today) == 9
    assert rules.judge(YOUTH, Evidence("w-2", birth, nine), today).reasons == (rules.RESIDENCE,)


def test_future_stays_and_overlaps_do_not_add_years() -> None:
    today = date(2026, 12, 1)
    stays = (
        Stay(date(2016, 1, 1)),
        Stay(date(2016, 1, 1), date(2020, 1, 1)),
        Stay(date(2030, 1, 1)),
    )
    assert rules.total_years(stays, today) == 10


def test_the_evidence_hash_is_salted_and_checkable() -> None:
    evidence = Evidence("w-1", date(2002, 12, 1), resident_since(date(2010, 1, 1)), "student")
    salt_a, salt_b = rules.new_salt(), rules.new_salt()
    first = rules.evidence_hash(evidence, salt_a)
    assert len(first) == 64 and first == rules.evidence_hash(evidence, salt_a)
    assert first != rules.evidence_hash(evidence, salt_b)
    other = Evidence("w-1", date(2002, 12, 2), evidence.stays, "student")
    assert first != rules.evidence_hash(other, salt_a)
