"""Result codes: their order is the protocol's precedence, so it is pinned here."""

from __future__ import annotations

from localpay.domain.codes import REASONS, Code

PRECEDENCE = [
    "malformed",
    "not_canonical",
    "wrong_city",
    "city_not_found",
    "signature_invalid",
    "id_reused",
    "operator_key_unavailable",
    "unknown_signer",
    "ok",
    "city_exists",
    "operator_signature_missing",
    "signer_not_authorized",
    "approvals_missing",
    "account_not_found",
    "account_exists",
    "program_not_found",
    "payment_not_found",
    "refund_window_closed",
    "invalid_amount",
    "invalid_policy",
    "operator_key_mismatch",
    "invalid_operator_key",
    "same_account",
    "evidence_missing",
    "merchant_not_active",
    "merchant_status_unchanged",
    "program_expired",
    "category_denied",
    "area_denied",
    "revenue_cap_exceeded",
    "condition_not_met",
    "not_transferable",
    "per_payment_limit_exceeded",
    "daily_limit_exceeded",
    "monthly_limit_exceeded",
    "holding_limit_exceeded",
    "lot_limit_exceeded",
    "refund_exceeds_payment",
    "insufficient_funds",
    "nothing_to_expire",
    "reserved_origin",
    "merchant_barred",
    "not_for_sale",
    "purchase_limit_exceeded",
    "sale_budget_exhausted",
    "grant_limit_exceeded",
    "purchase_not_found",
    "purchase_closed",
    "deposit_mismatch",
    "deposit_ref_used",
    "cancel_window_closed",
    "purchase_used",
    "refund_threshold_not_met",
    "cashback_not_due",
    "batch_exists",
    "batch_not_found",
    "row_not_in_batch",
    "row_already_paid",
    "card_not_bound",
    "hold_invalid",
    "hold_voided",
    "intent_used",
    "hold_not_found",
    "hold_closed",
    "hold_expired",
    "hold_not_expired",
    "capture_exceeds_hold",
    "reversal_window_closed",
    "code_used",
    "code_not_found",
    "code_expired",
    "code_cap_exceeded",
    "card_limit_exceeded",
    "payout_account_missing",
    "payout_account_mismatch",
    "payout_not_found",
    "payout_closed",
]

PRE_SEQUENCING = {
    "malformed",
    "not_canonical",
    "wrong_city",
    "city_not_found",
    "signature_invalid",
    "id_reused",
    "operator_key_unavailable",
    "unknown_signer",
}


def test_the_enumeration_order_is_the_documented_precedence() -> None:
    assert [code.value for code in Code] == PRECEDENCE


def test_precedence_is_the_position_in_the_enumeration() -> None:
    assert [code.precedence for code in Code] == list(range(len(PRECEDENCE)))
    assert Code.CATEGORY_DENIED.precedence < Code.AREA_DENIED.precedence


def test_only_the_codes_before_ok_are_not_recorded() -> None:
    assert {code.value for code in Code if not code.recorded} == PRE_SEQUENCING


def test_ok_and_every_ledger_rejection_are_recorded() -> None:
    assert Code.OK.recorded
    assert Code.NOTHING_TO_EXPIRE.recorded


def test_every_code_has_a_non_empty_reason() -> None:
    assert set(REASONS) == set(Code)
    assert all(reason.strip() for reason in REASONS.values())


def test_codes_are_strings_equal_to_their_wire_value() -> None:
    assert Code.INSUFFICIENT_FUNDS == "insufficient_funds"
    assert Code("ok") is Code.OK
