"""Why a payment, a gift, a purchase or a grant cannot be made, in plain words.

One message per code the ledger (domain/codes.py) or the API (problem+json `code`) can
answer a citizen's command with, shared by the pay, gift and buy pages, their previews,
the history and the answer to a signed command (GET /c/{city}/wallet/why?code=...).
Message ids are English; the catalogs carry the Korean. A code not listed gets the
general words. A refusal that names a limit and the room it leaves (`Result.limit`,
`Result.room`: the sender's own receipt has them) is told with the numbers: `explain`.
"""

from __future__ import annotations

from typing import Final

from localpay.domain.codes import Code
from localpay.entrypoints.web import i18n
from localpay.entrypoints.web.i18n import N_

#: code -> plain words (a message id of the catalogs).
PLAIN: Final[dict[str, str]] = {
    # The ledger's answers to a payment or a gift, in the ledger's precedence order.
    Code.ACCOUNT_NOT_FOUND: N_("There is no such shop or wallet."),
    Code.SIGNER_NOT_AUTHORIZED: N_("This device's key is not this wallet's key."),
    Code.UNKNOWN_SIGNER: N_("This device's key is not this wallet's key."),
    Code.INVALID_AMOUNT: N_("Enter a whole number of won, more than 0."),
    Code.SAME_ACCOUNT: N_("You cannot send a gift to your own wallet."),
    Code.EVIDENCE_MISSING: N_("A card wallet pays with its card at the shop, not on this page."),
    Code.MERCHANT_NOT_ACTIVE: N_("This shop cannot take payments now (not approved or suspended)."),
    Code.PROGRAM_EXPIRED: N_("This money has expired and can no longer be used."),
    Code.CATEGORY_DENIED: N_("This money cannot be used at this kind of shop."),
    Code.AREA_DENIED: N_("This money can only be used in other neighbourhoods."),
    Code.REVENUE_CAP_EXCEEDED: N_(
        "This shop's yearly sales are above the limit for this money (large businesses)."
    ),
    Code.NOT_TRANSFERABLE: N_("This money cannot be given to another wallet."),
    Code.PER_PAYMENT_LIMIT_EXCEEDED: N_("This is more than this money allows in one payment."),
    Code.DAILY_LIMIT_EXCEEDED: N_("This is more than this money allows in one day."),
    Code.MONTHLY_LIMIT_EXCEEDED: N_("This is more than this money allows in one month."),
    Code.HOLDING_LIMIT_EXCEEDED: N_("The other wallet would hold more of this money than allowed."),
    Code.LOT_LIMIT_EXCEEDED: N_("The other wallet cannot take more separate gifts now."),
    Code.INSUFFICIENT_FUNDS: N_("There is not enough money usable here."),
    Code.CONDITION_NOT_MET: N_(
        "This money's rules do not allow this payment now (day, hour or age)."
    ),
    # Purchases (구매/충전), their cancellation and refund, cashback.
    Code.PROGRAM_NOT_FOUND: N_("There is no such program."),
    Code.NOT_FOR_SALE: N_("This money is not for sale."),
    Code.PURCHASE_LIMIT_EXCEEDED: N_("This is over this month's purchase limit."),
    Code.SALE_BUDGET_EXHAUSTED: N_("This sale's budget has run out."),
    Code.PURCHASE_NOT_FOUND: N_("There is no such purchase in this wallet."),
    Code.PURCHASE_CLOSED: N_("This purchase is already settled (paid, cancelled or expired)."),
    Code.DEPOSIT_MISMATCH: N_("The deposit does not match the order's amount."),
    Code.DEPOSIT_REF_USED: N_("This deposit was already booked."),
    Code.CANCEL_WINDOW_CLOSED: N_("The days for cancelling this purchase are over."),
    Code.PURCHASE_USED: N_("Part of this purchase was used, so it cannot be cancelled."),
    Code.REFUND_THRESHOLD_NOT_MET: N_(
        "The rest is refunded in won only once most of the purchase is used (usually 60 percent)."
    ),
    Code.CASHBACK_NOT_DUE: N_("No cashback is due for this month."),
    # Policy money and batches (officials and the operator).
    Code.GRANT_LIMIT_EXCEEDED: N_("This is more than one person may receive in this period."),
    Code.RESERVED_ORIGIN: N_("This source is kept for purchases and their discounts."),
    Code.BATCH_EXISTS: N_("A batch with this name was already approved."),
    Code.BATCH_NOT_FOUND: N_("There is no such approved batch."),
    Code.ROW_NOT_IN_BATCH: N_("This row is not in the approved batch as approved."),
    Code.ROW_ALREADY_PAID: N_("This row was already paid."),
    Code.MERCHANT_BARRED: N_("This shop is barred for a year after cash-out fraud."),
    Code.NOTHING_TO_EXPIRE: N_("Nothing has expired in this wallet."),
    # Cards, checkouts and one-time codes.
    Code.CARD_NOT_BOUND: N_("This card is not linked to this wallet."),
    Code.CARD_LIMIT_EXCEEDED: N_("This wallet has as many cards as allowed. Remove one first."),
    # Settlement.
    Code.PAYOUT_ACCOUNT_MISSING: N_("This shop has no bank account for payouts yet."),
    Code.PAYOUT_ACCOUNT_MISMATCH: N_("This is not the shop's registered bank account."),
    Code.PAYOUT_NOT_FOUND: N_("There is no such payout."),
    Code.PAYOUT_CLOSED: N_("This payout was already settled or returned."),
    Code.HOLD_INVALID: N_("The payment could not be read. Reload the page and try again."),
    Code.HOLD_VOIDED: N_("This payment was cancelled by the terminal before it arrived."),
    Code.INTENT_USED: N_("This order was already paid."),
    Code.HOLD_NOT_FOUND: N_("There is no such payment waiting at this shop."),
    Code.HOLD_CLOSED: N_("This payment was already completed or cancelled."),
    Code.HOLD_EXPIRED: N_("This payment waited too long and has expired."),
    Code.HOLD_NOT_EXPIRED: N_("This payment has not expired yet."),
    Code.CAPTURE_EXCEEDS_HOLD: N_("This is more than the customer approved."),
    Code.REVERSAL_WINDOW_CLOSED: N_(
        "A card payment can be cancelled by the terminal for 24 hours only."
    ),
    Code.CODE_USED: N_("This code was already used. Ask for a new code."),
    Code.CODE_NOT_FOUND: N_("This code is not known. Ask the customer to show a new code."),
    Code.CODE_EXPIRED: N_("This code expired after 3 minutes. Ask for a new code."),
    Code.CODE_CAP_EXCEEDED: N_("This is more than the customer allowed for this code."),
    # Refused before the chain: nothing was recorded.
    Code.MALFORMED: N_("The payment could not be read. Reload the page and try again."),
    Code.NOT_CANONICAL: N_("The payment could not be read. Reload the page and try again."),
    Code.SIGNATURE_INVALID: N_("The signature did not check. Reload the page and try again."),
    Code.WRONG_CITY: N_("This payment is for another city."),
    Code.CITY_NOT_FOUND: N_("There is no such city."),
    Code.ID_REUSED: N_("This payment was already made. See your history."),
    # The API's own answers.
    "unavailable": N_("No answer yet. Try again: you will not pay twice."),
    "overloaded": N_("No answer yet. Try again: you will not pay twice."),
    "unauthenticated": N_("Sign in to your wallet again."),
    "idempotency_key_reused": N_("This payment was already made. See your history."),
}
GENERAL: Final = N_("This cannot be done now.")

