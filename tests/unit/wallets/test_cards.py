"""The wallet home's cards: amounts, the soonest expiry, where the money goes, warnings."""

from __future__ import annotations

import datetime as dt

import msgspec

from localpay.services.cities.views import LotView, WalletView
from localpay.services.wallets.cards import (
    EXPIRING_DAYS,
    Rule,
    card,
    cards,
    expiring_total,
    kst_today,
    rules,
)
from localpay.testing.builders import policy

TODAY = dt.date(2026, 12, 1)
OPEN = policy("김포페이", transferable=True, refundable=True)
YOUTH = msgspec.structs.replace(
    OPEN,
    name="청년기본소득",
    allowed_categories=["bakery", "cafe"],
    denied_categories=["department_store"],
    areas=["gurae", "tongjin"],
    revenue_cap=3_000_000_000,
    transferable=False,
)


def lot(program: str, amount: int, expires: str, n: int = 0) -> LotView:
    return LotView(f"{n:032x}", program, amount, expires, "grant")


def wallet(*lots: LotView) -> WalletView:
    by: dict[str, int] = {}
    for one in lots:
        by[one.program] = by.get(one.program, 0) + one.amount
    return WalletView("w-abc", False, sum(by.values()), by, list(lots))


def test_today_is_the_korean_date() -> None:
    # 2026-11-30 15:00 UTC is 2026-12-01 00:00 in Korea.
    at = int(dt.datetime(2026, 11, 30, 15, 0, tzinfo=dt.UTC).timestamp() * 1000)
    assert kst_today(at) == dt.date(2026, 12, 1)
    assert kst_today(at - 1) == dt.date(2026, 11, 30)


def test_an_open_program_says_only_that_it_can_be_gifted() -> None:
    assert rules(OPEN) == (Rule("transferable", allowed=True),)


def test_a_restricted_program_lists_each_restriction_in_reading_order() -> None:
    assert rules(YOUTH) == (
        Rule("areas", ("gurae", "tongjin")),
        Rule("only_categories", ("bakery", "cafe")),
        Rule("not_categories", ("department_store",), allowed=False),
        Rule("revenue_cap", amount=3_000_000_000),
        Rule("transferable", allowed=False),
    )


def test_a_card_adds_its_lots_and_shows_the_soonest_expiry_and_that_more_follow() -> None:
    lots = [lot("youth", 30_000, "2027-06-30", 1), lot("youth", 20_000, "2027-03-31", 2)]
    found = card("youth", lots, YOUTH, TODAY)
    assert (found.name, found.amount, found.expires, found.later) == (
        "청년기본소득",
        50_000,
        "2027-03-31",
        True,
    )
    assert (found.expiring, found.expiring_by, found.expired) == (0, "", 0)


def test_lots_of_one_day_are_not_and_later() -> None:
    lots = [lot("general", 1, "2027-06-30", 1), lot("general", 2, "2027-06-30", 2)]
    assert card("general", lots, OPEN, TODAY).later is False


def test_money_expiring_within_30_days_is_counted_with_its_soonest_day() -> None:
    edge = (TODAY + dt.timedelta(days=EXPIRING_DAYS)).isoformat()
    beyond = (TODAY + dt.timedelta(days=EXPIRING_DAYS + 1)).isoformat()
    lots = [
        lot("general", 1_000, edge, 1),
        lot("general", 2_000, TODAY.isoformat(), 2),  # the last day is today: still spendable
        lot("general", 4_000, beyond, 3),
    ]
    found = card("general", lots, OPEN, TODAY)
    assert (found.expiring, found.expiring_by) == (3_000, TODAY.isoformat())
    assert (found.amount, found.expires, found.expired) == (7_000, TODAY.isoformat(), 0)


def test_money_past_its_last_day_is_expired_not_expiring() -> None:
    yesterday = (TODAY - dt.timedelta(days=1)).isoformat()
    lots = [lot("general", 500, yesterday, 1), lot("general", 700, "2030-01-01", 2)]
    found = card("general", lots, OPEN, TODAY)
    assert (found.expired, found.expiring, found.expires, found.later) == (
        500,
        0,
        "2030-01-01",
        False,
    )


def test_a_wallet_has_one_card_per_program_largest_first_and_one_warning_total() -> None:
    soon = (TODAY + dt.timedelta(days=10)).isoformat()
    later = (TODAY + dt.timedelta(days=20)).isoformat()
    view = wallet(
        lot("general", 10_000, soon, 1),
        lot("youth", 50_000, later, 2),
        lot("general", 5_000, "2031-01-01", 3),
    )
    found = cards(view, {"general": OPEN, "youth": YOUTH}, TODAY)
    assert [(c.program, c.amount) for c in found] == [("youth", 50_000), ("general", 15_000)]
    assert expiring_total(found) == (60_000, soon)


def test_an_empty_wallet_has_no_cards_and_no_warning() -> None:
    assert cards(wallet(), {}, TODAY) == []
    assert expiring_total([]) == (0, "")


def test_a_program_without_a_policy_shows_its_id() -> None:
    found = card("old", [lot("old", 1, "2030-01-01")], None, TODAY)
    assert (found.name, found.rules) == ("old", ())
