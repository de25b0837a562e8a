"""The deposit notice's authentication, and the rooms the buy page shows, at their edges."""

from __future__ import annotations

import pytest

from localpay.domain.calendar import month_key
from localpay.domain.policy import default_sale
from localpay.ledger.state import Lot, Program, Wallet, Window
from localpay.services.sales import notices
from localpay.services.sales.ports import DepositNotice
from localpay.services.sales.rooms import UNLIMITED, sale_room
from localpay.testing.builders import policy

SECRET = b"s" * 32
NOW = 1_780_000_000_000


def _body() -> bytes:
    return notices.encoded(DepositNotice("n-1", "7990-0000-0000-01", 100_000, "ref-1", NOW))


def test_a_signed_notice_verifies_and_parses() -> None:
    body = _body()
    found = notices.verified(SECRET, body, notices.signature(SECRET, body))
    assert (found.notice, found.amount, found.deposit_ref) == ("n-1", 100_000, "ref-1")


@pytest.mark.parametrize("change", ["one byte", "another secret", "no header", "no secret"])
def test_any_change_refuses_the_notice(change: str) -> None:
    body = _body()
    header: str | None = notices.signature(SECRET, body)
    secret = SECRET
    if change == "one byte":
        body = body.replace(b"100000", b"900000")
    elif change == "another secret":
        header = notices.signature(b"t" * 32, body)
    elif change == "no header":
        header = None
    else:
        secret = b""
    with pytest.raises(notices.BadNoticeSignature):
        notices.verified(secret, body, header)


def test_a_signed_body_that_is_no_notice_is_refused_as_such() -> None:
    body = b'{"notice":"n-1","amount":-5}'
    with pytest.raises(notices.BadNotice):
        notices.verified(SECRET, body, notices.signature(SECRET, body))


def _program(**sale: object) -> Program:
    rules = policy("sale", sale=default_sale(**sale), holding_cap=1_500_000)
    return Program("general", [rules], budget=1_000_000, minted=1_000_000, credited=0, returned=0)


def _wallet(bought: int, discount: int, held: int, on_order: int = 0) -> Wallet:
    month = month_key(NOW)
    return Wallet(
        "w-1",
        [],
        False,
        [Lot("l1", "general", 1, held, NOW + 10**10, "sale:x", NOW)] if held else [],
        {
            "buy:general": Window(0, 0, month, bought),
            "bonus:general": Window(0, 0, month, discount),
        },
        on_order=on_order,
        on_order_by={"general": on_order} if on_order else {},
    )


def test_the_rooms_at_the_limits_edge() -> None:
    room = sale_room(_program(), _wallet(700_000, 70_000, 1_400_000, 100_000), NOW)
    assert room is not None
    assert (room.monthly_room, room.discount_room, room.holding_room) == (0, 0, 0)
    assert room.discount_for(100_000, budget=1_000_000) == 0  # the month's discount is used up


def test_last_months_purchases_do_not_count_this_month() -> None:
    wallet = _wallet(700_000, 70_000, 0)
    wallet.windows["buy:general"] = Window(0, 0, month_key(NOW) - 1, 700_000)
    room = sale_room(_program(), wallet, NOW)
    assert room is not None and room.monthly_room == 700_000


def test_no_limit_is_shown_as_such_and_the_budget_caps_the_discount() -> None:
    room = sale_room(_program(monthly_limit=0, bonus_monthly_cap=0), None, NOW)
    assert room is not None
    assert (room.monthly_room, room.discount_room) == (UNLIMITED, UNLIMITED)
    assert room.discount_for(100_000, budget=4_000) == 4_000
