"""The ledger-to-ISO table names only real ledger codes and real response codes, and the
approval code is stable per hold."""

from __future__ import annotations

from localpay.domain.codes import Code
from localpay.services.payments.card import authorize
from localpay.services.payments.card import messages as m

ISO = {v for k, v in vars(m).items() if k.isupper() and isinstance(v, str) and len(v) == 2}


def test_every_mapped_code_is_a_ledger_code_and_an_iso_code() -> None:
    assert set(authorize.LEDGER_TO_ISO) <= {code.value for code in Code}
    assert set(authorize.LEDGER_TO_ISO.values()) <= ISO
    assert set(authorize.LEDGER_TO_ISO) >= authorize.RELEASED_ALREADY


def test_the_brief_codes() -> None:
    table = authorize.LEDGER_TO_ISO
    assert table["insufficient_funds"] == "51" and table["card_not_bound"] == "14"
    assert table["merchant_not_active"] == "58" and table["id_reused"] == "94"
    for code in ("category_denied", "area_denied", "condition_not_met", "program_expired",
                 "revenue_cap_exceeded"):  # fmt: skip
        assert table[code] == "57"
    for code in ("per_payment_limit_exceeded", "daily_limit_exceeded", "monthly_limit_exceeded"):
        assert table[code] == "61"


def test_approval_codes_and_hold_ids_are_derived() -> None:
    hold = authorize.hold_id("gimpo", "TSHOP001", "000000000001")
    assert hold == authorize.hold_id("gimpo", "TSHOP001", "000000000001")
    assert hold != authorize.hold_id("gimpo", "TSHOP002", "000000000001")
    assert hold != authorize.hold_id("yangju", "TSHOP001", "000000000001")
    code = authorize.approval_code(hold)
    assert len(code) == 6 and code == code.upper() and hold.upper().startswith(code)
