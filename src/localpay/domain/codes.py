"""Result codes: one enumeration, in precedence order.

When a command has several faults, the one listed first is reported, so the same
command always gets the same answer (TigerBeetle's rule). Never reorder members:
the order is part of the protocol; add new codes where they belong and document them.
"""

from __future__ import annotations

import enum


class Code(enum.StrEnum):
    # Rejected before sequencing: never on the chain, the id stays unused.
    MALFORMED = "malformed"
    NOT_CANONICAL = "not_canonical"
    WRONG_CITY = "wrong_city"
    CITY_NOT_FOUND = "city_not_found"
    SIGNATURE_INVALID = "signature_invalid"
    # The id is spent by a different command: no receipt, no data (the id is bound to
    # the exact envelope it was first recorded with).
    ID_REUSED = "id_reused"
    # A rotation to an operator key this server cannot sign with: recording it would
    # leave the chain with no one able to seal its next block. Put the key in place first.
    OPERATOR_KEY_UNAVAILABLE = "operator_key_unavailable"
    # Refused by the ledger, but no key the chain knows for this command signed it
    # (a stranger's key): anyone could send such junk, so it never takes chain space.
    UNKNOWN_SIGNER = "unknown_signer"
    # Recorded on the chain with the command: the id is spent.
    OK = "ok"
    CITY_EXISTS = "city_exists"
    OPERATOR_SIGNATURE_MISSING = "operator_signature_missing"
    SIGNER_NOT_AUTHORIZED = "signer_not_authorized"
    APPROVALS_MISSING = "approvals_missing"
    ACCOUNT_NOT_FOUND = "account_not_found"
    ACCOUNT_EXISTS = "account_exists"
    PROGRAM_NOT_FOUND = "program_not_found"
    PAYMENT_NOT_FOUND = "payment_not_found"
    REFUND_WINDOW_CLOSED = "refund_window_closed"
    INVALID_AMOUNT = "invalid_amount"
    INVALID_POLICY = "invalid_policy"
    OPERATOR_KEY_MISMATCH = "operator_key_mismatch"
    INVALID_OPERATOR_KEY = "invalid_operator_key"
    SAME_ACCOUNT = "same_account"
    EVIDENCE_MISSING = "evidence_missing"
    MERCHANT_NOT_ACTIVE = "merchant_not_active"
    MERCHANT_STATUS_UNCHANGED = "merchant_status_unchanged"
    PROGRAM_EXPIRED = "program_expired"
    CATEGORY_DENIED = "category_denied"
    AREA_DENIED = "area_denied"
    REVENUE_CAP_EXCEEDED = "revenue_cap_exceeded"
    CONDITION_NOT_MET = "condition_not_met"
    NOT_TRANSFERABLE = "not_transferable"
    PER_PAYMENT_LIMIT_EXCEEDED = "per_payment_limit_exceeded"
    DAILY_LIMIT_EXCEEDED = "daily_limit_exceeded"
    MONTHLY_LIMIT_EXCEEDED = "monthly_limit_exceeded"
    HOLDING_LIMIT_EXCEEDED = "holding_limit_exceeded"
    LOT_LIMIT_EXCEEDED = "lot_limit_exceeded"
    REFUND_EXCEEDS_PAYMENT = "refund_exceeds_payment"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    NOTHING_TO_EXPIRE = "nothing_to_expire"
    RESERVED_ORIGIN = "reserved_origin"
    MERCHANT_BARRED = "merchant_barred"
    NOT_FOR_SALE = "not_for_sale"
    PURCHASE_LIMIT_EXCEEDED = "purchase_limit_exceeded"
    SALE_BUDGET_EXHAUSTED = "sale_budget_exhausted"
    GRANT_LIMIT_EXCEEDED = "grant_limit_exceeded"
    PURCHASE_NOT_FOUND = "purchase_not_found"
    PURCHASE_CLOSED = "purchase_closed"
    DEPOSIT_MISMATCH = "deposit_mismatch"
    DEPOSIT_REF_USED = "deposit_ref_used"
    CANCEL_WINDOW_CLOSED = "cancel_window_closed"
    PURCHASE_USED = "purchase_used"
    REFUND_THRESHOLD_NOT_MET = "refund_threshold_not_met"
    CASHBACK_NOT_DUE = "cashback_not_due"
    BATCH_EXISTS = "batch_exists"
    BATCH_NOT_FOUND = "batch_not_found"
    ROW_NOT_IN_BATCH = "row_not_in_batch"
    ROW_ALREADY_PAID = "row_already_paid"
    CARD_NOT_BOUND = "card_not_bound"
    HOLD_INVALID = "hold_invalid"
    HOLD_VOIDED = "hold_voided"
    INTENT_USED = "intent_used"
    HOLD_NOT_FOUND = "hold_not_found"
    HOLD_CLOSED = "hold_closed"
    HOLD_EXPIRED = "hold_expired"
    HOLD_NOT_EXPIRED = "hold_not_expired"
    CAPTURE_EXCEEDS_HOLD = "capture_exceeds_hold"
    REVERSAL_WINDOW_CLOSED = "reversal_window_closed"
    CODE_USED = "code_used"
    CODE_NOT_FOUND = "code_not_found"
    CODE_EXPIRED = "code_expired"
    CODE_CAP_EXCEEDED = "code_cap_exceeded"
    CARD_LIMIT_EXCEEDED = "card_limit_exceeded"
    # Settlement (ledger/settlement.py).
    PAYOUT_ACCOUNT_MISSING = "payout_account_missing"
    PAYOUT_ACCOUNT_MISMATCH = "payout_account_mismatch"
    PAYOUT_NOT_FOUND = "payout_not_found"
    PAYOUT_CLOSED = "payout_closed"

    @property
    def recorded(self) -> bool:
        """True when a command with this result is written to the chain."""
        return _PRECEDENCE[self] >= _PRECEDENCE[Code.OK]

    @property
    def precedence(self) -> int:
        return _PRECEDENCE[self]


