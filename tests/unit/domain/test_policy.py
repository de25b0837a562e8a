"""Program policies: where money may be spent, whether a policy is usable, when lots expire."""

from __future__ import annotations

import datetime as dt

import pytest

from localpay.domain.calendar import DAY_MS, KST, iso_date
from localpay.domain.codes import Code
from localpay.domain.limits import AMOUNT_MAX, POLICY_LIST_MAX, VALID_DAYS_MAX
from localpay.domain.policy import MerchantFacts, Policy, check_policy, evaluate, lot_expiry_ms
from localpay.testing import builders

FIVE_YEARS = 5 * 365


def kst_ms(*args: int) -> int:
    return int(dt.datetime(*args, tzinfo=KST).timestamp() * 1000)  # type: ignore[misc]


def policy(**overrides: object) -> Policy:
    """The shared builder with this file's default program name."""
    return builders.policy(**{"name": "김포페이 일반", **overrides})


BAKERY = MerchantFacts(category="bakery", area="gurae", annual_revenue=100_000_000)
DEPARTMENT_STORE = MerchantFacts("department_store", "gurae", 900_000_000_000)


# -- evaluate ------------------------------------------------------------------------------


def test_a_policy_without_restrictions_allows_every_merchant() -> None:
    assert evaluate(policy(), DEPARTMENT_STORE) is Code.OK


def test_a_denied_category_is_category_denied() -> None:
    assert evaluate(policy(denied_categories=["bakery"]), BAKERY) is Code.CATEGORY_DENIED


def test_a_category_outside_the_allowed_list_is_category_denied() -> None:
    assert evaluate(policy(allowed_categories=["clinic"]), BAKERY) is Code.CATEGORY_DENIED
    assert evaluate(policy(allowed_categories=["clinic", "bakery"]), BAKERY) is Code.OK


def test_a_merchant_outside_the_program_areas_is_area_denied() -> None:
    assert evaluate(policy(areas=["tongjin"]), BAKERY) is Code.AREA_DENIED
    assert evaluate(policy(areas=["tongjin", "gurae"]), BAKERY) is Code.OK


def test_revenue_above_the_cap_is_denied_and_at_the_cap_is_allowed() -> None:
    assert evaluate(policy(revenue_cap=99_999_999), BAKERY) is Code.REVENUE_CAP_EXCEEDED
    assert evaluate(policy(revenue_cap=100_000_000), BAKERY) is Code.OK


def test_category_is_checked_before_area_and_revenue() -> None:
    everything_wrong = policy(denied_categories=["bakery"], areas=["tongjin"], revenue_cap=1)
    assert evaluate(everything_wrong, BAKERY) is Code.CATEGORY_DENIED
    not_allowed = policy(allowed_categories=["clinic"], areas=["tongjin"], revenue_cap=1)
    assert evaluate(not_allowed, BAKERY) is Code.CATEGORY_DENIED


def test_area_is_checked_before_revenue() -> None:
    assert evaluate(policy(areas=["tongjin"], revenue_cap=1), BAKERY) is Code.AREA_DENIED


# -- check_policy --------------------------------------------------------------------------


def test_a_plain_policy_is_usable() -> None:
    assert check_policy(policy()) is None
    assert check_policy(policy(valid_until="2026-12-31", daily_cap=5, monthly_cap=5)) is None


CAPS = ["revenue_cap", "per_payment_cap", "daily_cap", "monthly_cap", "holding_cap"]


@pytest.mark.parametrize("field", CAPS)
@pytest.mark.parametrize("value", [-1, AMOUNT_MAX + 1, True])
def test_a_cap_outside_zero_to_the_amount_limit_is_refused(field: str, value: int) -> None:
    reason = check_policy(policy(**{field: value}))
    assert reason is not None
    assert "whole numbers from 0" in reason


@pytest.mark.parametrize("field", CAPS)
def test_a_cap_at_the_amount_limit_is_accepted(field: str) -> None:
    assert check_policy(policy(**{field: AMOUNT_MAX})) is None


@pytest.mark.parametrize("days", [-1, VALID_DAYS_MAX + 1, 10_000_000, True])
def test_valid_days_outside_zero_to_a_hundred_years_are_refused(days: int) -> None:
    assert check_policy(policy(valid_days=days)) == (
        f"valid_days must be a whole number from 0 (none) to {VALID_DAYS_MAX}"
    )


def test_valid_days_of_a_hundred_years_are_accepted_and_give_a_showable_expiry() -> None:
    assert check_policy(policy(valid_days=VALID_DAYS_MAX)) is None
    expiry = lot_expiry_ms(policy(valid_days=VALID_DAYS_MAX), CREDITED, FIVE_YEARS)
    assert expiry == kst_ms(2026, 5, 30) + VALID_DAYS_MAX * DAY_MS
    assert iso_date(expiry - 1) == "2126-08-13"  # about 100 years on, a date every read can show


