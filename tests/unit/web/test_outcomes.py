"""Every refusal a citizen's command can get is told in plain words, Korean first, and a
refusal naming its limit says how much room is left."""

from __future__ import annotations

import pytest

from localpay.domain.codes import Code
from localpay.entrypoints.web import i18n
from localpay.entrypoints.web.outcomes import GENERAL, PLAIN, WITH_ROOM, explain, plain

#: The ledger's answers to the commands a citizen's pages send, issue 12's included.
CITIZEN_CODES = [
    Code.NOT_FOR_SALE,
    Code.PURCHASE_LIMIT_EXCEEDED,
    Code.HOLDING_LIMIT_EXCEEDED,
    Code.SALE_BUDGET_EXHAUSTED,
    Code.PROGRAM_EXPIRED,
    Code.LOT_LIMIT_EXCEEDED,
    Code.PURCHASE_NOT_FOUND,
    Code.PURCHASE_CLOSED,
    Code.CANCEL_WINDOW_CLOSED,
    Code.PURCHASE_USED,
    Code.REFUND_THRESHOLD_NOT_MET,
    Code.CASHBACK_NOT_DUE,
    Code.GRANT_LIMIT_EXCEEDED,
    Code.CONDITION_NOT_MET,
    Code.DEPOSIT_MISMATCH,
    Code.DEPOSIT_REF_USED,
    Code.ROW_NOT_IN_BATCH,
    Code.ROW_ALREADY_PAID,
    Code.BATCH_NOT_FOUND,
    Code.BATCH_EXISTS,
    Code.RESERVED_ORIGIN,
    Code.MERCHANT_BARRED,
]


@pytest.mark.parametrize("code", CITIZEN_CODES)
def test_each_new_refusal_has_its_own_words_in_korean(code: Code) -> None:
    assert plain(code) != GENERAL, code
    korean = explain(code, "ko")
    assert korean != plain(code), f"{code}: no Korean translation"
    assert any("\uac00" <= ch <= "\ud7a3" for ch in korean)


def test_the_purchase_limit_says_the_room_left_in_won() -> None:
    words = explain(Code.PURCHASE_LIMIT_EXCEEDED, "ko", limit=700_000, room=50_000)
    assert words.startswith("이번 달 구매 한도를 넘습니다 (")
    assert "50,000원" in words and "700,000원" in words
    english = explain(Code.PURCHASE_LIMIT_EXCEEDED, "en", limit=700_000, room=0)
    assert english == "This is over this month's purchase limit (₩0 left of ₩700,000)."


def test_without_numbers_the_plain_words_are_used() -> None:
    assert explain(Code.GRANT_LIMIT_EXCEEDED, "ko") == i18n.translations("ko").gettext(
        PLAIN[Code.GRANT_LIMIT_EXCEEDED]
    )


@pytest.mark.parametrize("code", sorted(WITH_ROOM))
def test_every_message_with_room_fills_both_numbers(code: str) -> None:
    for lang in i18n.LANGUAGES:
        words = explain(code, lang, limit=123_456, room=7_890)
        assert "%(" not in words
        assert ("7,890" in words) and (code == Code.SALE_BUDGET_EXHAUSTED or "123,456" in words)