_PRECEDENCE: dict[Code, int] = {code: rank for rank, code in enumerate(Code)}

REASONS: dict[Code, str] = {
    Code.MALFORMED: "the command is not a well-formed localpay command",
    Code.NOT_CANONICAL: "the command body is not in canonical encoding",
    Code.WRONG_CITY: "the command names another city",
    Code.CITY_NOT_FOUND: "the city has no genesis yet: only its creation can come first",
    Code.SIGNATURE_INVALID: "a signature does not verify",
    Code.ID_REUSED: "this command id was already used by a different command",
    Code.OPERATOR_KEY_UNAVAILABLE: "the server holds no private key for the new operator key",
    Code.UNKNOWN_SIGNER: "refused, and signed by no key this city knows for this command",
    Code.OK: "applied",
    Code.CITY_EXISTS: "the city already has a genesis",
    Code.OPERATOR_SIGNATURE_MISSING: "the city's current operator key did not sign",
    Code.SIGNER_NOT_AUTHORIZED: "no signature from a key allowed to do this",
    Code.APPROVALS_MISSING: "fewer distinct officials signed than this action requires",
    Code.ACCOUNT_NOT_FOUND: "an account named by the command does not exist",
    Code.ACCOUNT_EXISTS: "an account with this id already exists",
    Code.PROGRAM_NOT_FOUND: "the program does not exist",
    Code.PAYMENT_NOT_FOUND: "the payment to refund does not exist at this merchant",
    Code.REFUND_WINDOW_CLOSED: "the payment is older than the city's refund window",
    Code.INVALID_AMOUNT: "the amount must be a whole number of won between 1 and the limit",
    Code.INVALID_POLICY: "the program policy is inconsistent",
    Code.OPERATOR_KEY_MISMATCH: "the old key named is not the city's current operator key",
    Code.INVALID_OPERATOR_KEY: (
        "the new operator key is not a valid Ed25519 key, or was the city's operator key before"
    ),
    Code.SAME_ACCOUNT: "source and destination are the same account",
    Code.EVIDENCE_MISSING: "a card (custodial) wallet's payment or gift needs its authorization",
    Code.MERCHANT_NOT_ACTIVE: "the merchant is not approved or is suspended",
    Code.MERCHANT_STATUS_UNCHANGED: "the merchant already has that status",
    Code.PROGRAM_EXPIRED: "the program's money is no longer valid",
    Code.CATEGORY_DENIED: "the program does not allow this merchant's category",
    Code.AREA_DENIED: "the program does not allow this merchant's area",
    Code.REVENUE_CAP_EXCEEDED: "the merchant's annual revenue is above the program's cap",
    Code.NOT_TRANSFERABLE: "not enough transferable money",
    Code.PER_PAYMENT_LIMIT_EXCEEDED: "above the program's limit for one payment",
    Code.DAILY_LIMIT_EXCEEDED: "above the program's daily limit",
    Code.MONTHLY_LIMIT_EXCEEDED: "above the program's monthly limit",
    Code.HOLDING_LIMIT_EXCEEDED: "the wallet would hold more of this program than allowed",
    Code.LOT_LIMIT_EXCEEDED: "the wallet holds as many separate lots of money as allowed",
    Code.REFUND_EXCEEDS_PAYMENT: "the refund is larger than what remains of the payment",
    Code.INSUFFICIENT_FUNDS: "not enough usable balance",
    Code.NOTHING_TO_EXPIRE: "the wallet has no expired money",
    Code.CONDITION_NOT_MET: "the program's condition does not allow this payment",
    Code.RESERVED_ORIGIN: "origins starting 'sale:' or 'bonus:' belong to purchases",
    Code.MERCHANT_BARRED: "the merchant is barred for a year after cash-out fraud",
    Code.NOT_FOR_SALE: "the program is not sold: it has no sale rules",
    Code.PURCHASE_LIMIT_EXCEEDED: "above the sale's monthly purchase limit",
    Code.SALE_BUDGET_EXHAUSTED: "the sale's discount budget is used up and the sale stopped",
    Code.GRANT_LIMIT_EXCEEDED: "the person already received the program's amount this period",
    Code.PURCHASE_NOT_FOUND: "no such purchase of this wallet",
    Code.PURCHASE_CLOSED: "the purchase is already paid, cancelled or refunded",
    Code.DEPOSIT_MISMATCH: "the deposit's amount is not the order's",
    Code.DEPOSIT_REF_USED: "this deposit was already booked for another purchase",
    Code.CANCEL_WINDOW_CLOSED: "the purchase is older than the sale's cancellation days",
    Code.PURCHASE_USED: "part of the purchase was spent: ask for a balance refund instead",
    Code.REFUND_THRESHOLD_NOT_MET: "not enough of the purchase was used for a balance refund",
    Code.BATCH_EXISTS: "a batch with this id was already approved",
    Code.BATCH_NOT_FOUND: "no approved batch with this id",
    Code.ROW_NOT_IN_BATCH: "the row is not the approved batch's: its proof does not verify",
    Code.ROW_ALREADY_PAID: "this row of the batch was already paid",
    Code.CASHBACK_NOT_DUE: "no cashback is due for this month (not over, paid, or nothing spent)",
    Code.CARD_NOT_BOUND: "the card is not bound to this wallet, or was unbound",
    Code.HOLD_INVALID: (
        "a hold names either a card with its terminal, STAN and RRN, or a checkout intent"
        " with its order"
    ),
    Code.HOLD_VOIDED: "this hold was reversed before it arrived: it is void",
    Code.INTENT_USED: "this checkout intent was already approved",
    Code.HOLD_NOT_FOUND: "no such hold of this wallet at this merchant",
    Code.HOLD_CLOSED: "the hold was already captured, released or reversed",
    Code.HOLD_EXPIRED: "the hold expired: it can only be released",
    Code.HOLD_NOT_EXPIRED: "the hold has not expired: only its merchant or card may release it",
    Code.CAPTURE_EXCEEDS_HOLD: "the capture is larger than the amount held",
    Code.REVERSAL_WINDOW_CLOSED: "a captured card payment can be reversed for 24 hours only",
    Code.CODE_USED: "this one-time code was already presented or captured",
    Code.CODE_NOT_FOUND: "no such one-time code of this wallet",
    Code.CODE_EXPIRED: "the one-time code expired",
    Code.CODE_CAP_EXCEEDED: "the amount is above the cap the wallet set for this code",
    Code.CARD_LIMIT_EXCEEDED: "the wallet has as many cards bound as allowed: unbind one first",
    Code.PAYOUT_ACCOUNT_MISSING: "the merchant has registered no payout account yet",
    Code.PAYOUT_ACCOUNT_MISMATCH: "the payout names an account other than the registered one",
    Code.PAYOUT_NOT_FOUND: "no pending or past payout has this id and owner",
    Code.PAYOUT_CLOSED: "the payout was settled or returned already",
}