#: Refusals told with their numbers: `room` and `limit` are filled in as won.
WITH_ROOM: Final[dict[str, str]] = {
    Code.PURCHASE_LIMIT_EXCEEDED: N_(
        "This is over this month's purchase limit (%(room)s left of %(limit)s)."
    ),
    Code.HOLDING_LIMIT_EXCEEDED: N_(
        "You would hold more of this money than allowed (%(room)s more fits, of %(limit)s)."
    ),
    Code.SALE_BUDGET_EXHAUSTED: N_("This sale's budget has run out (%(room)s left)."),
    Code.GRANT_LIMIT_EXCEEDED: N_(
        "This is more than one person may receive in this period (%(room)s left of %(limit)s)."
    ),
}


def plain(code: str) -> str:
    """The message id that explains `code` (a general one for codes we do not know)."""
    return PLAIN.get(code, GENERAL)


def explain(code: str, lang: str, limit: int | None = None, room: int | None = None) -> str:
    """The refusal in the page's language, with the room left under its limit when the
    receipt gave both (a purchase over the month's limit says how much may still be bought)."""
    catalog = i18n.translations(lang)
    if code in WITH_ROOM and limit is not None and room is not None:
        words = catalog.gettext(WITH_ROOM[code])
        return words % {"room": i18n.won(room, lang), "limit": i18n.won(limit, lang)}
    return catalog.gettext(plain(code))