@pytest.mark.parametrize("date", ["0001-01-01", "1969-12-31", "9999-12-31"])
def test_valid_until_outside_the_showable_range_is_refused(date: str) -> None:
    assert check_policy(policy(valid_until=date)) == (
        "valid_until must be from 1970-01-01 to 9999-12-30"
    )


def test_the_latest_end_date_gives_a_showable_expiry_even_far_in_the_future() -> None:
    assert check_policy(policy(valid_until="9999-12-30")) is None
    expiry = lot_expiry_ms(policy(valid_until="9999-12-30"), CREDITED, FIVE_YEARS)
    assert iso_date(expiry) == "9999-12-31"
    # Whatever the block time, days never carry an expiry past that date.
    late = lot_expiry_ms(policy(valid_days=VALID_DAYS_MAX), expiry, FIVE_YEARS)
    assert late == expiry


def test_too_many_categories_counts_allowed_and_denied_together() -> None:
    half = POLICY_LIST_MAX // 2
    allowed = [f"a{i}" for i in range(half)]
    denied = [f"d{i}" for i in range(POLICY_LIST_MAX - half)]
    assert check_policy(policy(allowed_categories=allowed, denied_categories=denied)) is None
    too_many = policy(allowed_categories=[*allowed, "one-more"], denied_categories=denied)
    assert check_policy(too_many) == "too many categories"


def test_too_many_areas_is_refused() -> None:
    areas = [f"area{i}" for i in range(POLICY_LIST_MAX)]
    assert check_policy(policy(areas=areas)) is None
    assert check_policy(policy(areas=[*areas, "extra"])) == "too many areas"


def test_a_category_both_allowed_and_denied_is_refused() -> None:
    both = policy(allowed_categories=["bakery", "clinic"], denied_categories=["bakery"])
    assert check_policy(both) == "a category is both allowed and denied"


@pytest.mark.parametrize("date", ["2026-02-30", "2026-1-1", "tomorrow", "2026-12-31T00:00"])
def test_valid_until_must_be_a_calendar_date(date: str) -> None:
    assert (
        check_policy(policy(valid_until=date)) == "valid_until must be a date YYYY-MM-DD or empty"
    )


@pytest.mark.parametrize("date", ["20261231", "2026-W53-4"])
def test_valid_until_must_be_written_yyyy_mm_dd(date: str) -> None:
    assert check_policy(policy(valid_until=date)) is not None


def test_a_daily_cap_above_the_monthly_cap_is_refused() -> None:
    assert (
        check_policy(policy(daily_cap=100_001, monthly_cap=100_000))
        == "the daily cap exceeds the monthly cap"
    )


def test_a_daily_cap_alone_or_a_monthly_cap_alone_is_fine() -> None:
    assert check_policy(policy(daily_cap=100_001)) is None
    assert check_policy(policy(monthly_cap=1)) is None


# -- lot_expiry_ms -------------------------------------------------------------------------

CREDITED = kst_ms(2026, 5, 29, 10)


def test_without_dates_money_lasts_the_city_default_days() -> None:
    expected = kst_ms(2026, 5, 30) + FIVE_YEARS * DAY_MS
    assert lot_expiry_ms(policy(), CREDITED, FIVE_YEARS) == expected


def test_valid_days_count_from_the_korean_day_of_credit() -> None:
    assert lot_expiry_ms(policy(valid_days=90), CREDITED, FIVE_YEARS) == kst_ms(2026, 8, 28)


def test_valid_until_alone_ignores_the_city_default() -> None:
    expiry = lot_expiry_ms(policy(valid_until="2031-12-31"), CREDITED, 1)
    assert expiry == kst_ms(2032, 1, 1)


def test_the_end_date_wins_when_it_comes_before_the_valid_days() -> None:
    soon = policy(valid_until="2026-06-30", valid_days=90)
    assert lot_expiry_ms(soon, CREDITED, FIVE_YEARS) == kst_ms(2026, 7, 1)


def test_the_valid_days_win_when_they_end_before_the_end_date() -> None:
    late = policy(valid_until="2026-12-31", valid_days=30)
    assert lot_expiry_ms(late, CREDITED, FIVE_YEARS) == kst_ms(2026, 6, 29)


def test_money_valid_until_a_date_is_spendable_through_that_korean_day() -> None:
    expiry = lot_expiry_ms(policy(valid_until="2026-12-31"), CREDITED, FIVE_YEARS)
    last_moment = kst_ms(2026, 12, 31, 23, 59, 59) + 999
    # A lot is spendable while now < expires_ms.
    assert last_moment < expiry
    assert kst_ms(2027, 1, 1) >= expiry
    assert expiry == kst_ms(2027, 1, 1)


def test_valid_days_credited_just_before_kst_midnight_end_a_day_sooner() -> None:
    before = lot_expiry_ms(policy(valid_days=1), kst_ms(2026, 5, 29, 23, 59, 59), FIVE_YEARS)
    after = lot_expiry_ms(policy(valid_days=1), kst_ms(2026, 5, 30), FIVE_YEARS)
    assert (before, after) == (kst_ms(2026, 5, 31), kst_ms(2026, 6, 1))
