"""Every kind of wallet line (services/wallets/activity.py) has its own words on the
history and receipt pages, Korean first; a purchase's line says its discount, a line
leaving won owed back says how much goes to the bank account."""

from __future__ import annotations

import pytest

from localpay.entrypoints.web.render import ENV
from localpay.services.wallets import activity

KINDS = [
    getattr(activity, name)
    for name in dir(activity)
    if name.isupper() and isinstance(getattr(activity, name), str) and name != "OTHER"
]


def _word(kind: str, lang: str) -> str:
    macros = ENV.get_template("wallet/history_kind.html").make_module({"lang": lang})
    return str(macros.kind_word(kind)).strip()


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_has_its_own_korean_word(kind: str) -> None:
    other = _word("other", "ko")
    assert _word(kind, "ko") != other, f"{kind} is worded as 'other'"
    assert _word(kind, "ko") != _word(kind, "en"), f"{kind} has no Korean word"


def test_a_purchase_line_says_its_discount_and_a_refund_the_won_owed() -> None:
    macros = ENV.get_template("wallet/history_kind.html").make_module({"lang": "ko"})
    bought = activity.Line("t", 1, activity.BOUGHT, "general", 110_000, 110_000, 0, "ok", 10_000)
    assert "할인 10,000원 포함" in str(macros.sale_notes(bought))
    owed = activity.Line("t", 2, activity.CANCELLED, "general", 1, -1, 0, "ok", 0, 100_000)
    assert "100,000원 계좌로 환불 예정" in str(macros.sale_notes(owed))
